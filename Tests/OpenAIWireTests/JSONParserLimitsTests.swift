import Testing

@testable import OpenAIWire

/// `{"k0":0,"k1":1,…}` with `count` distinct keys, then the `extra` members as given.
private func object(keys count: Int, extra: String = "") -> [UInt8] {
    var text = "{"
    text.reserveCapacity(count * 12 + extra.utf8.count + 2)
    for i in 0..<count {
        if i > 0 { text += "," }
        text += "\"k\(i)\":\(i)"
    }
    if !extra.isEmpty { text += (count > 0 ? "," : "") + extra }
    text += "}"
    return Array(text.utf8)
}

/// The error a document is refused with, or nil when it parses.
private func refusal(_ bytes: [UInt8], limits: JSONParser.Limits = .standard) -> JSONParseError? {
    do {
        _ = try JSONParser.parse(bytes, limits: limits)
        return nil
    } catch {
        return error
    }
}

private func refusal(_ text: String, limits: JSONParser.Limits = .standard) -> JSONParseError? {
    refusal(Array(text.utf8), limits: limits)
}

@Suite("JSONParser: linear time and size limits")
struct JSONParserLimitsTests {
    @Test("an object with 50,000 distinct keys takes O(N) key checks, not N²/2")
    func keyChecksAreLinear() throws {
        let n = 50_000
        var work = JSONParser.Work()
        let value = try JSONParser.parse(object(keys: n), limits: .init(maxObjectMembers: .max), work: &work)
        #expect(value.objectValue?.count == n)
        // Scanning every earlier key (the old way) is n(n-1)/2 = 1,249,975,000 checks.
        #expect(work.keyChecks < 10 * n, "\(work.keyChecks) key checks for \(n) keys")
        #expect(work.keyChecks >= n)
    }

    @Test("many small objects cost at most a few checks per key")
    func smallObjectsAreCheap() throws {
        let objects = 5_000
        let width = JSONParser.linearScanMembers
        let one = "{" + (0..<width).map { "\"field\($0)\":\($0)" }.joined(separator: ",") + "}"
        let text = "[" + Array(repeating: one, count: objects).joined(separator: ",") + "]"
        var work = JSONParser.Work()
        _ = try JSONParser.parse(Array(text.utf8), limits: .standard, work: &work)
        #expect(work.keyChecks == objects * width * (width - 1) / 2)
    }

