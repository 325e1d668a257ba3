// Where masking does not look: code spans and fences, and URL tokens.

extension PIIMasker {
    /// The parts of the text outside code and URLs, in order.
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
            } else if c | 0x20 == UInt8(ascii: "h"), let end = urlEnd(b, at: i) {
                protect(i, end)
                i = end
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

    /// The end of a URL token starting at `i`, when one starts there.
    static func urlEnd(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        let n = b.count
        var j = i
        for expected in "http".utf8 {
            guard j < n, b[j] | 0x20 == expected else { return nil }
            j += 1
        }
        if j < n, b[j] | 0x20 == UInt8(ascii: "s") { j += 1 }
        for expected in "://".utf8 {
            guard j < n, b[j] == expected else { return nil }
            j += 1
        }
        while j < n {
            let c = b[j]
            if c >= 0x80 || c <= 0x20 || c == 0x7F || c == UInt8(ascii: "<") || c == UInt8(ascii: ">") || c == UInt8(ascii: "\"")
                || c == PIIByte.backtick
            {
                break
            }
            j += 1
        }
        return j
    }
}
