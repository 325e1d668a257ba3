import OpenAIWire
import Testing

@Suite("TokenUsage")
struct TokenUsageTests {
    @Test("total is prompt plus completion")
    func total() {
        #expect(TokenUsage(promptTokens: 12, completionTokens: 30).totalTokens == 42)
        #expect(TokenUsage(promptTokens: 0, completionTokens: 0).totalTokens == 0)
    }

    @Test("reads OpenAI's usage object")
    func read() throws {
        let json = try JSONParser.parse(#"{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0}}"#)
        #expect(TokenUsage(json: json) == TokenUsage(promptTokens: 9, completionTokens: 12))
    }

    @Test("a missing completion count reads as 0 (embeddings report only prompt tokens)")
    func missingCompletion() {
        #expect(TokenUsage(json: ["prompt_tokens": 5, "total_tokens": 5]) == TokenUsage(promptTokens: 5, completionTokens: 0))
    }

    @Test("whole numbers written as decimals are accepted")
    func wholeDecimals() {
        #expect(
            TokenUsage(json: ["prompt_tokens": 5.0, "completion_tokens": .number(JSONNumber(validatedLiteral: "1e1"))])
                == TokenUsage(promptTokens: 5, completionTokens: 10))
    }

    @Test(
        "absent or malformed usage is nil",
        arguments: [
            nil, JSONValue.null, "usage", 5, [], [:] as JSONValue, ["completion_tokens": 3], ["prompt_tokens": "5"], ["prompt_tokens": 1.5],
            ["prompt_tokens": .number(JSONNumber(validatedLiteral: "18446744073709551616"))],
        ] as [JSONValue?])
    func malformed(json: JSONValue?) {
        #expect(TokenUsage(json: json) == nil)
    }

    @Test("json has the three counts, total included, and reads back")
    func json() {
        let usage = TokenUsage(promptTokens: 7, completionTokens: 3)
        #expect(usage.json["prompt_tokens"] == 7)
        #expect(usage.json["completion_tokens"] == 3)
        #expect(usage.json["total_tokens"] == 10)
        #expect(TokenUsage(json: usage.json) == usage)
    }
}
