// Mainland-China resident ID numbers: 17 digits and a check character, validated (see `idCardValid`), written
// contiguously or in groups joined by one kind of separator, a space or a dash, as people split them
// (`110101 19900307 4514`, `1101 0119 9003 0745 14`, `110101-199003-074514`).

extension PIIMasker.Scan {
    mutating func idCards(_ runs: [Range<Int>], _ segment: Range<Int>) {
        for k in runs.indices {
            let run = runs[k]
            if run.count >= 17 {
                var end = run.upperBound
                if run.count == 17, end < segment.upperBound, b[end] | 0x20 == UInt8(ascii: "x") {
                    end += 1
                } else if run.count != 18 {
                    continue
                }
                let candidate = UnsafeBufferPointer(rebasing: b[run.lowerBound..<end])
                guard PIIMasker.idCardValid(candidate), leftClear(run.lowerBound), rightClear(end) else { continue }
                accept(run.lowerBound, end, .idCard, string(run.lowerBound, end).uppercased())
            } else {
                groupedIDCard(runs, at: k, segment)
            }
        }
    }

    /// An ID number whose first group is run `k`: runs joined by one kind of separator up to 18 characters (the
    /// last may be an X). Unlike cards and phones, the grouping may go on around it: the check character and the
    /// birth date already make a chance match rare (about 1 in 15,000 random digit strings), and two numbers
    /// written one after the other (`13812345678 110101 19900307 4514`) must each still be found.
    mutating func groupedIDCard(_ runs: [Range<Int>], at k: Int, _ segment: Range<Int>) {
        guard let sep = joiner(runs, k + 1) else { return }
        var last = k
        var count = runs[k].count
        while count < 18 {
            if count == 17, runs[last].upperBound < segment.upperBound, b[runs[last].upperBound] | 0x20 == UInt8(ascii: "x") { break }
            guard let s = joiner(runs, last + 1), s == sep else { break }
            last += 1
            count += runs[last].count
        }
        var end = runs[last].upperBound
        if count == 17, end < segment.upperBound, b[end] | 0x20 == UInt8(ascii: "x") {
            end += 1
        } else if count != 18 {
            return
        }
        var characters: [UInt8] = []
        characters.reserveCapacity(18)
        for i in k...last { characters.append(contentsOf: UnsafeBufferPointer(rebasing: b[runs[i]])) }
        if end > runs[last].upperBound { characters.append(b[runs[last].upperBound]) }
        let start = runs[k].lowerBound
        guard PIIMasker.idCardValid(characters), leftClear(start), rightClear(end) else { return }
        accept(start, end, .idCard, String(decoding: characters, as: UTF8.self).uppercased())
    }
}
