import Testing
import TrellisCore

private func address(_ text: String) throws -> IPAddress {
    try #require(IPAddress(text), "\(text) should parse")
}

private func policy(_ rules: String...) throws -> EgressPolicy {
    try EgressPolicy(rules: rules)
}

@Suite("IPAddress")
struct IPAddressTests {
    @Test("dotted quads parse strictly: four parts, 0-255, no leading zeros")
    func ipv4Parsing() throws {
        #expect(try address("10.0.0.1").bytes == [10, 0, 0, 1])
        #expect(try address("255.255.255.255").bytes == [255, 255, 255, 255])
        #expect(try address("0.0.0.0").isIPv4)
        let bads = ["300.1.1.1", "256.0.0.0", "1.2.3", "1.2.3.4.5", "010.0.0.1", "1..2.3", "1.2.3.4.", " 1.2.3.4", "0x7f.0.0.1", "2130706433", ""]
        for bad in bads {
            #expect(IPAddress(bad) == nil, "\(bad) must not parse")
        }
    }

    @Test("IPv6 text parses with ::, hex groups and a dotted-quad tail, and prints in RFC 5952 form")
    func ipv6Parsing() throws {
        #expect(try address("::1").description == "::1")
        #expect(try address("::").description == "::")
        #expect(try address("FD00:0:0:0:0:0:0:1").description == "fd00::1")
        #expect(try address("2001:db8:0:0:1:0:0:1").description == "2001:db8::1:0:0:1", "the first of equal zero runs is compressed")
        #expect(try address("2001:db8:0:1:1:1:1:1").description == "2001:db8:0:1:1:1:1:1", "a single zero group is not compressed")
        #expect(try address("1:2:3:4:5:6:7::").description == "1:2:3:4:5:6:7:0")
        #expect(try address("::10.0.0.1").description == "::a00:1", "IPv4-compatible is plain IPv6")
        #expect(try address("fe80::1").bytes == [0xFE, 0x80] + Array(repeating: 0, count: 13) + [1])
        let bads = [
            "1:2:3:4:5:6:7:8:9", "1::2::3", ":1::2", "1:::2", "12345::", "fe80::1%eth0", "[::1]", "::1/128", "g::1", "1:2:3:4:5:6:7", "1.2.3.4::",
        ]
        for bad in bads {
            #expect(IPAddress(bad) == nil, "\(bad) must not parse")
        }
    }

    @Test("an IPv4-mapped IPv6 address is the IPv4 address it carries")
    func mapped() throws {
        let mapped = try address("::ffff:10.0.0.1")
        #expect(mapped == (try address("10.0.0.1")))
        #expect(mapped == (try address("::FFFF:a00:1")))
        #expect(mapped.isIPv4)
        #expect(mapped.description == "10.0.0.1")
        #expect(mapped.bytes == [10, 0, 0, 1])
        #expect(!(try address("::a00:1")).isIPv4)
    }

    @Test("from bytes: 4 for IPv4, 16 for IPv6, nothing else")
    func fromBytes() throws {
        #expect(IPAddress(bytes: [192, 168, 1, 5]) == (try address("192.168.1.5")))
        #expect(IPAddress(bytes: Array(repeating: 0, count: 15) + [1]) == (try address("::1")))
        #expect(IPAddress(bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 127, 0, 0, 1]) == (try address("127.0.0.1")))
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
        #expect(IPAddress(ipv4: 0x0A00_0001) == (try address("10.0.0.1")))
    }
}

