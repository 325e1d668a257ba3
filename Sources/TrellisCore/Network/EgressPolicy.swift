// MARK: - Policy

/// Which upstream model servers the gateway may connect to, from a list of rules:
///
/// - a CIDR block (`10.0.0.0/8`, `fd00::/8`) or a single address (`192.168.1.5` is a /32, `::1` a /128;
///   an IPv6 address may be written in brackets). Bits set past the prefix (`10.0.0.1/8`) are an error.
///   IPv4 blocks match IPv4 addresses (IPv4-mapped IPv6 ones included) and IPv6 blocks IPv6 addresses;
///   a block written inside `::ffff:0:0/96` is an IPv4 block.
/// - an exact host name (`models.internal`), compared case-insensitively, trailing dot ignored.
/// - a wildcard `*.corp.example`: any subdomain at any depth (`a.corp.example`, `x.y.corp.example`) but not
///   `corp.example` itself; list that separately when it is wanted.
/// - `loopback`: 127.0.0.0/8 and ::1.
/// - `private`: loopback, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 and IPv6 unique local fc00::/7. Link-local
///   (169.254.0.0/16, fe80::/10) is deliberately left out, since it holds the cloud metadata service
///   (169.254.169.254); so are carrier-grade NAT 100.64.0.0/10 and the unspecified addresses 0.0.0.0 and ::
///   (which reach the local machine). Add any of them as explicit CIDR rules when they are needed.
/// - `any`: every host.
///
/// Host names are checked in two steps. `allowsHost` is the cheap check when an upstream URL is registered:
/// IP literals are decided at once, names listed by a name rule are allowed, and other names come back as
/// `.needsResolution`. `allowsAddresses` is the check at dispatch time against what the name resolved to.
///
/// A name matched by a name or wildcard rule is allowed wherever it resolves: the operator listed it
/// explicitly. A name allowed only through address rules must have every resolved address inside an
/// allowed block, so a name cannot be re-pointed (DNS rebinding) at a public or metadata address. The
/// HTTP client resolves again when it connects, so to close that window completely a caller connects to
/// the addresses it checked.
///
/// Hosts are ASCII (internationalized names in their `xn--` form). A host whose last label is a number but
/// which is not a plain dotted quad (`0177.0.0.1`, `2130706433`, `10.1`, `0x7f.1`) is refused: URL parsers
/// and resolvers read such forms as IPv4 addresses in ways that differ from one another.
public struct EgressPolicy: Sendable, Equatable {
    /// The outcome of `allowsHost`.
    public enum Decision: Sendable, Equatable {
        case allowed
        case denied
        /// A host name that no name rule lists: resolve it and decide with `allowsAddresses`.
        case needsResolution
    }

    /// A rule that could not be read; `description` names the rule and the problem.
    public struct RuleError: Error, Sendable, Equatable, CustomStringConvertible {
        public var rule: String
        public var problem: String

        public init(rule: String, problem: String) {
            self.rule = rule
            self.problem = problem
        }

        public var description: String { "invalid egress rule '\(rule.prefix(200))': \(problem)" }
    }

    /// The default rules: private and loopback addresses only.
    public static let privateDefault = ["private"]

    /// The rules as given (whitespace trimmed).
    public let rules: [String]
    /// True when an `any` rule is present.
    public let allowsAny: Bool
    let ranges: [AddressRange]
    let names: Set<String>
    /// The domains of wildcard rules, without the `*.`.
    let wildcardDomains: Set<String>

    static let loopbackRanges: [AddressRange] = [
        .ipv4(127, 0, 0, 0, prefix: 8),
        .ipv6(high: 0, low: 1, prefix: 128),
    ]

    static let privateRanges: [AddressRange] =
        loopbackRanges + [
            .ipv4(10, 0, 0, 0, prefix: 8),
            .ipv4(172, 16, 0, 0, prefix: 12),
            .ipv4(192, 168, 0, 0, prefix: 16),
            .ipv6(high: 0xFC00_0000_0000_0000, prefix: 7),
        ]

