/// Why a JSON text was refused. The description is safe to show to a client: it names the problem and the byte
/// offset, never the input itself.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case unexpectedEnd
        case unexpectedCharacter
        case invalidNumber
        case invalidEscape
        case invalidUnicode
        case invalidUTF8
        case controlCharacterInString
        case tooDeep(limit: Int)
        case duplicateKey(String)
        case trailingData
        /// An object with more members than ``JSONParser/Limits/maxObjectMembers``.
        case tooManyMembers(limit: Int)
        /// More object members and array elements in the whole document than ``JSONParser/Limits/maxElements``.
        case tooManyElements(limit: Int)
    }

    public let reason: Reason
    public let offset: Int

    public var description: String {
        switch reason {
        case .unexpectedEnd: "unexpected end of JSON input"
        case .unexpectedCharacter: "unexpected character at byte \(offset)"
        case .invalidNumber: "invalid number at byte \(offset)"
        case .invalidEscape: "invalid escape sequence in string at byte \(offset)"
        case .invalidUnicode: "invalid \\u escape (lone surrogate) at byte \(offset)"
        case .invalidUTF8: "invalid UTF-8 in string at byte \(offset)"
        case .controlCharacterInString: "unescaped control character in string at byte \(offset)"
        case .tooDeep(let limit): "JSON nested deeper than \(limit) levels"
        case .duplicateKey(let key): "duplicate key \"\(key.prefix(64))\" in JSON object at byte \(offset)"
        case .trailingData: "unexpected data after the JSON value at byte \(offset)"
        case .tooManyMembers(let limit): "JSON object has more than \(limit) members at byte \(offset)"
        case .tooManyElements(let limit): "JSON document has more than \(limit) elements (object members and array elements together) at byte \(offset)"
        }
    }

    /// The document broke one of the parser's size limits (depth, members, elements): it may be well-formed JSON,
    /// refused for its size.
    public var isLimit: Bool {
        switch reason {
        case .tooDeep, .tooManyMembers, .tooManyElements: true
        default: false
        }
    }
}

/// A strict RFC 8259 parser: UTF-8 only, no comments or trailing commas, duplicate keys refused (two readers of one
/// request must never disagree about what it says), and bounded: nesting depth, members per object and elements in
/// the whole document are capped (``Limits``). Time is linear in the input: duplicate keys are found by scanning a
/// small object's earlier keys and by hashing in a larger one.
public struct JSONParser {
    /// What one parse may build. The defaults are sized for what OpenAI-compatible bodies need, with room to spare:
    ///
    /// - `maxDepth` 64: chat bodies nest a handful of levels; tool schemas rarely pass ten.
    /// - `maxObjectMembers` 8,192: OpenAI's Structured Outputs accept up to 5,000 object properties in a schema, all
    ///   of which may sit in one `properties` object; the other maps in a request (`metadata`: 16 pairs) are smaller.
    /// - `maxElements` 1,000,000 object members and array elements in total: OpenAI caps an embeddings request at
    ///   300,000 tokens, so its largest body (2,048 inputs, each an array of token ids) is about 302,000 elements;
    ///   a million leaves three times that (2,048 pre-tokenised inputs of 480 tokens each) while one parse builds
    ///   at most a few tens of megabytes of values. Callers that parse larger documents on purpose (an embeddings
    ///   answer: inputs × dimensions numbers) pass a larger limit.
    public struct Limits: Sendable, Equatable {
        public var maxDepth: Int
        public var maxObjectMembers: Int
        public var maxElements: Int

        public init(
            maxDepth: Int = JSONParser.defaultMaxDepth, maxObjectMembers: Int = JSONParser.defaultMaxObjectMembers,
            maxElements: Int = JSONParser.defaultMaxElements
        ) {
            self.maxDepth = maxDepth
            self.maxObjectMembers = maxObjectMembers
            self.maxElements = maxElements
        }

        public static let standard = Limits()
    }

    public static let defaultMaxDepth = 64
    public static let defaultMaxObjectMembers = 8_192
    public static let defaultMaxElements = 1_000_000

