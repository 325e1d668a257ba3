import AsyncHTTPClient
import Foundation
import NIOHTTP1
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

/// Function calling through each kind of industry model (prompt template, RAG, fine-tuned adapter, router) over both
/// APIs, whole and streamed: the tools reach the upstream, the mock's call comes back in the API's shape, and the
/// tool's result goes up and the final answer comes down.
@Suite struct ResponsesKindsTests {
    enum Kind: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case prompt, rag, adapter, router
        var testDescription: String { rawValue }
    }

    static let callID = "call_mock1"
    static let arguments = "{\"city\":\"Paris\"}"
    static let question: JSONValue = ["role": "user", "content": "Weather in Paris?"]
    /// `ResponsesToolTests.weather` in the chat shape.
    static let chatTool: JSONValue = [
        "type": "function",
        "function": [
            "name": "get_weather", "description": ResponsesToolTests.weather["description"] ?? .null,
            "parameters": ResponsesToolTests.weather["parameters"] ?? .null,
        ],
    ]

    /// A model of `kind` (for acme) whose upstream call is the mock's `tools` model; its name. The router's default
    /// child, for requests without tools, is `chatty` (the mock's `echo-stream`).
    static func setUp(_ kind: Kind, _ gw: TestGateway, _ upstream: MockUpstream) async throws -> String {
        switch kind {
        case .prompt:
            let prompt: JSONValue = ["messages": [["role": "system", "content": "Answer about the weather."], ["role": "user", "content": "Q: {{input}}"]]]
            try await gw.createModel("forecaster", spec: ["upstream": "mock", "model": "tools", "prompt": prompt])
            return "forecaster"
        case .rag:
            let manage = try await gw.issueKey(tenant: "acme", ["scopes": ["manage"]]).key
            let base = try await gw.request(.POST, "/admin/v1/knowledge-bases", key: manage, json: ["name": "atlas"])
            try #require(base.status == 201, "\(base.text)")
            let doc = try await gw.request(
                .POST, "/admin/v1/knowledge-bases/atlas/documents", key: manage,
                json: ["title": "Paris", "text": "Paris weather in spring is mild and often rainy."])
            try #require(doc.status == 201, "\(doc.text)")
            try await gw.createModel("atlas-guide", tenant: "acme", spec: ["upstream": "mock", "model": "tools", "knowledge": ["bases": ["atlas"]]])
            return "atlas-guide"
        case .adapter:
            try await gw.createUpstream("llama", baseURL: upstream.baseURL, kind: "llamacpp")
            let adapter = try await gw.admin(
                .POST, "/adapters", ["name": "weather-lora", "upstream": "llama", "base_model": "tools", "lora_id": 3, "lora_scale": 0.5])
            try #require(adapter.status == 201, "\(adapter.text)")
            try await gw.createModel("tuned", spec: ["adapter": "weather-lora"])
            return "tuned"
        case .router:
            try await gw.createModel("weather-tools", tenant: "acme", spec: ["upstream": "mock", "model": "tools"])
            try await gw.createModel("chatty", tenant: "acme", spec: ["upstream": "mock", "model": "echo-stream"])
            let router: JSONValue = ["routes": [["when": ["has_tools": true], "model": "weather-tools"]], "default": "chatty"]
            try await gw.createModel("desk", tenant: "acme", spec: ["router": router])
            return "desk"
        }
    }

    /// That the request went through `kind`'s own step: seen in the body the upstream got, or in the reply's headers.
    static func expectKindApplied(_ kind: Kind, sent: JSONValue?, headers: HTTPHeaders) {
        let messages = sent?["messages"]?.arrayValue ?? []
        switch kind {
        case .prompt:
            #expect(messages.first?["role"] == "system" && messages.first?["content"] == "Answer about the weather.", "\(messages)")
            #expect(messages.contains { $0["role"] == "user" && $0["content"] == "Q: Weather in Paris?" }, "the input template: \(messages)")
        case .rag:
            #expect(
                messages.contains { $0["role"] == "system" && $0["content"]?.stringValue?.contains("often rainy") == true }, "the passage: \(messages)")
        case .adapter:
            #expect(sent?["model"] == "tools")
            #expect(sent?["lora"] == [["id": 3, "scale": 0.5]], "the adapter's LoRA: \(String(describing: sent))")
        case .router:
            #expect(headers.first(name: "x-trellis-routed-to") == "weather-tools@1")
        }
    }

    /// That the upstream got the function tool in the chat shape, and the stream flag as the client sent it.
    static func expectToolsSent(_ upstream: MockUpstream, stream: Bool) {
        let sent = upstream.lastBody
        let tool = sent?["tools"]?.arrayValue?.first?["function"]
        #expect(tool?["name"] == "get_weather", "\(String(describing: sent))")
        #expect(tool?["parameters"] == ResponsesToolTests.weather["parameters"])
        #expect((sent?["stream"]?.boolValue ?? false) == stream)
    }

    /// That the upstream got the call and then its result, as the last two messages.
    static func expectResultSent(_ upstream: MockUpstream) {
        let messages = upstream.lastBody?["messages"]?.arrayValue ?? []
        let call = messages.dropLast().last?["tool_calls"]?.arrayValue?.first
        #expect(messages.dropLast().last?["role"] == "assistant", "\(messages)")
        #expect(call?["id"]?.stringValue == callID && call?["function"]?["name"] == "get_weather")
        #expect(call?["function"]?["arguments"]?.stringValue == arguments)
        #expect(messages.last?["role"] == "tool" && messages.last?["tool_call_id"]?.stringValue == callID && messages.last?["content"] == "sunny")
    }

    @Test("function calls pass through each kind of model over chat completions", arguments: Kind.allCases, [false, true])
    func chatFunctionCall(kind: Kind, stream: Bool) async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            let model = try await Self.setUp(kind, gw, upstream)
            var body: JSONObject = ["model": .string(model), "messages": [Self.question], "tools": [Self.chatTool]]
            let first = try await ChatTurn.send(gw, key: key, body, stream: stream)
            #expect(first.call == ChatTurn.Call(id: Self.callID, name: "get_weather", arguments: Self.arguments))
            #expect(first.finishReason == "tool_calls")
            #expect(first.model == model, "the client sees the model it called")
            Self.expectToolsSent(upstream, stream: stream)
            Self.expectKindApplied(kind, sent: upstream.lastBody, headers: first.headers)

            let assistant: JSONValue = [
                "role": "assistant", "content": .null,
                "tool_calls": [["id": .string(Self.callID), "type": "function", "function": ["name": "get_weather", "arguments": .string(Self.arguments)]]],
            ]
            body["messages"] = [Self.question, assistant, ["role": "tool", "tool_call_id": .string(Self.callID), "content": "sunny"]]
            let second = try await ChatTurn.send(gw, key: key, body, stream: stream)
            #expect(second.content == "tool said: sunny")
            #expect(second.call == nil && second.finishReason == "stop")
            Self.expectResultSent(upstream)
            Self.expectKindApplied(kind, sent: upstream.lastBody, headers: second.headers)
            #expect(upstream.calls("tools") == 2, "one upstream call per turn")
        }
    }

    @Test("function calls pass through each kind of model over the Responses API", arguments: Kind.allCases, [false, true])
    func responsesFunctionCall(kind: Kind, stream: Bool) async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            let model = try await Self.setUp(kind, gw, upstream)
            let tools: JSONValue = [ResponsesToolTests.weather]
            let first = try await ResponsesTurn.send(gw, key: key, ["model": .string(model), "input": "Weather in Paris?", "tools": tools], stream: stream)
            let call = try #require(first.items.first, "\(first.response)")
            #expect(first.items.count == 1)
            #expect(call["type"] == "function_call" && call["status"] == "completed")
            #expect(call["call_id"]?.stringValue == Self.callID && call["name"] == "get_weather")
            #expect(call["arguments"]?.stringValue == Self.arguments)
            #expect(first.response["model"]?.stringValue == model && first.response["status"] == "completed")
            if stream {
                #expect(first.deltas("response.function_call_arguments.delta") == Self.arguments)
                let done = first.event("response.function_call_arguments.done")
                #expect(done?["arguments"]?.stringValue == Self.arguments && done?["name"] == "get_weather" && done?["item_id"] == call["id"])
            }
            Self.expectToolsSent(upstream, stream: stream)
            Self.expectKindApplied(kind, sent: upstream.lastBody, headers: first.headers)

            // Whole, the client sends the conversation back with the call; streamed, it continues the kept response.
            let output: JSONValue = ["type": "function_call_output", "call_id": .string(Self.callID), "output": "sunny"]
            var next: JSONObject = ["model": .string(model), "tools": tools, "input": [Self.question, call, output]]
            if stream {
                next["previous_response_id"] = first.response["id"]
                next["input"] = [output]
            }
            let second = try await ResponsesTurn.send(gw, key: key, next, stream: stream)
            #expect(second.text == "tool said: sunny", "\(second.response)")
            #expect(second.items.compactMap { $0["type"]?.stringValue } == ["message"])
            if stream { #expect(second.deltas("response.output_text.delta") == "tool said: sunny") }
            Self.expectResultSent(upstream)
            Self.expectKindApplied(kind, sent: upstream.lastBody, headers: second.headers)
            #expect(upstream.calls("tools") == 2, "one upstream call per turn")
        }
    }
}

