import OpenAIWire
import Testing
import TrellisCore

private func refusal(_ text: String, limits: ChatRequest.Limits = .init()) throws -> TrellisError? {
    let value = try JSONParser.parse(text)
    do {
        _ = try ChatRequest.parse(value, limits: limits)
        return nil
    } catch {
        return error
    }
}

private let hello = #"[{"role":"user","content":"hi"}]"#

@Suite("ChatRequest.parse")
struct ChatRequestTests {
    @Test("a minimal request")
    func minimal() throws {
        let request = try ChatRequest.parse(try JSONParser.parse(#"{"model":"assistant","messages":\#(hello)}"#))
        #expect(request.modelReference == "assistant")
        #expect(request.stream == false)
        #expect(request.clientWantsUsage == false)
        #expect(request.user == nil)
        #expect(request.variables.isEmpty)
        #expect(request.messages.count == 1)
        #expect(request.body.keys == ["model", "messages"])
    }

    @Test("stream, include_usage, user and a pinned model are read")
    func fields() throws {
        let request = try ChatRequest.parse(
            try JSONParser.parse(
                #"{"model":"assistant@2","messages":\#(hello),"stream":true,"stream_options":{"include_usage":true},"user":"王小明"}"#))
        #expect(request.modelReference == "assistant@2")
        #expect(request.stream)
        #expect(request.clientWantsUsage)
        #expect(request.user == "王小明")
    }

    @Test("include_usage without stream does not ask for a usage chunk")
    func usageWithoutStream() throws {
        let request = try ChatRequest.parse(
            try JSONParser.parse(#"{"model":"m","messages":\#(hello),"stream":false,"stream_options":{"include_usage":true}}"#))
        #expect(!request.clientWantsUsage)
        let request2 = try ChatRequest.parse(
            try JSONParser.parse(#"{"model":"m","messages":\#(hello),"stream":true,"stream_options":{"include_usage":false}}"#))
        #expect(!request2.clientWantsUsage)
    }

    @Test("null optional fields count as absent")
    func nulls() throws {
        let request = try ChatRequest.parse(
            try JSONParser.parse(
                #"{"model":"m","messages":\#(hello),"stream":null,"stream_options":null,"user":null,"max_tokens":null,"variables":null}"#))
        #expect(!request.stream)
        #expect(request.user == nil)
        #expect(request.body["variables"] == nil)
    }

    @Test("every role OpenAI defines is accepted, and content may be a string, parts or null")
    func rolesAndContent() throws {
        let text = #"""
            {"model":"m","messages":[
              {"role":"system","content":"s"},
              {"role":"developer","content":"d"},
              {"role":"user","content":[{"type":"text","text":"t"},{"type":"image_url","image_url":{"url":"data:"}}]},
              {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"c1","content":"result"},
              {"role":"function","name":"f","content":"legacy"},
              {"role":"assistant"}
            ]}
            """#
        let request = try ChatRequest.parse(try JSONParser.parse(text))
        #expect(request.messages.count == 7)
    }

    @Test(
        "every malformed request is a 400 naming the parameter",
        arguments: [
            (#"{"messages":[{"role":"user","content":"hi"}]}"#, "model"),
            (#"{"model":"","messages":[{"role":"user","content":"hi"}]}"#, "model"),
            (#"{"model":null,"messages":[{"role":"user","content":"hi"}]}"#, "model"),
            (#"{"model":42,"messages":[{"role":"user","content":"hi"}]}"#, "model"),
            (#"{"model":["m"],"messages":[{"role":"user","content":"hi"}]}"#, "model"),
            (#"{"model":"m"}"#, "messages"),
            (#"{"model":"m","messages":[]}"#, "messages"),
            (#"{"model":"m","messages":"hi"}"#, "messages"),
            (#"{"model":"m","messages":{"role":"user","content":"hi"}}"#, "messages"),
            (#"{"model":"m","messages":null}"#, "messages"),
            (#"{"model":"m","messages":["hi"]}"#, "messages[0]"),
            (#"{"model":"m","messages":[{"content":"hi"}]}"#, "messages[0].role"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"robot","content":"x"}]}"#, "messages[1].role"),
            (#"{"model":"m","messages":[{"role":"User","content":"hi"}]}"#, "messages[0].role"),
            (#"{"model":"m","messages":[{"role":"","content":"hi"}]}"#, "messages[0].role"),
            (#"{"model":"m","messages":[{"role":5,"content":"hi"}]}"#, "messages[0].role"),
            (#"{"model":"m","messages":[{"role":"user","content":5}]}"#, "messages[0].content"),
            (#"{"model":"m","messages":[{"role":"user","content":true}]}"#, "messages[0].content"),
            (#"{"model":"m","messages":[{"role":"user","content":{"text":"hi"}}]}"#, "messages[0].content"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":"true"}"#, "stream"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":1}"#, "stream"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":true}"#, "stream_options"),
            (
                #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":"yes"}}"#,
                "stream_options.include_usage"
            ),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":1}}"#, "stream_options.include_usage"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"user":5}"#, "user"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"user":{"id":"u"}}"#, "user"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":0}"#, "max_tokens"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":-5}"#, "max_tokens"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1.5}"#, "max_tokens"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":"100"}"#, "max_tokens"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1e400}"#, "max_tokens"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":0}"#, "max_completion_tokens"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":true}"#, "max_completion_tokens"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"variables":"x"}"#, "variables"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"variables":["x"]}"#, "variables"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"variables":{"name":5}}"#, "variables.name"),
        ])
    func refusals(text: String, param: String) throws {
        let error = try #require(try refusal(text))
        #expect(error.status == 400)
        #expect(error.type == "invalid_request_error")
        #expect(error.param == param)
    }

    @Test("a body that is not an object is a 400", arguments: ["[]", "\"hi\"", "42", "null", "true", #"[{"model":"m"}]"#])
    func notObject(text: String) throws {
        let error = try #require(try refusal(text))
        #expect(error.status == 400)
        #expect(error.type == "invalid_request_error")
    }

    @Test("missing fields are reported as missing, malformed ones as invalid")
    func codes() throws {
        #expect(try refusal(#"{"messages":\#(hello)}"#)?.code == "missing_required_parameter")
        #expect(try refusal(#"{"model":"m"}"#)?.code == "missing_required_parameter")
        #expect(try refusal(#"{"model":"","messages":\#(hello)}"#)?.code == "invalid_value")
        #expect(try refusal(#"{"model":"m","messages":[]}"#)?.code == "invalid_value")
    }

    @Test("user longer than 256 bytes is refused; an empty user is none")
    func userLength() throws {
        let long = String(repeating: "界", count: 86)  // 258 bytes
        #expect(try refusal(#"{"model":"m","messages":\#(hello),"user":"\#(long)"}"#)?.param == "user")
        let fits = String(repeating: "a", count: 256)
        #expect(try refusal(#"{"model":"m","messages":\#(hello),"user":"\#(fits)"}"#) == nil)
        let empty = try ChatRequest.parse(try JSONParser.parse(#"{"model":"m","messages":\#(hello),"user":""}"#))
        #expect(empty.user == nil)
    }

    @Test("the message count limit")
    func messageLimit() throws {
        let three = #"[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]"#
        #expect(try refusal(#"{"model":"m","messages":\#(three)}"#, limits: .init(maxMessages: 3)) == nil)
        #expect(try refusal(#"{"model":"m","messages":\#(three)}"#, limits: .init(maxMessages: 2))?.param == "messages")
    }

    @Test("positive whole max_tokens are accepted, including 1 and exponent forms")
    func maxTokensAccepted() throws {
        for literal in ["1", "4096", "1e3", "100.0"] {
            #expect(try refusal(#"{"model":"m","messages":\#(hello),"max_tokens":\#(literal)}"#) == nil, "\(literal)")
        }
    }

    @Test("variables are read and removed from the body")
    func variables() throws {
        let request = try ChatRequest.parse(
            try JSONParser.parse(#"{"model":"m","variables":{"customer":"Acme","lang":"中文"},"messages":\#(hello),"temperature":0}"#))
        #expect(request.variables == ["customer": "Acme", "lang": "中文"])
        #expect(request.body["variables"] == nil)
        #expect(request.body.keys == ["model", "messages", "temperature"])
    }

    @Test("fields Trellis does not own pass through untouched, in order, literals intact")
    func passThrough() throws {
        let text = #"""
            {"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],
             "model":"m",
             "response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,"schema":{"type":"object"}}},
             "seed":18446744073709551616,
             "messages":[{"role":"user","content":"hi","name":"bob"}],
             "logit_bias":{"50256":-100,"1000":1e2},
             "temperature":0.70,
             "tool_choice":"auto",
             "x_vendor_extension":{"nested":[1,2.50,null]},
             "variables":{"a":"b"},
             "n":1}
            """#
        let original = try #require(try JSONParser.parse(text).objectValue)
        let request = try ChatRequest.parse(.object(original))
        var expected = original
        expected.removeValue(forKey: "variables")
        #expect(request.body == expected)
        #expect(
            request.body.keys == [
                "tools", "model", "response_format", "seed", "messages", "logit_bias", "temperature", "tool_choice", "x_vendor_extension", "n",
            ])
        #expect(request.body["seed"]?.numberValue?.literal == "18446744073709551616")
        #expect(request.body["temperature"]?.numberValue?.literal == "0.70")
        #expect(request.body["logit_bias"]?["1000"]?.numberValue?.literal == "1e2")
        // The bytes written for everything but variables are the bytes that came in.
        #expect(JSONWriter.string(.object(request.body)) == JSONWriter.string(.object(expected)))
    }
}
