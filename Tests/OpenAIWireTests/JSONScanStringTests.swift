import Testing

@testable import OpenAIWire

/// `JSONScan.string` reads eight bytes at a time up to the first quote, backslash or control character; these check
/// it against a byte-by-byte reading of the same rules, at every alignment, and against the parser.
@Suite struct JSONScanStringTests {
    /// The rules one byte at a time: the end after the closing quote and whether an escape came before it, or nil
    /// for a control character, a malformed escape, malformed UTF-8 or no closing quote.
    static func reference(_ b: [UInt8], at start: Int) -> (end: Int, escaped: Bool)? {
        var i = start + 1
        var escaped = false
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "\""):
                guard String(validating: b[(start + 1)..<i], as: UTF8.self) != nil else { return nil }
                return (i + 1, escaped)
            case 0..<0x20:
                return nil
            case UInt8(ascii: "\\"):
                escaped = true
                guard i + 1 < b.count else { return nil }
                switch b[i + 1] {
                case UInt8(ascii: "u"):
                    guard i + 5 < b.count, b[(i + 2)...(i + 5)].allSatisfy({ $0 < 0x80 && Character(Unicode.Scalar($0)).isHexDigit }) else { return nil }
                    i += 6
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                    UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                default:
                    return nil
                }
            default:
                i += 1
            }
        }
        return nil
    }

    static func scan(_ b: [UInt8], at start: Int) -> (end: Int, escaped: Bool)? {
        b.withUnsafeBufferPointer { JSONScan.string($0, at: start) }
    }

    @Test("random strings at every offset read as the byte-by-byte rules read them, and as the parser does")
    func agreesWithReference() {
        // Weighted towards what stops the fast path or splits it: quotes, escapes, controls, bytes past ASCII.
        let pieces: [[UInt8]] = [
            Array("a".utf8), Array("hello ".utf8), Array("é".utf8), Array("日本".utf8), Array("😀".utf8), [0x22], [0x5C], [0x5C, 0x22],
            [0x5C, 0x6E], Array("\\u00e9".utf8), Array("\\u12".utf8), [0x1F], [0x00], [0x7F], [0x80], [0xC3], [0xFF], [0xED, 0xA0, 0x80],
            Array("/".utf8), [0x20], Array("0123456789abcdef".utf8), [0x21], [0x23], [0x5B], [0x5D],
        ]
        var generator = SystemRandomNumberGenerator()
        var accepted = 0
        for round in 0..<20_000 {
            let prefix = [UInt8](repeating: UInt8(ascii: " "), count: round % 9)
            var bytes = prefix + [0x22]
            for _ in 0..<Int.random(in: 0...12, using: &generator) {
                bytes += pieces[Int.random(in: 0..<pieces.count, using: &generator)]
            }
            if Bool.random(using: &generator) { bytes += [0x22] + Array(#", "x": 1}"#.utf8) }
            let start = prefix.count
            let expected = Self.reference(bytes, at: start)
            let found = Self.scan(bytes, at: start)
            #expect(found?.end == expected?.end && found?.escaped == expected?.escaped, "\(bytes)")
            if let found {
                accepted += 1
                let literal = Array(bytes[start..<found.end])
                #expect((try? JSONParser.parse(literal))?.stringValue != nil, "the parser takes what the scan takes: \(literal)")
            }
        }
        #expect(accepted > 1_000, "the inputs must exercise strings that scan, not only refusals")
    }

    @Test("a long plain string, one past ASCII near its end, and a quote in each of a word's eight places")
    func longAndEachPlace() {
        let long = [0x22] + [UInt8](repeating: UInt8(ascii: "x"), count: 1_000) + [0x22]
        #expect(Self.scan(long, at: 0).map { [$0.end] } == [1_002])
        let late = [0x22] + [UInt8](repeating: UInt8(ascii: "x"), count: 37) + Array("é".utf8) + [0x22]
        #expect(Self.scan(late, at: 0)?.end == late.count)
        let broken = [0x22] + [UInt8](repeating: UInt8(ascii: "x"), count: 37) + [0xC3] + [0x22]
        #expect(Self.scan(broken, at: 0) == nil, "a truncated sequence after 37 plain bytes is refused")
        for place in 0..<8 {
            let bytes = [0x22] + [UInt8](repeating: UInt8(ascii: "y"), count: 16 + place) + [0x22] + [UInt8](repeating: UInt8(ascii: "z"), count: 16)
            #expect(Self.scan(bytes, at: 0)?.end == 18 + place)
            var control = bytes
            control[9 + place] = 0x0A
            #expect(Self.scan(control, at: 0) == nil, "a line break at \(9 + place) is refused")
        }
    }
}
