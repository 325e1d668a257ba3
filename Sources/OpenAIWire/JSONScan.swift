/// Reads a JSON object's members from its bytes without building a tree: where each member's key and value lie.
/// What it steps over is checked as strictly as ``JSONParser`` checks it (strings and their UTF-8, escapes, numbers,
/// literals, nesting to ``JSONParser/defaultMaxDepth``), so a scan that succeeds is of valid JSON. It is for the
/// relay's hot path, which edits a few members of each chunk in place and would otherwise parse and re-write the
/// whole chunk; anything it does not take (a key with an escape, a line break between tokens) makes it return nil,
/// and the caller parses instead.
/// Every function runs in time linear in the bytes it reads.
public enum JSONScan {
    /// One member of an object: its key's bytes between the quotes (never escaped) and its value's bytes.
    public struct Member: Sendable, Equatable {
        /// From the key's opening quote to the value's end: the member as it stands in the object.
        public var whole: Range<Int>
        public var key: Range<Int>
        public var value: Range<Int>
    }

    /// An object's members and the position just after its closing brace.
    public struct Object: Sendable, Equatable {
        public var members: [Member]
        /// The closing brace's position.
        public var close: Int
    }

    /// The object at `start` (whitespace before it is skipped), or nil if there is none, it is malformed, or it
    /// holds a key with an escape or a line break between its tokens.
    public static func object(_ b: UnsafeBufferPointer<UInt8>, at start: Int) -> Object? {
        var found: [Member] = []
        found.reserveCapacity(8)
        guard let close = members(b, at: start, depth: 0, { found.append($0) }) else { return nil }
        return Object(members: found, close: close)
    }

    /// How a reader took a value it was shown before the scan stepped over it.
    public enum ValueRead: Sendable, Equatable {
        /// Not read: the scan steps over it, checking it.
        case stepOver
        /// Read, and checked as strictly as the scan checks what it steps over; the value ends at `end`.
        case read(end: Int)
        /// The value does not scan.
        case malformed
    }

    /// Calls `body` with each member of the object at `start`, in order, and returns the closing brace's position;
    /// nil (part way through, perhaps) when the object does not scan. Collects nothing: nested values are stepped
    /// over without allocating.
    public static func members(
        _ b: UnsafeBufferPointer<UInt8>, at start: Int, depth: Int = 0, _ body: (Member) -> Void
    ) -> Int? {
        members(b, at: start, depth: depth, reading: { _, _, _ in .stepOver }, body)
    }

