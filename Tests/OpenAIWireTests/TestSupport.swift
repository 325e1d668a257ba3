import OpenAIWire
import TrellisCore

/// Builds random ``JSONValue`` trees: every JSON type, number literals of every grammatical form (including
/// ones no Int or Double holds exactly), and strings mixing ASCII, control characters, quotes, backslashes,
/// CJK, emoji, combining marks and other non-ASCII scalars.
struct JSONValueGenerator {
    var rng: SeededGenerator
    var maxDepth = 5

    init(seed: UInt64) {
        rng = SeededGenerator(seed: seed)
    }

    mutating func value(depth: Int = 0) -> JSONValue {
        let kinds = depth >= maxDepth ? 4 : 6
        switch Int.random(in: 0..<kinds, using: &rng) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .number(number())
        case 3: return .string(string())
        case 4:
            let count = Int.random(in: 0...5, using: &rng)
            return .array((0..<count).map { _ in value(depth: depth + 1) })
        default:
            let count = Int.random(in: 0...5, using: &rng)
            var seen = Set<String>()
            var members: [JSONObject.Member] = []
            for _ in 0..<count {
                let key = string()
                // Keys must be distinct for the parser to accept the text.
                guard seen.insert(key).inserted else { continue }
                members.append(.init(key: key, value: value(depth: depth + 1)))
            }
            return .object(JSONObject(members))
        }
    }

    /// A literal following RFC 8259's number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    mutating func number() -> JSONNumber {
        var s = ""
        if Bool.random(using: &rng) { s += "-" }
        if Int.random(in: 0..<5, using: &rng) == 0 {
            s += "0"
        } else {
            s += String(Int.random(in: 1...9, using: &rng))
            for _ in 0..<Int.random(in: 0...25, using: &rng) { s += String(Int.random(in: 0...9, using: &rng)) }
        }
        if Bool.random(using: &rng) {
            s += "."
            for _ in 0..<Int.random(in: 1...10, using: &rng) { s += String(Int.random(in: 0...9, using: &rng)) }
        }
        if Int.random(in: 0..<3, using: &rng) == 0 {
            s += Bool.random(using: &rng) ? "e" : "E"
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: s += "+"
            case 1: s += "-"
            default: break
            }
            for _ in 0..<Int.random(in: 1...4, using: &rng) { s += String(Int.random(in: 0...9, using: &rng)) }
        }
        return JSONNumber(validatedLiteral: s)
    }

    mutating func string() -> String {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...12, using: &rng) {
            scalars.append(scalar())
        }
        return String(scalars)
    }

    mutating func scalar() -> Unicode.Scalar {
        let ranges: [ClosedRange<UInt32>] = [
            0x20...0x7E,  // printable ASCII
            0x00...0x1F,  // control characters
            0x22...0x22,  // quote
            0x5C...0x5C,  // backslash
            0x2F...0x2F,  // solidus
            0x7F...0x7F,  // DEL (legal unescaped)
            0xA0...0xFF,  // Latin-1
            0x0300...0x036F,  // combining marks
            0x4E00...0x9FFF,  // CJK
            0x2028...0x2029,  // line and paragraph separators
            0xFEFF...0xFEFF,  // BOM as text
            0x1F300...0x1FAFF,  // emoji (outside the BMP)
            0x10000...0x10FFFF,  // anything outside the BMP
        ]
        let range = ranges[Int.random(in: 0..<ranges.count, using: &rng)]
        while true {
            if let s = Unicode.Scalar(UInt32.random(in: range, using: &rng)) { return s }
        }
    }
}