    /// Reads the rules. An empty list is valid and allows nothing.
    /// - Throws: `RuleError` for the first rule that is not a CIDR, address, host name, wildcard or keyword.
    public init(rules: [String]) throws {
        var ranges: [AddressRange] = []
        var names: Set<String> = []
        var wildcards: Set<String> = []
        var any = false
        var kept: [String] = []
        for raw in rules {
            let rule = Self.trimmed(raw)
            kept.append(rule)
            switch try Self.parseRule(rule) {
            case .any: any = true
            case .ranges(let r): ranges += r
            case .name(let n): names.insert(n)
            case .wildcard(let d): wildcards.insert(d)
            }
        }
        self.rules = kept
        self.allowsAny = any
        self.ranges = ranges
        self.names = names
        self.wildcardDomains = wildcards
    }

    /// The check for an upstream URL's host (an IP literal, possibly an IPv6 one in brackets, or a name).
    /// IP literals are decided against the address rules; names listed by a name or wildcard rule are
    /// allowed; other valid names need resolving (or are denied outright when there are no address rules);
    /// anything that is not a valid host is denied.
    public func allowsHost(_ host: String) -> Decision {
        if allowsAny { return host.isEmpty ? .denied : .allowed }
        switch Self.parseHost(host) {
        case nil:
            return .denied
        case .address(let address):
            return allows(address) ? .allowed : .denied
        case .name(let name):
            if matchesName(name) { return .allowed }
            return ranges.isEmpty ? .denied : .needsResolution
        }
    }

    /// The check at dispatch time, given what `host` resolved to. A host listed by a name or wildcard rule
    /// is allowed whatever its addresses; any other host needs at least one address, and every address
    /// must lie in an allowed block. An IP-literal host must itself be allowed as well.
    public func allowsAddresses(_ addresses: [IPAddress], host: String) -> Bool {
        if allowsAny { return !host.isEmpty }
        switch Self.parseHost(host) {
        case nil:
            return false
        case .address(let literal):
            return allows(literal) && addresses.allSatisfy(allows)
        case .name(let name):
            if matchesName(name) { return true }
            return !addresses.isEmpty && addresses.allSatisfy(allows)
        }
    }

    /// True when `address` lies in an allowed block (or an `any` rule is present).
    public func allows(_ address: IPAddress) -> Bool {
        allowsAny || ranges.contains { $0.contains(address) }
    }

