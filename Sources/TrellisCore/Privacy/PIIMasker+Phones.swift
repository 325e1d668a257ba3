// Mainland mobile numbers: 11 digits starting 13-19, as people write them: contiguous; grouped 3-4-4 by spaces,
// dashes or dots (one kind per number); 3-8 by a space or dash; with the first group in parentheses
// (`(138)1234-5678`, `(138) 1234 5678`, `(138)12345678`); and after a +86 country code (`+86`, `86`, `(+86)`,
// `(86)`, `+(86)`, `0086`, then at most one space or dash; or `008613812345678` run together).

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

    /// A national number whose first digits are run `k`: where it starts (the `(` of a parenthesised first
    /// group), its last run, its 11 digits, and the separator of a grouping that must not go on past either end
    /// (nil for a contiguous or parenthesised number). A grouping that continues past its end is not a phone.
    func national(_ runs: [Range<Int>], at k: Int) -> (start: Int, last: Int, digits: [UInt8], sep: UInt8?)? {
        let run = runs[k]
        func digits(_ last: Int) -> [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(11)
            for i in k...last { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[runs[i]])) }
            return out
        }
        if run.count == 11 {
            guard mobileStart(run.lowerBound) else { return nil }
            return (run.lowerBound, k, digits(k), nil)
        }
        guard run.count == 3, k + 1 < runs.count, mobileStart(run.lowerBound) else { return nil }
        let next = runs[k + 1]
        if run.lowerBound > segment.lowerBound, b[run.lowerBound - 1] == openParenthesis, b[run.upperBound] == closeParenthesis {
            // (138)1234-5678: after the parenthesis at most one separator, then 8 digits or 4 and 4 joined by one.
            let gap = next.lowerBound - (run.upperBound + 1)
            guard gap == 0 || (gap == 1 && Self.isPhoneSeparator(b[run.upperBound + 1])) else { return nil }
            if next.count == 8 { return (run.lowerBound - 1, k + 1, digits(k + 1), nil) }
            guard next.count == 4, k + 2 < runs.count, runs[k + 2].count == 4, let sep = joiner(runs, k + 2, dots: true) else { return nil }
            if joiner(runs, k + 3, dots: true) == sep, runs[k + 3].count <= 4 { return nil }
            return (run.lowerBound - 1, k + 2, digits(k + 2), nil)
        }
        guard let sep = joiner(runs, k + 1, dots: true) else { return nil }
        if next.count == 8 {
            // 138 12345678; never with a dot, which makes it a decimal number.
            guard sep != PIIByte.dot else { return nil }
            if joiner(runs, k + 2) == sep, runs[k + 2].count <= 4 { return nil }
            return (run.lowerBound, k + 1, digits(k + 1), sep)
        }
        guard next.count == 4, k + 2 < runs.count, joiner(runs, k + 2, dots: true) == sep, runs[k + 2].count == 4 else { return nil }
        if joiner(runs, k + 3, dots: true) == sep, runs[k + 3].count <= 4 { return nil }
        return (run.lowerBound, k + 2, digits(k + 2), sep)
    }

    /// Accepts a phone whose national digits start at run `k` (with its country code, when one is written before
    /// it); returns its last run.
    mutating func phone(_ runs: [Range<Int>], at k: Int) -> Int? {
        let run = runs[k]
        var found: (start: Int, last: Int, digits: [UInt8])?
        if run.count == 13, b[run.lowerBound] == UInt8(ascii: "8"), b[run.lowerBound + 1] == UInt8(ascii: "6"), mobileStart(run.lowerBound + 2) {
            // 8613812345678, +8613812345678
            let plusBefore = run.lowerBound > segment.lowerBound && b[run.lowerBound - 1] == PIIByte.plus
            found = (plusBefore ? run.lowerBound - 1 : run.lowerBound, k, Array(UnsafeBufferPointer(rebasing: b[(run.lowerBound + 2)..<run.upperBound])))
        } else if run.count == 15, Self.isInternationalPrefix(b, at: run.lowerBound), mobileStart(run.lowerBound + 4) {
            // 008613812345678: the international call prefix 00, then 86
            found = (run.lowerBound, k, Array(UnsafeBufferPointer(rebasing: b[(run.lowerBound + 4)..<run.upperBound])))
        } else if let n = national(runs, at: k) {
            let start = countryCodeStart(before: n.start)
            // Without a country code, a grouping that runs on to the left (`12 138 1234 5678`) is not a phone.
            if start == n.start, let sep = n.sep, joiner(runs, k, dots: true) == sep, runs[k - 1].count <= 4 { return nil }
            found = (start, n.last, n.digits)
        }
        guard let found else { return nil }
        let end = runs[found.last].upperBound
        guard leftClear(found.start), rightClear(end) else { return nil }
        let before = accepted.count
        accept(found.start, end, .phone, String(decoding: found.digits, as: UTF8.self))
        return accepted.count > before ? found.last : nil
    }

    /// Where a +86 country code written just before `start` begins: `+86`, `86`, `(+86)`, `(86)` or `+(86)`,
    /// separated from the number by at most one space or dash (a bare `86` needs one, or the number's own
    /// parenthesis: without either it would be part of the same digit run). `start` itself when there is none.
    func countryCodeStart(before start: Int) -> Int {
        let floor = segment.lowerBound
        var j = start
        var separated = false
        if j > floor, b[j - 1] == PIIByte.space || b[j - 1] == PIIByte.dash {
            j -= 1
            separated = true
        }
        let closed = j > floor && b[j - 1] == closeParenthesis
        if closed { j -= 1 }
        guard j - 2 >= floor, b[j - 2] == UInt8(ascii: "8"), b[j - 1] == UInt8(ascii: "6") else { return start }
        j -= 2
        if closed {
            // (+86), (86) or +(86)
            if j > floor, b[j - 1] == PIIByte.plus {
                j -= 1
                guard j > floor, b[j - 1] == openParenthesis else { return start }
                j -= 1
            } else if j > floor, b[j - 1] == openParenthesis {
                j -= 1
                if j > floor, b[j - 1] == PIIByte.plus { j -= 1 }
            } else {
                return start
            }
        } else if j - 2 >= floor, b[j - 2] == UInt8(ascii: "0"), b[j - 1] == UInt8(ascii: "0") {
            // 0086: the international call prefix written instead of +
            j -= 2
        } else if j > floor, b[j - 1] == PIIByte.plus {
            j -= 1
        } else if !separated && b[start] != openParenthesis {
            return start
        }
        return leftClear(j) ? j : start
    }

    /// Whether `0086` starts at `i`.
    static func isInternationalPrefix(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> Bool {
        i + 4 <= b.count && b[i] == UInt8(ascii: "0") && b[i + 1] == UInt8(ascii: "0") && b[i + 2] == UInt8(ascii: "8") && b[i + 3] == UInt8(ascii: "6")
    }

    /// A separator people put between the groups of a phone number.
    static func isPhoneSeparator(_ c: UInt8) -> Bool {
        c == PIIByte.space || c == PIIByte.dash || c == PIIByte.dot
    }
}

private let openParenthesis = UInt8(ascii: "(")
private let closeParenthesis = UInt8(ascii: ")")
