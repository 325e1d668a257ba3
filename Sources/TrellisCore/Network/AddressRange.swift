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