    /// Objects up to this many members find duplicate keys by comparing with each earlier key (fastest at this
    /// size, and no allocation); a larger object hashes its keys instead.
    static let linearScanMembers = 16

    public static func parse(_ bytes: some Collection<UInt8>, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSONValue {
        try parse(bytes, limits: Limits(maxDepth: maxDepth))
    }

    public static func parse(_ bytes: some Collection<UInt8>, limits: Limits) throws(JSONParseError) -> JSONValue {
        var work = Work()
        return try parse(bytes, limits: limits, work: &work)
    }

    public static func parse(_ string: String, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSONValue {
        try parse(Array(string.utf8), maxDepth: maxDepth)
    }

    public static func parse(_ string: String, limits: Limits) throws(JSONParseError) -> JSONValue {
        try parse(Array(string.utf8), limits: limits)
    }

    /// What a parse did, counted for tests that check the work stays linear in the input.
    struct Work: Sendable, Equatable {
        /// Key equality checks: one per earlier key compared in a small object's scan, one per hashed lookup (and
        /// one per key moved into the hash set when an object outgrows the scan).
        var keyChecks = 0
    }

    /// Parses and reports the work done (for tests).
    static func parse(_ bytes: some Collection<UInt8>, limits: Limits, work: inout Work) throws(JSONParseError) -> JSONValue {
        let result: Result<(JSONValue, Work), JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONParseError) -> (JSONValue, Work) in try parse(buffer: buffer, limits: limits) }
        }
        let parsed: (JSONValue, Work)
        if let result {
            parsed = try result.get()
        } else {
            let array = Array(bytes)
            parsed = try array.withUnsafeBufferPointer { buffer throws(JSONParseError) in try parse(buffer: buffer, limits: limits) }
        }
        work = parsed.1
        return parsed.0
    }

    static func parse(buffer: UnsafeBufferPointer<UInt8>, limits: Limits) throws(JSONParseError) -> (JSONValue, Work) {
        var reader = Reader(bytes: buffer, limits: limits)
        reader.skipWhitespace()
        let value = try reader.parseValue(depth: 0)
        reader.skipWhitespace()
        if reader.index != buffer.count {
            throw JSONParseError(reason: .trailingData, offset: reader.index)
        }
        return (value, reader.work)
    }
}

private struct Reader {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    let maxObjectMembers: Int
    let maxElements: Int
    var index = 0
    /// Object members and array elements so far, in the whole document.
    var elementCount = 0
    var work = JSONParser.Work()

    init(bytes: UnsafeBufferPointer<UInt8>, limits: JSONParser.Limits) {
        self.bytes = bytes
        self.maxDepth = limits.maxDepth
        self.maxObjectMembers = limits.maxObjectMembers
        self.maxElements = limits.maxElements
    }

    /// Counts one more member or element against the document's limit.
    @inline(__always)
    mutating func countElement() throws(JSONParseError) {
        elementCount += 1
        if elementCount > maxElements { throw fail(.tooManyElements(limit: maxElements)) }
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    func fail(_ reason: JSONParseError.Reason) -> JSONParseError {
        JSONParseError(reason: reason, offset: index)
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw fail(.unexpectedEnd) }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["):
            return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        default:
            throw fail(.unexpectedCharacter)
        }
    }