    /// Exact names first, then each parent domain against the wildcards (so `*.b.c` matches `a.b.c` and
    /// `x.a.b.c`, never `b.c`).
    func matchesName(_ name: String) -> Bool {
        if names.contains(name) { return true }
        guard !wildcardDomains.isEmpty else { return false }
        var rest = Substring(name)
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            if wildcardDomains.contains(String(rest)) { return true }
        }
        return false
    }

    // MARK: Rules

    enum Rule {
        case any
        case ranges([AddressRange])
        case name(String)
        case wildcard(String)
    }

    static func parseRule(_ rule: String) throws -> Rule {
        func fail(_ problem: String) -> RuleError { RuleError(rule: rule, problem: problem) }
        guard !rule.isEmpty else { throw fail("the rule is empty") }
        guard let text = asciiLowercased(rule) else {
            throw fail("only ASCII is allowed (write internationalized names in their xn-- form)")
        }
        switch text {
        case "any": return .any
        case "private": return .ranges(privateRanges)
        case "loopback": return .ranges(loopbackRanges)
        default: break
        }

        if let slash = text.firstIndex(of: "/") {
            let addressText = String(text[..<slash])
            let prefixText = text[text.index(after: slash)...]
            guard let address = IPAddress(addressText) else { throw fail("'\(addressText)' is not an IPv4 or IPv6 address") }
            let writtenAsIPv6 = addressText.contains(":")
            let maximum = writtenAsIPv6 ? 128 : 32
            guard !prefixText.isEmpty, prefixText.count <= 3, prefixText.allSatisfy(\.isASCIIDigit), let written = Int(prefixText),
                written <= maximum
            else { throw fail("the prefix length must be a number from 0 to \(maximum)") }
            // An IPv6 block inside ::ffff:0:0/96 is an IPv4 block; a shorter one is an IPv6 block only.
            let range: AddressRange
            if writtenAsIPv6 && address.isIPv4 {
                range = AddressRange(base: address, prefix128: written, isIPv4: written >= 96)
            } else {
                range = AddressRange(address, prefix: written)
            }
            guard !range.hasHostBits else {
                throw fail("bits are set past the prefix length; did you mean \(range.network)/\(written)?")
            }
            return .ranges([range])
        }

        var single = text
        if single.hasPrefix("[") && single.hasSuffix("]") && single.contains(":") { single = String(single.dropFirst().dropLast()) }
        if let address = IPAddress(single) { return .ranges([AddressRange(address, prefix: address.isIPv4 ? 32 : 128)]) }
        if single.contains(":") { throw fail("not a valid IPv6 address") }

        var name = text
        if name.hasPrefix("*.") {
            var domain = String(name.dropFirst(2))
            if domain.hasSuffix(".") { domain.removeLast() }
            guard !domain.isEmpty else { throw fail("a wildcard needs a domain after '*.', as in '*.corp.example'") }
            guard !endsInNumber(domain), isValidHostName(domain) else { throw fail("'\(domain)' is not a valid domain name") }
            return .wildcard(domain)
        }
        if name.hasSuffix(".") { name.removeLast() }
        if name == "*" { throw fail("'*' alone is not a rule; use 'any' to allow every host") }
        if name.contains("*") { throw fail("a wildcard must be a whole first label, as in '*.corp.example'") }
        if endsInNumber(name) { throw fail("not a valid IPv4 address (write four decimal numbers 0-255 without leading zeros)") }
        guard isValidHostName(name) else {
            throw fail("not a CIDR, an IP address, a host name, a '*.domain' wildcard or one of any, private, loopback")
        }
        return .name(name)
    }

    // MARK: Hosts

    enum Host: Equatable {
        case address(IPAddress)
        case name(String)
    }

    /// An IP literal (IPv6 with or without brackets) or a valid lowercased host name without its trailing
    /// dot; nil for anything else, including names that end in a number but are not a dotted quad.
    static func parseHost(_ host: String) -> Host? {
        guard !host.isEmpty else { return nil }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count >= 2 else { return nil }
            let inner = String(host.dropFirst().dropLast())
            guard inner.contains(":"), let address = IPAddress(inner) else { return nil }
            return .address(address)
        }
        if host.contains(":") { return IPAddress(host).map(Host.address) }
        guard var name = asciiLowercased(host) else { return nil }
        if name.hasSuffix(".") { name.removeLast() }
        if let address = IPAddress(name) { return .address(address) }
        guard !endsInNumber(name), isValidHostName(name) else { return nil }
        return .name(name)
    }

    /// Labels of 1–63 letters, digits, `-` and `_` (not starting or ending with `-`), at most 253 in all.
    static func isValidHostName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        for label in name.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.count <= 63, label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-") else { return false }
            for b in label {
                let ok =
                    (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                    || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
                if !ok { return false }
            }
        }
        return true
    }

    /// The WHATWG URL "ends in a number" test: the last label is all digits or `0x` and hex digits. Such
    /// hosts are IPv4 addresses to URL parsers, never names.
    static func endsInNumber(_ name: String) -> Bool {
        guard let last = name.split(separator: ".", omittingEmptySubsequences: false).last, !last.isEmpty else { return false }
        if last.allSatisfy(\.isASCIIDigit) { return true }
        guard last.hasPrefix("0x") else { return false }
        return last.dropFirst(2).allSatisfy(\.isHexDigit)
    }

    /// Lowercases ASCII letters only; nil when the text holds anything outside ASCII (Unicode case mapping
    /// would turn some non-ASCII letters into ASCII ones, such as the Kelvin sign into `k`).
    static func asciiLowercased(_ text: String) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for b in text.utf8 {
            guard b < 0x80 else { return nil }
            out.append(b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b + 32 : b)
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func trimmed(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[start...end])
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isWholeNumber }
}
