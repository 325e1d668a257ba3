// MARK: - IP addresses

/// An IPv4 or IPv6 address, held as 128 bits. An IPv4 address is stored in its IPv4-mapped IPv6 form
/// (`::ffff:a.b.c.d`), so `10.0.0.1` and `::ffff:10.0.0.1` are the same value: an IPv4-mapped address is
/// always treated as the IPv4 address it carries, and prints as one.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The first and last 64 bits, most significant first.
    let high: UInt64
    let low: UInt64

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address from its 32-bit value (`0x0A000001` is `10.0.0.1`).
    public init(ipv4 value: UInt32) {
        self.init(high: 0, low: 0xFFFF_0000_0000 | UInt64(value))
    }

    /// Parses an address in its textual form: IPv4 as a dotted quad of decimal numbers (`192.168.1.5`; leading
    /// zeros are refused, since other parsers read `010` as octal), IPv6 in RFC 4291 form (`fd00::1`,
    /// `::ffff:10.0.0.1`). Brackets, zone ids (`fe80::1%eth0`), prefix lengths and whitespace are refused.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        if bytes.contains(Self.colon) {
            guard let (high, low) = Self.parseIPv6(bytes) else { return nil }
            self.init(high: high, low: low)
        } else {
            guard let value = Self.parseIPv4(bytes[...]) else { return nil }
            self.init(ipv4: value)
        }
    }

    /// An address from its network-order bytes: 4 for IPv4, 16 for IPv6. Nil for any other count.
    public init?(bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4:
            self.init(ipv4: bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        case 16:
            var high: UInt64 = 0
            var low: UInt64 = 0
            for (i, b) in bytes.enumerated() {
                if i < 8 { high = high << 8 | UInt64(b) } else { low = low << 8 | UInt64(b) }
            }
            self.init(high: high, low: low)
        default:
            return nil
        }
    }

    /// True for IPv4 addresses, including ones written in IPv4-mapped IPv6 form.
    public var isIPv4: Bool { high == 0 && low >> 32 == 0xFFFF }

    /// The address in network order: 4 bytes for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        if isIPv4 { return (0..<4).map { UInt8(truncatingIfNeeded: low >> (24 - 8 * $0)) } }
        return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }

    /// `10.0.0.1` for IPv4; RFC 5952 form for IPv6 (lowercase, the longest run of zero groups as `::`).
    public var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        let groups = (0..<8).map { i in UInt16(truncatingIfNeeded: (i < 4 ? high : low) >> (48 - 16 * (i % 4))) }
        // The longest run of two or more zero groups (the first one on a tie) becomes "::".
        var bestStart = -1
        var bestLength = 1
        var i = 0
        while i < 8 {
            guard groups[i] == 0 else {
                i += 1
                continue
            }
            var j = i
            while j < 8 && groups[j] == 0 { j += 1 }
            if j - i > bestLength {
                bestStart = i
                bestLength = j - i
            }
            i = j
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return hex.joined(separator: ":") }
        let head = hex[..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }

    // MARK: Parsing

    static let colon = UInt8(ascii: ":")
    static let dot = UInt8(ascii: ".")

    /// A strict dotted quad: four decimal parts of 1–3 digits, each at most 255, no leading zeros.
    static func parseIPv4(_ text: ArraySlice<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var parts = 0
        var digits = 0
        var part: UInt32 = 0
        for b in text {
            if b == dot {
                guard digits > 0, parts < 3 else { return nil }
                value = value << 8 | part
                parts += 1
                digits = 0
                part = 0
            } else if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                if digits == 1 && part == 0 { return nil }  // a leading zero
                digits += 1
                part = part * 10 + UInt32(b - UInt8(ascii: "0"))
                guard digits <= 3, part <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, parts == 3 else { return nil }
        return value << 8 | part
    }

    /// RFC 4291 text: eight groups of 1–4 hex digits, at most one `::` standing for one or more zero groups,
    /// and optionally a dotted quad in place of the last two groups.
    static func parseIPv6(_ text: [UInt8]) -> (UInt64, UInt64)? {
        guard text.count >= 2, text.count <= 45 else { return nil }
        var gap: Int?
        var i = 0
        while i + 1 < text.count {
            if text[i] == colon && text[i + 1] == colon {
                guard gap == nil else { return nil }
                gap = i
                i += 2
            } else {
                i += 1
            }
        }
        var groups: [UInt16]
        if let gap {
            guard let head = groupsOf(text[..<gap], ipv4Tail: false), let tail = groupsOf(text[(gap + 2)...], ipv4Tail: true),
                head.count + tail.count <= 7
            else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let all = groupsOf(text[...], ipv4Tail: true), all.count == 8 else { return nil }
            groups = all
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (k, g) in groups.enumerated() {
            if k < 4 { high = high << 16 | UInt64(g) } else { low = low << 16 | UInt64(g) }
        }
        return (high, low)
    }

    /// The groups of a colon-separated run (one side of a `::`); nil when a group is empty or not hex.
    private static func groupsOf(_ text: ArraySlice<UInt8>, ipv4Tail: Bool) -> [UInt16]? {
        if text.isEmpty { return [] }
        let pieces = text.split(separator: colon, omittingEmptySubsequences: false)
        var groups: [UInt16] = []
        for (k, piece) in pieces.enumerated() {
            if piece.contains(dot) {
                guard ipv4Tail, k == pieces.count - 1, let v4 = parseIPv4(piece) else { return nil }
                groups.append(UInt16(truncatingIfNeeded: v4 >> 16))
                groups.append(UInt16(truncatingIfNeeded: v4))
            } else {
                guard (1...4).contains(piece.count) else { return nil }
                var value: UInt16 = 0
                for b in piece {
                    guard let digit = hexValue(b) else { return nil }
                    value = value << 4 | digit
                }
                groups.append(value)
            }
        }
        return groups
    }

    private static func hexValue(_ b: UInt8) -> UInt16? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt16(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt16(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt16(b - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}

// MARK: - Address ranges

/// A CIDR block. IPv4 blocks are kept in mapped form with the prefix counted over 128 bits (`10.0.0.0/8` is
/// `::ffff:10.0.0.0/104`). A block only matches addresses of its own family, so `::/0` means every IPv6
/// address and no IPv4 one.
struct AddressRange: Sendable, Equatable {
    let base: IPAddress
    /// Prefix length over the 128-bit form.
    let prefix: Int
    let isIPv4: Bool

    /// `prefix` counts IPv4 bits for an IPv4 base and IPv6 bits otherwise.
    init(_ base: IPAddress, prefix: Int) {
        self.init(base: base, prefix128: base.isIPv4 ? prefix + 96 : prefix, isIPv4: base.isIPv4)
    }

    init(base: IPAddress, prefix128: Int, isIPv4: Bool) {
        self.base = base
        self.prefix = prefix128
        self.isIPv4 = isIPv4
    }

    static func ipv4(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, prefix: Int) -> AddressRange {
        AddressRange(IPAddress(ipv4: a << 24 | b << 16 | c << 8 | d), prefix: prefix)
    }

    static func ipv6(high: UInt64, low: UInt64 = 0, prefix: Int) -> AddressRange {
        AddressRange(IPAddress(high: high, low: low), prefix: prefix)
    }

    var masks: (UInt64, UInt64) {
        let highMask: UInt64 = prefix >= 64 ? .max : (prefix == 0 ? 0 : .max << UInt64(64 - prefix))
        let lowMask: UInt64 = prefix <= 64 ? 0 : (prefix == 128 ? .max : .max << UInt64(128 - prefix))
        return (highMask, lowMask)
    }

    /// True when bits past the prefix are set in the base (`10.0.0.1/8`).
    var hasHostBits: Bool {
        let (h, l) = masks
        return base.high & ~h != 0 || base.low & ~l != 0
    }

    /// The base with the bits past the prefix cleared.
    var network: IPAddress {
        let (h, l) = masks
        return IPAddress(high: base.high & h, low: base.low & l)
    }

    func contains(_ address: IPAddress) -> Bool {
        guard address.isIPv4 == isIPv4 else { return false }
        let (h, l) = masks
        return address.high & h == base.high & h && address.low & l == base.low & l
    }
}

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
