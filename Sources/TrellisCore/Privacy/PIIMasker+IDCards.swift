// Mainland-China resident ID numbers: 17 digits and a check character, validated (see `idCardValid`).

extension PIIMasker.Scan {
    mutating func idCards(_ runs: [Range<Int>], _ segment: Range<Int>) {
        for run in runs {
            var end = run.upperBound
            if run.count == 17, end < segment.upperBound, b[end] | 0x20 == UInt8(ascii: "x") {
                end += 1
            } else if run.count != 18 {
                continue
            }
            let candidate = UnsafeBufferPointer(rebasing: b[run.lowerBound..<end])
            guard PIIMasker.idCardValid(candidate), leftClear(run.lowerBound), rightClear(end) else { continue }
            accept(run.lowerBound, end, .idCard, string(run.lowerBound, end).uppercased())
        }
    }
}
