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
