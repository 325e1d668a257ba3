// Bank card numbers: 13-19 digits, contiguous or grouped in fours, with a known issuer prefix and a valid Luhn sum.

extension PIIMasker.Scan {
    mutating func bankCards(_ runs: [Range<Int>]) {
        var k = 0
        while k < runs.count {
            if let last = bankCard(runs, at: k) {
                k = last + 1
            } else {
                k += 1
            }
        }
    }

    /// Accepts a card starting at run `k`; returns its last run.
    mutating func bankCard(_ runs: [Range<Int>], at k: Int) -> Int? {
        let first = runs[k]
        var last = k
        if (13...19).contains(first.count) {
            // Contiguous.
        } else if first.count == 4, let sep = joiner(runs, k + 1) {
            // Grouped in fours by one kind of separator, the last group 1-4 digits, taken whole: a grouping that
            // runs past 19 digits is not a card, nor is any part of it.
            if joiner(runs, k) == sep && runs[k - 1].count == 4 { return nil }
            var digits = 4
            while let s = joiner(runs, last + 1), s == sep, runs[last + 1].count <= 4 {
                last += 1
                digits += runs[last].count
                if runs[last].count < 4 { break }
            }
            guard (13...19).contains(digits) else { return nil }
        } else {
            return nil
        }
        let start = first.lowerBound
        let end = runs[last].upperBound
        guard leftClear(start), rightClear(end) else { return nil }
        var digits: [UInt8] = []
        digits.reserveCapacity(19)
        for i in k...last { digits.append(contentsOf: UnsafeBufferPointer(rebasing: b[runs[i]])) }
        guard PIIMasker.issuerKnown(digits), PIIMasker.luhnValid(digits) else { return nil }
        let before = accepted.count
        accept(start, end, .bankCard, String(decoding: digits, as: UTF8.self))
        return accepted.count > before ? last : nil
    }
}
