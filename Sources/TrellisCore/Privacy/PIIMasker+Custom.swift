import Foundation

// Custom patterns: the configured regular expressions, matched on the segment text.

extension PIIMasker.Scan {
    mutating func customs(_ segment: Range<Int>) {
        let text = string(segment.lowerBound, segment.upperBound)
        let whole = NSRange(location: 0, length: text.utf16.count)
        for pattern in masker.compiled {
            for match in pattern.regex.matches(in: text, range: whole) where match.range.length > 0 {
                guard let range = Range(match.range, in: text) else { continue }
                let start = segment.lowerBound + text.utf8.distance(from: text.startIndex, to: range.lowerBound)
                let end = segment.lowerBound + text.utf8.distance(from: text.startIndex, to: range.upperBound)
                accept(start, end, pattern.kind, String(text[range]))
            }
        }
    }
}
