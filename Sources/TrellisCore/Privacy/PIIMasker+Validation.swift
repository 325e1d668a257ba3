// Checks a candidate must pass to be masked: Luhn, resident ID structure, card issuer prefixes.

extension PIIMasker {
    /// The Luhn check over ASCII digits (`"4111111111111111".utf8`). False when empty or not all digits.
    public static func luhnValid(_ digits: some Collection<UInt8>) -> Bool {
        guard !digits.isEmpty else { return false }
        var sum = 0
        // Every second digit counted from the right is doubled: from the left, that starts with the first digit
        // when the count is even.
        var double = digits.count % 2 == 0
        for c in digits {
            guard PIIByte.isDigit(c) else { return false }
            var d = Int(c - 0x30)
            if double {
                d *= 2
                if d > 9 { d -= 9 }
            }
            sum += d
            double.toggle()
        }
        return sum % 10 == 0
    }

    /// Whether `s` is a mainland-China resident ID number: 17 digits and a digit or X/x, a real birth date
    /// (yyyyMMdd at positions 7-14, year 1900-2099) and a correct ISO 7064 MOD 11-2 check character.
    public static func idCardValid(_ s: String) -> Bool {
        idCardValid(Array(s.utf8)[...])
    }

    private static let idWeights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    private static let idCheck = Array("10X98765432".utf8)

    static func idCardValid(_ b: some RandomAccessCollection<UInt8>) -> Bool {
        guard b.count == 18 else { return false }
        var sum = 0
        var value = [Int](repeating: 0, count: 17)
        for (i, c) in b.prefix(17).enumerated() {
            guard PIIByte.isDigit(c) else { return false }
            value[i] = Int(c - 0x30)
            sum += value[i] * idWeights[i]
        }
        let year = value[6] * 1000 + value[7] * 100 + value[8] * 10 + value[9]
        let month = value[10] * 10 + value[11]
        let day = value[12] * 10 + value[13]
        guard (1900...2099).contains(year), (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year) else { return false }
        guard let last = b.last else { return false }
        let check = last == UInt8(ascii: "x") ? UInt8(ascii: "X") : last
        return check == idCheck[sum % 11]
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Card numbers start with a known issuer prefix: 2221-2720 (Mastercard), 3 (Amex, JCB, Diners), 4 (Visa),
    /// 5 (Mastercard, Maestro), 6 (UnionPay, Discover, Maestro). This keeps timestamps (1…, 20…) and order
    /// numbers from being masked merely because one in ten numbers passes Luhn.
    static func issuerKnown(_ digits: [UInt8]) -> Bool {
        guard let first = digits.first else { return false }
        switch first {
        case UInt8(ascii: "3")...UInt8(ascii: "6"): return true
        case UInt8(ascii: "2"):
            guard digits.count >= 4 else { return false }
            let prefix = digits[0..<4].reduce(0) { $0 * 10 + Int($1 - 0x30) }
            return (2221...2720).contains(prefix)
        default: return false
        }
    }
}
