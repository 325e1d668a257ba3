import Foundation
import OpenAIWire
import Testing

/// The error a text is refused with, or nil when it parses.
private func refusal(_ text: String, maxDepth: Int = JSONParser.defaultMaxDepth) -> JSONParseError? {
    refusal(bytes: Array(text.utf8), maxDepth: maxDepth)
}

private func refusal(bytes: [UInt8], maxDepth: Int = JSONParser.defaultMaxDepth) -> JSONParseError? {
    do {
        _ = try JSONParser.parse(bytes, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

private func number(_ literal: String) -> JSONValue { .number(JSONNumber(validatedLiteral: literal)) }

@Suite("JSONParser: valid documents")
struct JSONParserValidTests {
    @Test("scalars at the top level")
    func topLevelScalars() throws {
        #expect(try JSONParser.parse("null") == .null)
        #expect(try JSONParser.parse("true") == .bool(true))
        #expect(try JSONParser.parse("false") == .bool(false))
        #expect(try JSONParser.parse("0") == number("0"))
        #expect(try JSONParser.parse("-12") == number("-12"))
        #expect(try JSONParser.parse("\"hi\"") == .string("hi"))
        #expect(try JSONParser.parse("\"\"") == .string(""))
    }

    @Test("empty and nested containers")
    func containers() throws {
        #expect(try JSONParser.parse("[]") == .array([]))
        #expect(try JSONParser.parse("{}") == .object(JSONObject()))
        #expect(try JSONParser.parse("[[],{}]") == .array([.array([]), .object(JSONObject())]))
        let value = try JSONParser.parse(#"{"a":[1,{"b":null}],"c":{"d":[true,false]},"e":"x"}"#)
        let expected: JSONValue = [
            "a": [1, ["b": nil]],
            "c": ["d": [true, false]],
            "e": "x",
        ]
        #expect(value == expected)
    }

    @Test("insignificant white space (space, tab, LF, CR) anywhere between tokens and around the value")
    func whiteSpace() throws {
        let text = " \t\r\n{ \"a\" \t:\r\n[ 1 , 2 ] , \"b\" : { } }\n\r\t "
        #expect(try JSONParser.parse(text) == ["a": [1, 2], "b": .object(JSONObject())])
        #expect(try JSONParser.parse("  7  ") == number("7"))
    }

    @Test(
        "number literals are kept exactly as written",
        arguments: [
            "0", "-0", "1", "-1", "12345678901234567890", "18446744073709551616", "-9223372036854775809",
            "0.1", "0.10", "1.0", "3.14159265358979323846264338327950288", "1e400", "1E400", "-1e-400",
            "1e+2", "2.5E-3", "0e0", "123456789012345678901234567890.000000000001",
        ])
    func numberLiteralsKept(literal: String) throws {
        let value = try JSONParser.parse(literal)
        #expect(value == number(literal))
        #expect(value.numberValue?.literal == literal)
        // Inside a container too.
        let wrapped = try JSONParser.parse("[\(literal)]")
        #expect(wrapped.arrayValue?.first?.numberValue?.literal == literal)
    }

    @Test("big integers are not rounded through Double")
    func bigIntegersExact() throws {
        let value = try JSONParser.parse(#"{"seed":18446744073709551616,"n":9007199254740993}"#)
        #expect(value["seed"]?.numberValue?.literal == "18446744073709551616")
        #expect(value["n"]?.numberValue?.literal == "9007199254740993")
        // 2^64 does not fit an Int, so it has no Int value rather than a wrong one.
        #expect(value["seed"]?.numberValue?.intValue == nil)
    }

    @Test("object key order is kept")
    func keyOrder() throws {
        let value = try JSONParser.parse(#"{"z":1,"a":2,"m":3,"b":4}"#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["z", "a", "m", "b"])
    }

    @Test("every simple escape decodes")
    func simpleEscapes() throws {
        let value = try JSONParser.parse(#""\" \\ \/ \b \f \n \r \t""#)
        #expect(value == .string("\" \\ / \u{08} \u{0C} \n \r \t"))
    }

    @Test("\\u escapes in the BMP, upper and lower case hex")
    func unicodeEscapes() throws {
        #expect(try JSONParser.parse(#""\u0041\u00e9\u00E9\u4f60\u597D""#) == .string("Aéé你好"))
    }

    @Test("\\u0000 is accepted and decodes to NUL")
    func nulEscape() throws {
        let value = try JSONParser.parse(#""a\u0000b""#)
        let s = try #require(value.stringValue)
        #expect(Array(s.utf8) == [0x61, 0x00, 0x62])
    }

    @Test("a valid surrogate pair decodes to one scalar")
    func surrogatePair() throws {
        let value = try JSONParser.parse(#""\uD83D\uDE00""#)
        let s = try #require(value.stringValue)
        #expect(s.unicodeScalars.map(\.value) == [0x1F600])
        #expect(s == "😀")
        // Lower-case hex, and the largest scalar U+10FFFF.
        #expect(try JSONParser.parse(#""\udbff\udfff""#).stringValue?.unicodeScalars.map(\.value) == [0x10FFFF])
    }

    @Test("raw UTF-8 in strings and keys: CJK, emoji, accents")
    func rawUTF8() throws {
        let value = try JSONParser.parse(#"{"名前":"你好，世界 😀 café"}"#)
        #expect(value["名前"] == .string("你好，世界 😀 café"))
    }

    @Test("DEL (0x7F) and U+2028 need no escaping")
    func unescapedButLegal() throws {
        #expect(try JSONParser.parse("\"a\u{7F}b\u{2028}c\"") == .string("a\u{7F}b\u{2028}c"))
    }

    @Test("strings with escapes after raw non-ASCII text are decoded whole")
    func mixedSlowPath() throws {
        #expect(try JSONParser.parse(#""日本\n語\"""#) == .string("日本\n語\""))
    }

    @Test("nesting exactly at the limit is accepted")
    func depthAtLimit() throws {
        let limit = JSONParser.defaultMaxDepth
        let arrays = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        #expect(throws: Never.self) { try JSONParser.parse(arrays) }
        let objects = String(repeating: #"{"a":"#, count: limit) + "1" + String(repeating: "}", count: limit)
        #expect(throws: Never.self) { try JSONParser.parse(objects) }
    }

    @Test("a collection without contiguous storage parses the same as an array")
    func nonContiguousInput() throws {
        let text = #"{"a":[1,"ü",null],"b":{"c":true}}"#
        let expected = try JSONParser.parse(Array(text.utf8))
        let reversed = Array(text.utf8.reversed()).reversed()  // a ReversedCollection: no contiguous storage
        #expect(try JSONParser.parse(reversed) == expected)
        let lazyMapped = Array(text.utf8).lazy.map { $0 }
        #expect(try JSONParser.parse(lazyMapped) == expected)
        let substring = Substring(text).utf8
        #expect(try JSONParser.parse(substring) == expected)
    }

    @Test("Foundation's encoding of hard strings decodes to the same scalars")
    func foundationOracle() throws {
        var generator = JSONValueGenerator(seed: 7)
        for _ in 0..<300 {
            let s = generator.string()
            let data = try JSONSerialization.data(withJSONObject: [s])
            let parsed = try JSONParser.parse(Array(data))
            let decoded = try #require(parsed.arrayValue?.first?.stringValue)
            #expect(Array(decoded.unicodeScalars) == Array(s.unicodeScalars))
        }
    }
}

@Suite("JSONParser: refused documents")
struct JSONParserRefusalTests {
    @Test("empty input and only white space")
    func empty() {
        #expect(refusal("")?.reason == .unexpectedEnd)
        #expect(refusal("  \n ")?.reason == .unexpectedEnd)
    }

    @Test("duplicate keys are refused, naming the key")
    func duplicateKeys() throws {
        let error = try #require(refusal(#"{"a":1,"b":2,"a":3}"#))
        #expect(error.reason == .duplicateKey("a"))
        #expect(error.offset == 13)  // the opening quote of the second "a"
        // Nested objects are checked too.
        #expect(refusal(#"{"x":{"k":1,"k":1}}"#)?.reason == .duplicateKey("k"))
        // Keys are compared after escapes are decoded.
        #expect(refusal(#"{"a":1,"\u0061":2}"#)?.reason == .duplicateKey("a"))
        // The same key in sibling objects is fine.
        #expect(refusal(#"[{"a":1},{"a":2}]"#) == nil)
    }

    @Test("nesting past the limit is refused with tooDeep")
    func tooDeep() {
        let limit = JSONParser.defaultMaxDepth
        let arrays = String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)
        #expect(refusal(arrays)?.reason == .tooDeep(limit: limit))
        let objects = String(repeating: #"{"a":"#, count: limit + 1) + "1" + String(repeating: "}", count: limit + 1)
        #expect(refusal(objects)?.reason == .tooDeep(limit: limit))
        let mixed = String(repeating: #"[{"a":"#, count: 40) + "1" + String(repeating: "}]", count: 40)
        #expect(refusal(mixed)?.reason == .tooDeep(limit: limit))
    }

    @Test("a custom depth limit is honoured")
    func customDepth() {
        #expect(refusal("[[[]]]", maxDepth: 3) == nil)
        #expect(refusal("[[[[]]]]", maxDepth: 3)?.reason == .tooDeep(limit: 3))
        #expect(refusal("1", maxDepth: 0) == nil)
        #expect(refusal("[]", maxDepth: 0)?.reason == .tooDeep(limit: 0))
    }

    @Test("a pathologically deep document fails fast instead of overflowing the stack")
    func veryDeep() {
        let text = String(repeating: "[", count: 200_000)
        #expect(refusal(text)?.reason == .tooDeep(limit: JSONParser.defaultMaxDepth))
    }

    @Test(
        "invalid UTF-8 inside strings is refused",
        arguments: [
            [0xFF],  // never valid
            [0xC3],  // truncated 2-byte sequence
            [0xC0, 0x80],  // overlong NUL
            [0xE0, 0x80, 0xAF],  // overlong '/'
            [0xED, 0xA0, 0x80],  // UTF-8-encoded surrogate U+D800
            [0xF4, 0x90, 0x80, 0x80],  // beyond U+10FFFF
            [0x80],  // lone continuation byte
            [0xE4, 0xBD],  // truncated 3-byte sequence
        ] as [[UInt8]])
    func invalidUTF8(bad: [UInt8]) {
        let fast = [0x22, 0x61] + bad + [0x62, 0x22]
        #expect(refusal(bytes: fast)?.reason == .invalidUTF8)
        // With an escape in the string, so the copying path is taken.
        let slow = [0x22, 0x5C, 0x6E] + bad + [0x22]
        #expect(refusal(bytes: slow)?.reason == .invalidUTF8)
        // In a key.
        let key = [0x7B, 0x22] + bad + [0x22, 0x3A, 0x31, 0x7D]
        #expect(refusal(bytes: key)?.reason == .invalidUTF8)
    }

    @Test(
        "lone surrogate escapes are refused",
        arguments: [
            #""\uD800""#,  // high surrogate, then the end of the string
            #""\uDBFFx""#,  // high surrogate, then a plain character
            #""\uD83D\u0041""#,  // high surrogate, then a non-surrogate escape
            #""\uD83D\uD83D""#,  // two high surrogates
            #""\uDC00""#,  // lone low surrogate
            #""\uDE00\uD83D""#,  // pair in the wrong order
            #""\uD83D\n""#,  // high surrogate, then another escape
        ])
    func loneSurrogates(text: String) {
        #expect(refusal(text)?.reason == .invalidUnicode)
    }

    @Test("unescaped control characters in strings are refused", arguments: Array(UInt8(0x00)...UInt8(0x1F)))
    func controlCharacters(byte: UInt8) {
        #expect(refusal(bytes: [0x22, 0x61, byte, 0x22])?.reason == .controlCharacterInString)
        // After an escape (copying path).
        #expect(refusal(bytes: [0x22, 0x5C, 0x74, byte, 0x22])?.reason == .controlCharacterInString)
    }

    @Test("data after the value is refused", arguments: ["{} x", "1 2", "[]]", "{}{}", "nulll", "\"a\"\"b\"", "0 ,", "true false"])
    func trailingData(text: String) {
        #expect(refusal(text)?.reason == .trailingData)
    }

    @Test("invalid escapes", arguments: [#""\x""#, #""\a""#, #""\u12G4""#, #""\U0041""#, #""\'""#, #""\0""#])
    func invalidEscapes(text: String) {
        #expect(refusal(text)?.reason == .invalidEscape)
    }

    @Test("malformed numbers", arguments: ["-", "1.", "1.e5", "1e", "1e+", "-a", "[-]", "2.]"])
    func invalidNumbers(text: String) {
        #expect(refusal(text)?.reason == .invalidNumber)
    }

    @Test("number forms JSON does not have", arguments: [".5", "+1", "Infinity", "-Infinity", "NaN", "0x10", "01", "-01", "1_000"])
    func nonJSONNumbers(text: String) {
        #expect(refusal(text) != nil)
    }

    @Test(
        "syntax JSON does not have",
        arguments: [
            "[1,]", #"{"a":1,}"#, "[1 2]", #"{"a" 1}"#, #"{a:1}"#, "{'a':1}", "'a'", "// c\n1", "/* c */ 1", "[1,,2]",
            "True", "nul", "tru", "fals", "{", "[", #"{"a""#, #"{"a":"#, #""abc"#, "\u{0C}1", "\u{A0}1", "{1:2}", "[,1]",
            #""\"#, #""\u12""#,
        ])
    func notJSON(text: String) {
        #expect(refusal(text) != nil)
    }

    @Test("the error description names the problem and offset but not the input")
    func description() throws {
        let secret = "sk-very-secret-value"
        let error = try #require(refusal(#"{"key":"\#(secret)", oops}"#))
        #expect(!error.description.contains(secret))
        #expect(error.description.contains("\(error.offset)"))
        #expect(error.reason == .unexpectedCharacter)
    }
}
