// Mainland mobile numbers: 11 digits starting 13-19, optionally after +86 or 86, contiguous or grouped 3-4-4.

extension PIIMasker.Scan {
    mutating func phones(_ runs: [Range<Int>]) {
        var k = 0
        while k < runs.count {
            if let last = phone(runs, at: k) {
                k = last + 1
            } else {
                k += 1
            }
        }
    }

    /// Whether the 11 digits at `i` look like a mainland mobile number: 1, then 3-9.
    func mobileStart(_ i: Int) -> Bool {
        b[i] == UInt8(ascii: "1") && b[i + 1] >= UInt8(ascii: "3") && b[i + 1] <= UInt8(ascii: "9")
    }

    /// A national number (11 digits, or 3-4-4 joined by one kind of separator) starting at run `k`: its last
    /// run and its digits. `afterPrefix`: run `k - 1` is the 86 prefix, so it does not count as a longer grouping.
    func national(_ runs: [Range<Int>], at k: Int, afterPrefix: Bool) -> (last: Int, digits: [UInt8])? {
        let run = runs[k]
        if run.count == 11 {
            guard mobileStart(run.lowerBound) else { return nil }
            return (k, Array(UnsafeBufferPointer(rebasing: b[run])))
        }
        guard run.count == 3, mobileStart(run.lowerBound), k + 2 < runs.count, let sep = joiner(runs, k + 1),
            joiner(runs, k + 2) == sep, runs[k + 1].count == 4, runs[k + 2].count == 4
        else { return nil }
        if !afterPrefix, joiner(runs, k) == sep, runs[k - 1].count <= 4 { return nil }
        if joiner(runs, k + 3) == sep, runs[k + 3].count <= 4 { return nil }
        var digits: [UInt8] = []
        for i in k...(k + 2) { digits.append(contentsOf: UnsafeBufferPointer(rebasing: b[runs[i]])) }
        return (k + 2, digits)
    }

    /// Accepts a phone starting at run `k` (or at a `+` just before it); returns its last run.
    mutating func phone(_ runs: [Range<Int>], at k: Int) -> Int? {
        let run = runs[k]
        let isEightySix = run.count >= 2 && b[run.lowerBound] == UInt8(ascii: "8") && b[run.lowerBound + 1] == UInt8(ascii: "6")
        let plusBefore = run.lowerBound > 0 && b[run.lowerBound - 1] == PIIByte.plus
        var found: (start: Int, last: Int, digits: [UInt8])?
        if run.count == 2, isEightySix, joiner(runs, k + 1) != nil, let n = national(runs, at: k + 1, afterPrefix: true) {
            found = (plusBefore ? run.lowerBound - 1 : run.lowerBound, n.last, n.digits)
        } else if run.count == 13, isEightySix, mobileStart(run.lowerBound + 2) {
            found = (plusBefore ? run.lowerBound - 1 : run.lowerBound, k, Array(UnsafeBufferPointer(rebasing: b[(run.lowerBound + 2)..<run.upperBound])))
        } else if let n = national(runs, at: k, afterPrefix: false) {
            found = (run.lowerBound, n.last, n.digits)
        }
        guard let found else { return nil }
        let end = runs[found.last].upperBound
        guard leftClear(found.start), rightClear(end) else { return nil }
        let before = accepted.count
        accept(found.start, end, .phone, String(decoding: found.digits, as: UTF8.self))
        return accepted.count > before ? found.last : nil
    }
}