    mutating func expectLiteral(_ word: StaticString) throws(JSONParseError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail(.unexpectedEnd) }
        let start = word.utf8Start
        for i in 0..<count where bytes[index + i] != start[i] {
            throw fail(.unexpectedCharacter)
        }
        index += count
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > maxDepth { throw fail(.tooDeep(limit: maxDepth)) }
        index += 1  // {
        var members: [JSONObject.Member] = []
        // The keys of an object past `linearScanMembers`; empty (and unallocated) until then.
        var seen = Set<String>()
        skipWhitespace()
        guard index < bytes.count else { throw fail(.unexpectedEnd) }
        if bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(JSONObject(members))
        }
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw fail(.unexpectedEnd) }
            guard bytes[index] == UInt8(ascii: "\"") else { throw fail(.unexpectedCharacter) }
            let keyOffset = index
            if members.count >= maxObjectMembers { throw fail(.tooManyMembers(limit: maxObjectMembers)) }
            try countElement()
            let key = try parseString()
            if members.count < JSONParser.linearScanMembers {
                work.keyChecks += members.count
                for member in members where member.key == key {
                    throw JSONParseError(reason: .duplicateKey(key), offset: keyOffset)
                }
            } else {
                if seen.isEmpty {
                    seen.reserveCapacity(4 * JSONParser.linearScanMembers)
                    for member in members { seen.insert(member.key) }
                    work.keyChecks += members.count
                }
                work.keyChecks += 1
                if !seen.insert(key).inserted {
                    throw JSONParseError(reason: .duplicateKey(key), offset: keyOffset)
                }
            }
            skipWhitespace()
            guard index < bytes.count else { throw fail(.unexpectedEnd) }
            guard bytes[index] == UInt8(ascii: ":") else { throw fail(.unexpectedCharacter) }
            index += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            members.append(JSONObject.Member(key: key, value: value))
            skipWhitespace()
            guard index < bytes.count else { throw fail(.unexpectedEnd) }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "}"):
                index += 1
                return .object(JSONObject(members))
            default:
                throw fail(.unexpectedCharacter)
            }
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > maxDepth { throw fail(.tooDeep(limit: maxDepth)) }
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        guard index < bytes.count else { throw fail(.unexpectedEnd) }
        if bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            try countElement()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard index < bytes.count else { throw fail(.unexpectedEnd) }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "]"):
                index += 1
                return .array(elements)
            default:
                throw fail(.unexpectedCharacter)
            }
        }
    }

    mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw fail(.invalidNumber) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if isDigit(bytes[index]) {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        } else {
            throw fail(.invalidNumber)
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail(.invalidNumber) }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail(.invalidNumber) }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        let literal = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        return JSONNumber(validatedLiteral: literal)
    }

    @inline(__always)
    func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    mutating func parseString() throws(JSONParseError) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                return try makeString(slice, offset: start)
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw fail(.controlCharacterInString) }
            index += 1
        }
        guard index < bytes.count else { throw fail(.unexpectedEnd) }
        // Slow path: copy with escapes decoded.
        var out: [UInt8] = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\""):
                index += 1
                return try out.withUnsafeBufferPointer { buffer throws(JSONParseError) in try makeString(buffer, offset: start) }
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw fail(.unexpectedEnd) }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    let scalar = try parseUnicodeEscape()
                    appendUTF8(scalar, to: &out)
                default:
                    index -= 1
                    throw fail(.invalidEscape)
                }
            default:
                if b < 0x20 { throw fail(.controlCharacterInString) }
                out.append(b)
                index += 1
            }
        }
        throw fail(.unexpectedEnd)
    }

    func makeString(_ slice: UnsafeBufferPointer<UInt8>, offset: Int) throws(JSONParseError) -> String {
        // ASCII needs no validation.
        var ascii = true
        for b in slice where b >= 0x80 {
            ascii = false
            break
        }
        if ascii { return String(decoding: slice, as: UTF8.self) }
        guard let s = String(validating: slice, as: UTF8.self) else {
            throw JSONParseError(reason: .invalidUTF8, offset: offset)
        }
        return s
    }

    mutating func readHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail(.unexpectedEnd) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail(.invalidEscape)
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    mutating func parseUnicodeEscape() throws(JSONParseError) -> Unicode.Scalar {
        let first = try readHex4()
        if (0xD800...0xDBFF).contains(first) {
            guard index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                throw fail(.invalidUnicode)
            }
            index += 2
            let second = try readHex4()
            guard (0xDC00...0xDFFF).contains(second) else { throw fail(.invalidUnicode) }
            let combined = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            guard let scalar = Unicode.Scalar(combined) else { throw fail(.invalidUnicode) }
            return scalar
        }
        guard let scalar = Unicode.Scalar(first) else { throw fail(.invalidUnicode) }
        return scalar
    }

    func appendUTF8(_ scalar: Unicode.Scalar, to out: inout [UInt8]) {
        UTF8.encode(scalar) { out.append($0) }
    }
}
