import OpenAIWire
import Testing

private func parse(_ text: String) -> OpenAIError? {
    OpenAIError.parse(upstreamBody: Array(text.utf8))
}

@Suite("OpenAIError")
struct OpenAIErrorTests {
    @Test("json is {error: {message, type, param, code}} with nulls for absent param and code")
    func jsonShape() throws {
        let error = OpenAIError(message: "bad", type: "invalid_request_error")
        let inner = try #require(error.json["error"]?.objectValue)
        #expect(inner.keys == ["message", "type", "param", "code"])
        #expect(inner["message"] == "bad")
        #expect(inner["type"] == "invalid_request_error")
        #expect(inner["param"] == .null)
        #expect(inner["code"] == .null)
        #expect(error.json.objectValue?.keys == ["error"])

        let full = OpenAIError(message: "m", type: "t", param: "model", code: "model_not_found")
        #expect(full.json["error"]?["param"] == "model")
        #expect(full.json["error"]?["code"] == "model_not_found")
        #expect(try JSONParser.parse(full.encoded) == full.json)
    }

    @Test("encoded errors parse back to themselves")
    func roundTrip() {
        for error in [
            OpenAIError(message: "m", type: "t"),
            OpenAIError(message: "带中文的 \"message\"", type: "invalid_request_error", param: "messages[0].role", code: "invalid_value"),
        ] {
            #expect(OpenAIError.parse(upstreamBody: error.encoded) == error)
        }
    }

    @Test("OpenAI's shape")
    func openAIShape() {
        let body = #"{"error":{"message":"Invalid 'temperature'.","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}"#
        #expect(parse(body) == OpenAIError(message: "Invalid 'temperature'.", type: "invalid_request_error", param: "temperature", code: "invalid_value"))
        // Nulls and missing fields.
        #expect(parse(#"{"error":{"message":"x","type":"server_error","param":null,"code":null}}"#) == OpenAIError(message: "x", type: "server_error"))
        let sparse = parse(#"{"error":{}}"#)
        #expect(sparse != nil)
        #expect(sparse?.param == nil && sparse?.code == nil)
        #expect(sparse?.message.isEmpty == false)
        // An integer code inside OpenAI's shape (newer vLLM and llama.cpp).
        #expect(parse(#"{"error":{"message":"m","type":"not_found_error","code":404}}"#)?.code == "404")
    }

    @Test("vLLM's shape with an integer code")
    func vLLMShape() {
        let body = #"{"object":"error","message":"The model `x` does not exist.","type":"NotFoundError","param":null,"code":404}"#
        #expect(parse(body) == OpenAIError(message: "The model `x` does not exist.", type: "NotFoundError", param: nil, code: "404"))
    }

    @Test("FastAPI's detail as a string")
    func fastAPIString() {
        let error = parse(#"{"detail":"Not Found"}"#)
        #expect(error?.message == "Not Found")
        #expect(error?.type.isEmpty == false)
    }

    @Test("FastAPI's detail as a list of validation errors: every msg is kept")
    func fastAPIList() throws {
        let body =
            #"{"detail":[{"loc":["body","messages"],"msg":"field required","type":"value_error.missing"},{"loc":["body","n"],"msg":"must be positive","type":"value_error"}]}"#
        let error = try #require(parse(body))
        #expect(error.message.contains("field required"))
        #expect(error.message.contains("must be positive"))
        // An empty list still gives an error with some message.
        let empty = try #require(parse(#"{"detail":[]}"#))
        #expect(!empty.message.isEmpty)
    }

    @Test(#"{"error":"text"}"#)
    func errorString() {
        let error = parse(#"{"error":"Model is loading"}"#)
        #expect(error?.message == "Model is loading")
        #expect(error?.param == nil)
        #expect(error?.code == nil)
    }

    @Test(
        "garbage is nil",
        arguments: [
            "", "not json", "<html>502 Bad Gateway</html>", "[]", "[{\"error\":\"x\"}]", "\"error\"", "null", "42", "{}",
            #"{"foo":"bar"}"#, #"{"detail":5}"#, #"{"detail":null}"#, #"{"detail":{"msg":"x"}}"#, #"{"error":5}"#,
            #"{"error":{"message":"x"}"#,  // truncated
        ])
    func garbage(body: String) {
        #expect(parse(body) == nil)
    }

    @Test("invalid UTF-8 bodies are nil, not a crash")
    func invalidUTF8() {
        #expect(OpenAIError.parse(upstreamBody: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]) == nil)
    }
}