    @Test("a duplicate key at the end of a 50,000-key object is refused, naming the key and its offset")
    func duplicateInBigObject() throws {
        let bytes = object(keys: 50_000, extra: #""k0":1"#)
        let error = try #require(refusal(bytes, limits: .init(maxObjectMembers: .max)))
        #expect(error.reason == .duplicateKey("k0"))
        #expect(error.offset == bytes.count - 7)  // the opening quote of the last "k0"
        // A duplicate of a key met after the switch to hashing, and of the very last key before it.
        #expect(refusal(object(keys: 50_000, extra: #""k49999":1"#), limits: .init(maxObjectMembers: .max))?.reason == .duplicateKey("k49999"))
    }

    @Test("duplicates are refused at every object size around the switch from scanning to hashing")
    func duplicatesAroundTheSwitch() throws {
        for size in 1...(3 * JSONParser.linearScanMembers) {
            for duplicated in Set([0, size / 2, size - 1]) {
                let extra = "\"k\(duplicated)\":true"
                let bytes = object(keys: size, extra: extra)
                let error = try #require(refusal(bytes), "size \(size), duplicate of k\(duplicated)")
                #expect(error.reason == .duplicateKey("k\(duplicated)"), "size \(size)")
                #expect(error.offset == bytes.count - 1 - extra.utf8.count, "size \(size)")  // the duplicate's quote
            }
            // Without the duplicate it parses, keys in order.
            let keys = try #require(try JSONParser.parse(object(keys: size)).objectValue?.keys)
            #expect(keys == (0..<size).map { "k\($0)" })
        }
    }

    @Test("small and large objects agree on what a duplicate is (keys compared after decoding, as Swift strings)")
    func duplicateSemanticsAgree() throws {
        // "é" precomposed, and as e + combining acute: equal as Swift strings, so equal keys for JSONObject lookups.
        let pairs = [(#""\u00e9""#, #""e\u0301""#), (#""a""#, #""\u0061""#)]
        for (first, second) in pairs {
            for size in [0, 5, 40] {
                let bytes = object(keys: size, extra: "\(first):1,\(second):2")
                let error = try #require(refusal(bytes), "size \(size): \(first) then \(second)")
                guard case .duplicateKey = error.reason else {
                    Issue.record("size \(size): \(error)")
                    continue
                }
            }
        }
    }

    @Test("members per object: the default cap, and one member more is refused by name")
    func memberCap() throws {
        let limit = JSONParser.defaultMaxObjectMembers
        #expect(refusal(object(keys: limit)) == nil)
        let bytes = object(keys: limit + 1)
        let error = try #require(refusal(bytes))
        #expect(error.reason == .tooManyMembers(limit: limit))
        #expect(error.isLimit)
        #expect(error.description.hasPrefix("JSON object has more than \(limit) members"))
        // A custom cap, checked per object: siblings and nested objects each get the full allowance.
        let three = JSONParser.Limits(maxObjectMembers: 3)
        #expect(refusal(#"{"a":1,"b":2,"c":{"x":1,"y":2,"z":3}}"#, limits: three) == nil)
        #expect(refusal(#"[{"a":1,"b":2,"c":3},{"a":1,"b":2,"c":3}]"#, limits: three) == nil)
        let over = try #require(refusal(#"{"a":1,"b":2,"c":3,"d":4}"#, limits: three))
        #expect(over.reason == .tooManyMembers(limit: 3))
        #expect(over.offset == 19)  // the fourth key
        #expect(refusal(#"{"a":{"a":1,"b":2,"c":3,"d":4}}"#, limits: three)?.reason == .tooManyMembers(limit: 3))
    }

    @Test("elements in total: one count across the whole document, members and array elements together")
    func elementCap() throws {
        let five = JSONParser.Limits(maxElements: 5)
        #expect(refusal("[[1,2],[3]]", limits: five) == nil)  // 2 + 2 + 1
        #expect(refusal(#"{"a":[1,2],"b":{"c":3}}"#, limits: five) == nil)  // a, b, 1, 2, c
        let error = try #require(refusal("[[1,2],[3,4]]", limits: five))
        #expect(error.reason == .tooManyElements(limit: 5))
        #expect(error.offset == 10)  // the sixth element, 4
        #expect(error.isLimit)
        #expect(error.description.hasPrefix("JSON document has more than 5 elements"))
        #expect(refusal(#"{"a":[1,2],"b":{"c":3,"d":4}}"#, limits: five)?.reason == .tooManyElements(limit: 5))
        // Scalars and empty containers at the top level count nothing.
        #expect(refusal("7", limits: .init(maxElements: 0)) == nil)
        #expect(refusal("[]", limits: .init(maxElements: 0)) == nil)
        #expect(refusal("[0]", limits: .init(maxElements: 0))?.reason == .tooManyElements(limit: 0))
    }

    @Test("the default element cap: a million elements parse, one more is refused")
    func defaultElementCap() throws {
        let limit = JSONParser.defaultMaxElements
        let atLimit = Array(("[" + String(repeating: "0,", count: limit - 1) + "0]").utf8)
        #expect(refusal(atLimit) == nil)
        let over = Array(("[" + String(repeating: "0,", count: limit) + "0]").utf8)
        #expect(refusal(over)?.reason == .tooManyElements(limit: limit))
    }

    @Test("the largest real embeddings request passes: 2,048 inputs, each an array of token ids")
    func embeddingsTokenArraysPass() throws {
        // OpenAI allows 300,000 tokens per request; 2,048 inputs of 480 five-digit token ids is over three times
        // that (983,040 tokens, 5.9 MB of JSON) and still within the default limits.
        let input = "[" + (0..<480).map { String(10_000 + $0 * 37) }.joined(separator: ",") + "]"
        let body = #"{"model":"embed","input":["# + Array(repeating: input, count: 2_048).joined(separator: ",") + "]}"
        let value = try JSONParser.parse(Array(body.utf8))
        #expect(value["input"]?.arrayValue?.count == 2_048)
        #expect(value["input"]?.arrayValue?.last?.arrayValue?.count == 480)
    }

    @Test("only size limits are limits")
    func isLimit() {
        #expect(refusal(String(repeating: "[", count: 100) + String(repeating: "]", count: 100))?.isLimit == true)
        #expect(refusal(#"{"a":1,"a":2}"#)?.isLimit == false)
        #expect(refusal("[1,]")?.isLimit == false)
        #expect(refusal(#""\x""#)?.isLimit == false)
    }

    @Test("the maxDepth convenience and Limits agree")
    func depthThroughLimits() throws {
        #expect(refusal("[[[[]]]]", limits: .init(maxDepth: 3))?.reason == .tooDeep(limit: 3))
        #expect(throws: Never.self) { try JSONParser.parse("[[[]]]", maxDepth: 3) }
        #expect(try JSONParser.parse(#"{"a":[1]}"#, limits: .standard) == ["a": [1]])
    }
}
