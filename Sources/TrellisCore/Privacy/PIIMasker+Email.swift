// E-mail addresses: a local part, `@`, and a domain of at least two labels ending in letters.

extension PIIMasker.Scan {
    mutating func emails(_ segment: Range<Int>) {
        var i = segment.lowerBound
        while i < segment.upperBound {
            guard b[i] == PIIByte.at else {
                i += 1
                continue
            }
            var start = i
            while start > segment.lowerBound && PIIByte.isLocalPart(b[start - 1]) { start -= 1 }
            while start < i && b[start] == PIIByte.dot { start += 1 }
            if start < i, let end = domainEnd(afterAt: i) {
                accept(start, end, .email, string(start, end).lowercased())
                i = end
            } else {
                i += 1
            }
        }
    }

    /// The end of the e-mail domain after the `@` at `i` (trailing dots and dashes left out), if it is valid.
    func domainEnd(afterAt i: Int) -> Int? {
        var end = i + 1
        while end < segment.upperBound && PIIByte.isDomainPart(b[end]) { end += 1 }
        while end > i + 1 && (b[end - 1] == PIIByte.dot || b[end - 1] == PIIByte.dash) { end -= 1 }
        return validDomain(i + 1, end) ? end : nil
    }

    /// At least two dot-separated labels of letters, digits and inner dashes; the last all letters, 2+ long.
    func validDomain(_ start: Int, _ end: Int) -> Bool {
        guard start < end else { return false }
        var labels = 0
        var labelStart = start
        var i = start
        while i <= end {
            if i == end || b[i] == PIIByte.dot {
                let length = i - labelStart
                guard length >= 1, length <= 63, b[labelStart] != PIIByte.dash, b[i - 1] != PIIByte.dash else { return false }
                labels += 1
                if i == end {
                    guard length >= 2 else { return false }
                    for j in labelStart..<end where !PIIByte.isLetter(b[j]) { return false }
                }
                labelStart = i + 1
            }
            i += 1
        }
        return labels >= 2
    }
}