/// One chat completion as the client got it, whole or streamed (put back together from the deltas): the model it
/// names, its text, its first tool call, and why it finished.
struct ChatTurn {
    struct Call: Equatable {
        var id: String?
        var name: String?
        var arguments = ""
    }

    var headers: HTTPHeaders
    var model: String?
    var content = ""
    var call: Call?
    var finishReason: String?

    static func send(_ gw: TestGateway, key: String, _ body: JSONObject, stream: Bool) async throws -> ChatTurn {
        var body = body
        if stream { body["stream"] = true }
        guard stream else {
            let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: .object(body))
            try #require(reply.status == 200, "\(reply.text)")
            let choice = reply.json["choices"]?.arrayValue?.first
            let message = choice?["message"]
            var turn = ChatTurn(headers: reply.headers, model: reply.json["model"]?.stringValue, finishReason: choice?["finish_reason"]?.stringValue)
            turn.content = message?["content"]?.stringValue ?? ""
            if let call = message?["tool_calls"]?.arrayValue?.first {
                turn.call = Call(
                    id: call["id"]?.stringValue, name: call["function"]?["name"]?.stringValue, arguments: call["function"]?["arguments"]?.stringValue ?? "")
            }
            return turn
        }
        let response = try await gw.stream("/v1/chat/completions", key: key, json: .object(body))
        try #require(response.status == .ok)
        let events = try await readEvents(response)
        #expect(events.last == "[DONE]")
        var turn = ChatTurn(headers: response.headers)
        for event in events.dropLast() {
            let chunk = try JSONParser.parse(event)
            turn.model = turn.model ?? chunk["model"]?.stringValue
            guard let choice = chunk["choices"]?.arrayValue?.first else { continue }
            turn.content += choice["delta"]?["content"]?.stringValue ?? ""
            for piece in choice["delta"]?["tool_calls"]?.arrayValue ?? [] {
                var call = turn.call ?? Call()
                call.id = call.id ?? piece["id"]?.stringValue
                call.name = call.name ?? piece["function"]?["name"]?.stringValue
                call.arguments += piece["function"]?["arguments"]?.stringValue ?? ""
                turn.call = call
            }
            turn.finishReason = choice["finish_reason"]?.stringValue ?? turn.finishReason
        }
        return turn
    }
}

