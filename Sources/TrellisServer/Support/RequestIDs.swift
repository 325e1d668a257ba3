enum RequestIDs {
    /// `req_` and 24 hex digits (96 random bits).
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let a: UInt64 = generator.next()
        let b: UInt32 = generator.next()
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = Array("req_".utf8)
        out.reserveCapacity(28)
        for shift in stride(from: 60, through: 0, by: -4) { out.append(digits[Int((a >> UInt64(shift)) & 0xF)]) }
        for shift in stride(from: 28, through: 0, by: -4) { out.append(digits[Int((b >> UInt32(shift)) & 0xF)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