    /// ``members(_:at:depth:_:)``, showing `read` each member's key and where its value begins (and the value's
    /// nesting depth) before the scan steps over it, so that a value the caller wants to look into is read in the
    /// same pass: `read` returns where the value ends if it read it, or `.stepOver`.
    public static func members(
        _ b: UnsafeBufferPointer<UInt8>, at start: Int, depth: Int = 0,
        reading read: (_ key: Range<Int>, _ value: Int, _ depth: Int) -> ValueRead, _ body: (Member) -> Void
    ) -> Int? {
        var i = skipSpace(b, start)
        guard i < b.count, b[i] == UInt8(ascii: "{"), depth < JSONParser.defaultMaxDepth else { return nil }
        i = skipSpace(b, i + 1)
        if i < b.count, b[i] == UInt8(ascii: "}") { return i }
        while true {
            guard i < b.count, b[i] == UInt8(ascii: "\""), let (keyEnd, escaped) = string(b, at: i), !escaped else { return nil }
            let key = (i + 1)..<(keyEnd - 1)
            let whole = i
            i = skipSpace(b, keyEnd)
            guard i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
            let valueStart = skipSpace(b, i + 1)
            guard valueStart < b.count, let valueEnd = valueEnd(b, at: valueStart, depth: depth + 1, read(key, valueStart, depth + 1))
            else { return nil }
            body(Member(whole: whole..<valueEnd, key: key, value: valueStart..<valueEnd))
            i = skipSpace(b, valueEnd)
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: "}") { return i }
            guard b[i] == UInt8(ascii: ",") else { return nil }
            i = skipSpace(b, i + 1)
        }
    }

    /// Calls `body` with each element of the array at `start` (its bytes), in order, and returns the position after
    /// the closing bracket; nil when it is not a well-formed array.
    public static func elements(
        _ b: UnsafeBufferPointer<UInt8>, at start: Int, depth: Int = 0, _ body: (Range<Int>) -> Void
    ) -> Int? {
        elements(b, at: start, depth: depth, reading: { _, _ in .stepOver }, body)
    }

    /// ``elements(_:at:depth:_:)``, showing `read` where each element begins (and its nesting depth) before the
    /// scan steps over it, as ``members(_:at:depth:reading:_:)`` does.
    public static func elements(
        _ b: UnsafeBufferPointer<UInt8>, at start: Int, depth: Int = 0, reading read: (_ element: Int, _ depth: Int) -> ValueRead,
        _ body: (Range<Int>) -> Void
    ) -> Int? {
        var i = skipSpace(b, start)
        guard i < b.count, b[i] == UInt8(ascii: "["), depth < JSONParser.defaultMaxDepth else { return nil }
        i = skipSpace(b, i + 1)
        if i < b.count, b[i] == UInt8(ascii: "]") { return i + 1 }
        while true {
            guard i < b.count, let end = valueEnd(b, at: i, depth: depth + 1, read(i, depth + 1)) else { return nil }
            body(i..<end)
            i = skipSpace(b, end)
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: "]") { return i + 1 }
            guard b[i] == UInt8(ascii: ",") else { return nil }
            i = skipSpace(b, i + 1)
        }
    }

    /// Where the value at `i` ends, as a reader took it: stepped over (and checked) unless it was read.
    private static func valueEnd(_ b: UnsafeBufferPointer<UInt8>, at i: Int, depth: Int, _ taken: ValueRead) -> Int? {
        switch taken {
        case .stepOver: value(b, at: i, depth: depth)
        case .read(let end): end
        case .malformed: nil
        }
    }

    /// The values of the members `first` and `second` (ASCII keys) of the object at `start` (nested `depth` deep),
    /// each nil when absent, and the object's closing brace; nil when the object does not scan or holds either key
    /// twice. Other members are stepped over.
    public static func values(
        _ b: UnsafeBufferPointer<UInt8>, at start: Int, depth: Int = 0, _ first: StaticString, _ second: StaticString
    ) -> (first: Range<Int>?, second: Range<Int>?, close: Int)? {
        var one: Range<Int>?
        var two: Range<Int>?
        var repeated = false
        let close = members(b, at: start, depth: depth) { m in
            if key(b, m, is: first) {
                repeated = repeated || one != nil
                one = m.value
            } else if key(b, m, is: second) {
                repeated = repeated || two != nil
                two = m.value
            }
        }
        guard let close, !repeated else { return nil }
        return (one, two, close)
    }

    /// Whether the key of `member` is `name` (ASCII).
    @inlinable
    public static func key(_ b: UnsafeBufferPointer<UInt8>, _ member: Member, is name: StaticString) -> Bool {
        key(b, member.key, is: name)
    }

    /// Whether the key in `range` (between its quotes) is `name` (ASCII). Inlined where it is asked, so that a
    /// key of another length (most of those a scan compares) costs one comparison and no call.
    @inlinable
    public static func key(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, is name: StaticString) -> Bool {
        range.count == name.utf8CodeUnitCount && sameBytes(b, range, name)
    }

    /// Whether the bytes in `range` are `name`'s (of the same length).
    @usableFromInline
    static func sameBytes(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ name: StaticString) -> Bool {
        UnsafeBufferPointer(rebasing: b[range]).sameBytes(as: name)
    }

    /// The string value in `range` (quotes included) decoded, or nil when it is not a string.
    public static func decodeString(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String? {
        guard range.count >= 2, b[range.lowerBound] == UInt8(ascii: "\"") else { return nil }
        let inner = UnsafeBufferPointer(rebasing: b[(range.lowerBound + 1)..<(range.upperBound - 1)])
        if !inner.contains(UInt8(ascii: "\\")) { return String(decoding: inner, as: UTF8.self) }
        guard case .string(let s)? = try? JSONParser.parse(UnsafeBufferPointer(rebasing: b[range])) else { return nil }
        return s
    }

    /// Whether `range` holds the literal `null`.
    public static func isNull(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        range.count == 4 && b[range.lowerBound] == UInt8(ascii: "n")
    }

    /// Whether everything from `start` on is whitespace the scan accepts.
    public static func onlySpace(_ b: UnsafeBufferPointer<UInt8>, from start: Int) -> Bool {
        skipSpace(b, start) == b.count
    }

    // MARK: Stepping over values

    /// The end of the value at `i`, checked; nil when malformed.
    static func value(_ b: UnsafeBufferPointer<UInt8>, at i: Int, depth: Int) -> Int? {
        guard i < b.count else { return nil }
        switch b[i] {
        case UInt8(ascii: "\""): return string(b, at: i)?.end
        case UInt8(ascii: "{"): return members(b, at: i, depth: depth) { _ in }.map { $0 + 1 }
        case UInt8(ascii: "["): return elements(b, at: i, depth: depth) { _ in }
        case UInt8(ascii: "t"): return literal(b, at: i, "true")
        case UInt8(ascii: "f"): return literal(b, at: i, "false")
        case UInt8(ascii: "n"): return literal(b, at: i, "null")
        default: return number(b, at: i)
        }
    }

    /// The end of the string whose opening quote is at `i` (after its closing quote), and whether it holds an escape.
    static func string(_ b: UnsafeBufferPointer<UInt8>, at start: Int) -> (end: Int, escaped: Bool)? {
        guard let base = b.baseAddress else { return nil }
        let raw = UnsafeRawPointer(base)
        var i = start + 1
        var escaped = false
        var ascii = true
        while i < b.count {
            // Eight bytes at a time up to the first that ends the string, escapes or is refused (see `stop`).
            if i + 8 <= b.count {
                let word = ByteWord.load(raw, i)
                let plain = ByteWord.before(stop(word))
                if plain > 0 {
                    // The high bits of the plain bytes: any byte past ASCII.
                    let mask: UInt64 = plain == 8 ? .max : (1 << (8 * UInt64(plain))) &- 1
                    if word & mask & ByteWord.highs != 0 { ascii = false }
                    i += plain
                    continue
                }
            }
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                // Escapes are ASCII, so the raw bytes are valid UTF-8 exactly when the parser's pieces are.
                guard ascii || isUTF8(UnsafeBufferPointer(rebasing: b[(start + 1)..<i])) else { return nil }
                return (i + 1, escaped)
            }
            if c < 0x20 { return nil }
            if c >= 0x80 { ascii = false }
            if c == UInt8(ascii: "\\") {
                escaped = true
                guard i + 1 < b.count else { return nil }
                switch b[i + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                    UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                case UInt8(ascii: "u"):
                    guard i + 5 < b.count, (2...5).allSatisfy({ isHex(b[i + $0]) }) else { return nil }
                    i += 6
                default:
                    return nil
                }
                continue
            }
            i += 1
        }
        return nil
    }

    /// The bytes of `word` that stop a string's fast scan, marked as `ByteWord` marks them: a quote, a backslash
    /// or a control character.
    @inline(__always)
    static func stop(_ word: UInt64) -> UInt64 {
        ByteWord.equal(word, UInt8(ascii: "\"")) | ByteWord.equal(word, UInt8(ascii: "\\")) | ByteWord.below(word, 0x20)
    }

    /// Whether `bytes` are well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF), as
    /// `String(validating:)` in the parser requires.
    private static func isUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    private static func isHex(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
            || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private static func number(_ b: UnsafeBufferPointer<UInt8>, at start: Int) -> Int? {
        var i = start
        if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < b.count, isDigit(b[i]) else { return nil }
        if b[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            guard i < b.count, isDigit(b[i]) else { return nil }
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < b.count, isDigit(b[i]) else { return nil }
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        return i
    }

    private static func literal(_ b: UnsafeBufferPointer<UInt8>, at start: Int, _ word: StaticString) -> Int? {
        let n = word.utf8CodeUnitCount
        guard start + n <= b.count else { return nil }
        let same = word.withUTF8Buffer { w in (0..<n).allSatisfy { b[start + $0] == w[$0] } }
        return same ? start + n : nil
    }

    /// Spaces and tabs only: a line break between tokens would not survive the relay's one-line framing.
    private static func skipSpace(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
        var i = start
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
        return i
    }
}