/// One response as the client got it: the final response object (the body, or a stream's `response.completed`) and
/// for a stream its events.
struct ResponsesTurn {
    var headers: HTTPHeaders
    var response: JSONValue
    var events: [JSONValue] = []

    var items: [JSONValue] { response["output"]?.arrayValue ?? [] }
    /// The text of the message items.
    var text: String { ResponseShell.outputText(of: response.objectValue ?? [:]) }

    /// The first event of `type`.
    func event(_ type: String) -> JSONValue? { events.first { $0["type"]?.stringValue == type } }

    /// The `delta`s of the events of `type`, joined.
    func deltas(_ type: String) -> String {
        events.filter { $0["type"]?.stringValue == type }.compactMap { $0["delta"]?.stringValue }.joined()
    }

    static func send(_ gw: TestGateway, key: String, _ body: JSONObject, stream: Bool) async throws -> ResponsesTurn {
        var body = body
        if stream { body["stream"] = true }
        guard stream else {
            let reply = try await gw.request(.POST, "/v1/responses", key: key, json: .object(body))
            try #require(reply.status == 200, "\(reply.text)")
            return ResponsesTurn(headers: reply.headers, response: reply.json)
        }
        let response = try await gw.stream("/v1/responses", key: key, json: .object(body))
        try #require(response.status == .ok)
        let events = try await readResponseEvents(response)
        let last = try #require(events.last)
        try #require(last["type"] == "response.completed", "\(events.compactMap { $0["type"]?.stringValue })")
        #expect(events.first?["type"] == "response.created")
        return ResponsesTurn(headers: response.headers, response: last["response"] ?? .null, events: events)
    }
}
