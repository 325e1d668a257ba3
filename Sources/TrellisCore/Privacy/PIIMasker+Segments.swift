// Where masking does not look: code spans and fences.

extension PIIMasker {
    /// The parts of the text outside code, in order.
    ///
    /// URLs are not left alone: a URL's path, query and user part carry personal data as often as prose does
    /// (`http://crm/c,13812345678,alice@example.com`), and a gateway's promise to keep that data from an outside
    /// model beats keeping a link intact. An answer that echoes a masked link gets it back restored.
    static func openSegments(_ b: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        let n = b.count
        var segments: [Range<Int>] = []
        var segmentStart = 0
        var i = 0
        func protect(_ start: Int, _ end: Int) {
            if segmentStart < start { segments.append(segmentStart..<start) }
            segmentStart = end
        }
        while i < n {
            let c = b[i]
            if c == PIIByte.backtick {
                var runEnd = i
                while runEnd < n && b[runEnd] == PIIByte.backtick { runEnd += 1 }
                if let close = closingRun(b, from: runEnd, length: runEnd - i) {
                    protect(i, close)
                    i = close
                } else {
                    i = runEnd
                }
            } else {
                i += 1
            }
        }
        if segmentStart < n { segments.append(segmentStart..<n) }
        return segments
    }

    /// The end of the backtick run that closes one of `length` ending at `from`: for a fence (3 or more) the next
    /// run at least as long; for inline code the next run exactly as long on the same line. Nil when unclosed.
    static func closingRun(_ b: UnsafeBufferPointer<UInt8>, from: Int, length: Int) -> Int? {
        let n = b.count
        let fence = length >= 3
        var i = from
        while i < n {
            let c = b[i]
            if c == PIIByte.backtick {
                var runEnd = i
                while runEnd < n && b[runEnd] == PIIByte.backtick { runEnd += 1 }
                let runLength = runEnd - i
                if fence ? runLength >= length : runLength == length { return runEnd }
                i = runEnd
            } else if c == PIIByte.newline && !fence {
                return nil
            } else {
                i += 1
            }
        }
        return nil
    }
}