@Suite("EgressPolicy")
struct EgressPolicyTests {
    @Test("private: RFC 1918 blocks end exactly at their boundaries")
    func privateIPv4Boundaries() throws {
        let p = try EgressPolicy(rules: EgressPolicy.privateDefault)
        let inside = [
            "10.0.0.0", "10.255.255.255", "172.16.0.0", "172.16.5.4", "172.31.255.255", "192.168.0.0", "192.168.255.255", "127.0.0.1",
            "127.255.255.254",
        ]
        let outside = ["9.255.255.255", "11.0.0.0", "172.15.255.255", "172.32.0.0", "192.167.255.255", "192.169.0.0", "128.0.0.1"]
        for text in inside { #expect(p.allows(try address(text)), "\(text) is private") }
        for text in outside { #expect(!p.allows(try address(text)), "\(text) is not private") }
    }

    @Test("private: IPv6 unique local fc00::/7 and ::1 in; link-local, other ::x and global out")
    func privateIPv6() throws {
        let p = try policy("private")
        for text in ["::1", "fc00::", "fd00::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"] {
            #expect(p.allows(try address(text)), "\(text) is private")
        }
        for text in ["::2", "::", "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe00::", "fe80::1", "2001:4860:4860::8888"] {
            #expect(!p.allows(try address(text)), "\(text) is not private")
        }
    }

    @Test("private leaves out the metadata address, link-local, CGNAT, unspecified and public addresses")
    func privateExclusions() throws {
        let p = try policy("private")
        for text in ["169.254.169.254", "169.254.0.1", "100.64.0.1", "0.0.0.0", "8.8.8.8", "1.1.1.1"] {
            #expect(!p.allows(try address(text)), "\(text) must not be private")
            #expect(p.allowsHost(text) == .denied, "\(text) as a host")
        }
        #expect(p.allowsHost("[fd00:ec2::254]") == .allowed, "ULA stays allowed")
        #expect(p.allowsHost("[fe80::a9fe:a9fe]") == .denied)
        // An operator who wants link-local says so.
        let withLinkLocal = try policy("private", "169.254.0.0/16")
        #expect(withLinkLocal.allowsHost("169.254.169.254") == .allowed)
    }

    @Test("loopback covers 127/8 and ::1 only")
    func loopback() throws {
        let p = try policy("loopback")
        #expect(p.allows(try address("127.0.0.1")))
        #expect(p.allows(try address("127.1.2.3")))
        #expect(p.allows(try address("::1")))
        #expect(p.allows(try address("::ffff:127.0.0.1")))
        #expect(!p.allows(try address("10.0.0.1")))
        #expect(!p.allows(try address("fd00::1")))
    }

    @Test("IPv4-mapped literals are checked as IPv4, in any spelling")
    func mappedLiterals() throws {
        let p = try policy("private")
        #expect(p.allowsHost("[::ffff:10.0.0.1]") == .allowed)
        #expect(p.allowsHost("[::ffff:7f00:1]") == .allowed)
        #expect(p.allowsHost("::ffff:192.168.1.1") == .allowed, "brackets are optional")
        #expect(p.allowsHost("[::ffff:8.8.8.8]") == .denied)
        #expect(p.allowsHost("[::ffff:169.254.169.254]") == .denied)
        // A mapped address in a rule is an IPv4 block.
        let mappedRule = try policy("::ffff:10.0.0.0/104")
        #expect(mappedRule.allows(try address("10.1.2.3")))
        #expect(!mappedRule.allows(try address("11.0.0.0")))
        #expect(!mappedRule.allows(try address("2001:db8::1")))
        // ::/80 spans ::ffff:0:0/96 numerically, but an IPv6 block never stands for IPv4 addresses.
        let shortBlock = try policy("::/80")
        #expect(!shortBlock.allows(try address("10.1.2.3")))
        #expect(shortBlock.allows(try address("::1")))
    }

    @Test("IPv6 blocks match IPv6 addresses only: ::/0 does not admit IPv4")
    func familiesStaySeparate() throws {
        let p = try policy("::/0")
        #expect(p.allows(try address("2001:db8::1")))
        #expect(!p.allows(try address("8.8.8.8")))
        #expect(!p.allows(try address("::ffff:8.8.8.8")))
        let v4 = try policy("0.0.0.0/0")
        #expect(v4.allows(try address("8.8.8.8")))
        #expect(!v4.allows(try address("2001:db8::1")))
    }

    @Test("CIDR rules of any prefix length, and single addresses as /32 and /128")
    func cidrRules() throws {
        let p = try policy("203.0.113.0/25", "192.0.2.7", "2001:db8:1::/48", "[2001:db8:9::9]")
        #expect(p.allows(try address("203.0.113.0")))
        #expect(p.allows(try address("203.0.113.127")))
        #expect(!p.allows(try address("203.0.113.128")))
        #expect(p.allows(try address("192.0.2.7")))
        #expect(!p.allows(try address("192.0.2.6")))
        #expect(!p.allows(try address("192.0.2.8")))
        #expect(p.allows(try address("2001:db8:1:ffff::1")))
        #expect(!p.allows(try address("2001:db8:2::1")))
        #expect(p.allows(try address("2001:db8:9::9")))
        #expect(!p.allows(try address("2001:db8:9::8")))
        let bits = try policy("10.0.0.0/9", "fd00::/65")
        #expect(bits.allows(try address("10.127.255.255")))
        #expect(!bits.allows(try address("10.128.0.0")))
        #expect(bits.allows(try address("fd00::7fff:ffff:ffff:ffff")))
        #expect(!bits.allows(try address("fd00::8000:0:0:0")))
    }

    @Test("a wildcard matches subdomains at any depth but not its apex or look-alikes")
    func wildcardDepthAndApex() throws {
        let p = try policy("*.corp.example")
        #expect(p.allowsHost("a.corp.example") == .allowed)
        #expect(p.allowsHost("x.y.z.corp.example") == .allowed)
        #expect(p.allowsHost("GPU-1.Corp.Example.") == .allowed, "case and a trailing dot do not matter")
        #expect(p.allowsHost("corp.example") == .denied, "the apex is not a subdomain")
        #expect(p.allowsHost("evilcorp.example") == .denied)
        #expect(p.allowsHost("corp.example.evil.test") == .denied)
        #expect(p.allowsHost("a.corp.example.org") == .denied)
        let withApex = try policy("*.corp.example", "corp.example")
        #expect(withApex.allowsHost("corp.example") == .allowed)
    }

    @Test("exact names match case-insensitively with or without a trailing dot, and nothing else")
    func exactNames() throws {
        let p = try policy("Models.Internal.", "ollama")
        #expect(p.allowsHost("models.internal") == .allowed)
        #expect(p.allowsHost("MODELS.INTERNAL.") == .allowed)
        #expect(p.allowsHost("ollama") == .allowed)
        #expect(p.allowsHost("a.models.internal") == .denied, "an exact name covers no subdomains")
        #expect(p.allowsHost("models.internal.evil") == .denied)
        #expect(p.allowsHost("internal") == .denied)
    }

    @Test("names no name rule lists need resolution when address rules exist, and are denied when none do")
    func needsResolution() throws {
        let p = try policy("private", "models.internal")
        #expect(p.allowsHost("localhost") == .needsResolution)
        #expect(p.allowsHost("gpu-box.lan") == .needsResolution)
        #expect(p.allowsHost("models.internal") == .allowed)
        let namesOnly = try policy("models.internal", "*.corp.example")
        #expect(namesOnly.allowsHost("gpu-box.lan") == .denied)
        #expect(!namesOnly.allowsAddresses([try address("10.0.0.1")], host: "gpu-box.lan"))
    }

    @Test("hosts that are not valid names or literals are denied, including ambiguous numeric forms")
    func invalidHosts() throws {
        let p = try policy("private", "*.corp.example")
        for host in [
            "", "0177.0.0.1", "2130706433", "127.1", "0x7f.0.0.1", "0x7f000001", "127.0.0.01", "[127.0.0.1]", "[::1", "fe80::1%eth0",
            "host:8080", "a..corp.example", "-a.corp.example", "a b.corp.example", "*.corp.example", "\u{212A}.corp.example",
        ] {
            #expect(p.allowsHost(host) == .denied, "\(host) must be denied")
            #expect(!p.allowsAddresses([try address("127.0.0.1")], host: host), "\(host) must be denied at dispatch")
        }
        #expect(p.allowsHost("[::1]") == .allowed)
        #expect(p.allowsHost("127.0.0.1.") == .allowed, "a dotted quad with a trailing dot is still the address")
    }

    @Test("a name allowed by a name rule passes wherever it resolves")
    func nameRuleIgnoresAddresses() throws {
        let p = try policy("private", "api.example.com", "*.corp.example")
        let public8 = try address("8.8.8.8")
        #expect(p.allowsAddresses([public8], host: "api.example.com"))
        #expect(p.allowsAddresses([public8], host: "gpu.corp.example"))
        #expect(p.allowsAddresses([], host: "API.example.com."))
    }

    @Test("a name allowed only by its addresses is refused when any resolved address is outside (DNS rebinding)")
    func rebindingRefused() throws {
        let p = try policy("private")
        let inside = try address("10.0.0.5")
        #expect(p.allowsAddresses([inside], host: "models.lan"))
        #expect(p.allowsAddresses([inside, try address("fd00::5")], host: "models.lan"))
        #expect(!p.allowsAddresses([try address("93.184.216.34")], host: "models.lan"), "re-pointed at a public address")
        #expect(!p.allowsAddresses([inside, try address("93.184.216.34")], host: "models.lan"), "one public address is enough to refuse")
        #expect(!p.allowsAddresses([try address("169.254.169.254")], host: "models.lan"), "re-pointed at the metadata service")
        #expect(!p.allowsAddresses([], host: "models.lan"), "no addresses, nothing to check against")
    }

    @Test("an IP-literal host must itself be allowed, and so must the addresses given with it")
    func literalAtDispatch() throws {
        let p = try policy("private")
        let inside = try address("10.0.0.5")
        #expect(p.allowsAddresses([inside], host: "10.0.0.5"))
        #expect(p.allowsAddresses([], host: "10.0.0.5"))
        #expect(!p.allowsAddresses([inside], host: "8.8.8.8"))
        #expect(!p.allowsAddresses([try address("8.8.8.8")], host: "10.0.0.5"))
    }

    @Test("any allows every host and address; an empty rule list allows nothing")
    func anyAndNothing() throws {
        let any = try policy("ANY")
        #expect(any.allowsAny)
        #expect(any.allowsHost("8.8.8.8") == .allowed)
        #expect(any.allowsHost("example.com") == .allowed)
        #expect(any.allowsAddresses([try address("169.254.169.254")], host: "example.com"))
        let none = try EgressPolicy(rules: [])
        #expect(!none.allowsAny)
        #expect(none.allowsHost("127.0.0.1") == .denied)
        #expect(none.allowsHost("localhost") == .denied)
        #expect(!none.allowsAddresses([try address("127.0.0.1")], host: "localhost"))
    }

    @Test("invalid rules throw an error naming the rule and the problem")
    func invalidRules() throws {
        let cases: [(String, String)] = [
            ("10.0.0.0/33", "prefix length must be a number from 0 to 32"),
            ("fd00::/129", "from 0 to 128"),
            ("10.0.0.0/", "prefix length"),
            ("10.0.0.0/-1", "prefix length"),
            ("10.0.0.0/8/8", "prefix length"),
            ("300.1.1.1", "not a valid IPv4 address"),
            ("300.1.1.1/8", "is not an IPv4 or IPv6 address"),
            ("010.0.0.0/8", "is not an IPv4 or IPv6 address"),
            ("1.2.3", "not a valid IPv4 address"),
            ("10.0.0.1/8", "did you mean 10.0.0.0/8?"),
            ("fd00::1/8", "did you mean fd00::/8?"),
            ("*.", "needs a domain"),
            ("*", "use 'any'"),
            ("a.*.example", "whole first label"),
            ("*.*.example", "not a valid domain name"),
            ("*.10", "not a valid domain name"),
            ("", "empty"),
            ("   ", "empty"),
            ("fe80::1%eth0", "not a valid IPv6 address"),
            ("host name", "not a CIDR"),
            ("bad_-.", "not a CIDR"),
            ("modèles.internal", "only ASCII"),
        ]
        for (rule, problem) in cases {
            do {
                _ = try EgressPolicy(rules: ["private", rule])
                Issue.record("'\(rule)' should be refused")
            } catch let error as EgressPolicy.RuleError {
                #expect(error.rule == rule.trimmingSpaces, "the error names the rule")
                #expect(error.problem.contains(problem), "\(rule): \(error.problem)")
                #expect(error.description.contains("'\(rule.trimmingSpaces)'"))
            }
        }
    }

    @Test("rules are trimmed and keywords are case-insensitive")
    func ruleSpelling() throws {
        let p = try policy("  Private ", "LOOPBACK", " 192.168.0.0/16\t")
        #expect(p.rules == ["Private", "LOOPBACK", "192.168.0.0/16"])
        #expect(p.allowsHost("192.168.3.4") == .allowed)
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
