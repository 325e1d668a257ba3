import Foundation
import OpenAIWire
import Testing

@testable import TrellisServer

@Suite struct ResponsesToolTests {
    static let weather: JSONValue = [
        "type": "function", "name": "get_weather", "description": "The weather in a city.",
        "parameters": ["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]],
    ]

    @Test func aFunctionCallAndItsOutputRoundTrip() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await gw.createModel("tools", spec: ["upstream": "mock", "model": "tools"])
            let first = try await gw.request(
                .POST, "/v1/responses", key: key, json: ["model": "tools", "input": "Weather in Paris?", "tools": [Self.weather], "tool_choice": "auto"])
            #expect(first.status == 200, "\(first.text)")
            let sentTools = try #require(upstream.lastBody?["tools"]?.arrayValue)
            #expect(sentTools.first?["function"]?["name"]?.stringValue == "get_weather", "a function tool goes upstream in the chat shape")
            #expect(sentTools.first?["function"]?["parameters"] == Self.weather["parameters"])
            #expect(upstream.lastBody?["tool_choice"]?.stringValue == "auto")
            let call = try #require(first.json["output"]?.arrayValue?.first)
            #expect(call["type"]?.stringValue == "function_call")
            #expect(call["call_id"]?.stringValue == "call_mock1")
            #expect(call["name"]?.stringValue == "get_weather")
            #expect(call["arguments"]?.stringValue == "{\"city\":\"Paris\"}")
            #expect(first.json["tools"] == [Self.weather], "the tools are echoed in the Responses shape")

            // The client runs the tool and sends the whole conversation back, as agent frameworks do: its own
            // items echoed with their ids and status, and the call's output.
            let second = try await gw.request(
                .POST, "/v1/responses", key: key,
                json: [
                    "model": "tools", "tools": [Self.weather],
                    "input": [
                        ["role": "user", "content": "Weather in Paris?"], call, ["type": "function_call_output", "call_id": "call_mock1", "output": "sunny"],
                    ],
                ])
            #expect(second.status == 200, "\(second.text)")
            #expect(second.json["output"]?.arrayValue?.first?["content"]?.arrayValue?.first?["text"]?.stringValue == "tool said: sunny")
            let messages = try #require(upstream.lastBody?["messages"]?.arrayValue)
            #expect(messages.count == 3)
            #expect(messages[1]["role"]?.stringValue == "assistant")
            #expect(messages[1]["tool_calls"]?.arrayValue?.first?["id"]?.stringValue == "call_mock1")
            #expect(messages[1]["tool_calls"]?.arrayValue?.first?["function"]?["arguments"]?.stringValue == "{\"city\":\"Paris\"}")
            #expect(messages[2] == ["role": "tool", "tool_call_id": "call_mock1", "content": "sunny"])

            // The same turn through previous_response_id: only the output is new.
            let third = try await gw.request(
                .POST, "/v1/responses", key: key,
                json: [
                    "model": "tools", "tools": [Self.weather], "previous_response_id": first.json["id"] ?? .null,
                    "input": [["type": "function_call_output", "call_id": "call_mock1", "output": "rainy"]],
                ])
            #expect(third.json["output"]?.arrayValue?.first?["content"]?.arrayValue?.first?["text"]?.stringValue == "tool said: rainy")
            #expect(upstream.lastBody?["messages"]?.arrayValue?.count == 3)
        }
    }

    @Test func aStreamedFunctionCallSendsItsArgumentsAsDeltas() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            try await gw.createModel("tools", spec: ["upstream": "mock", "model": "tools"])
            let response = try await gw.stream("/v1/responses", key: key, json: ["model": "tools", "input": "Paris?", "tools": [Self.weather], "stream": true])
            let events = try await readResponseEvents(response)
            let types = events.compactMap { $0["type"]?.stringValue }
            #expect(
                types
                    == [
                        "response.created", "response.in_progress", "response.output_item.added", "response.function_call_arguments.delta",
                        "response.function_call_arguments.delta", "response.function_call_arguments.done", "response.output_item.done",
                        "response.completed",
                    ])
            let added = try #require(events.first { $0["type"] == "response.output_item.added" }?["item"])
            #expect(added["call_id"]?.stringValue == "call_mock1")
            #expect(added["name"]?.stringValue == "get_weather")
            let arguments = events.filter { $0["type"] == "response.function_call_arguments.delta" }.compactMap { $0["delta"]?.stringValue }.joined()
            #expect(arguments == "{\"city\":\"Paris\"}")
            let item = try #require(events.last?["response"]?["output"]?.arrayValue?.first)
            #expect(item["arguments"]?.stringValue == arguments)
            #expect(item["id"] == added["id"])
            #expect(item["status"]?.stringValue == "completed")
        }
    }

    @Test(
        "what Trellis does not serve is a 400 naming the field",
        arguments: [
            (["tools": [["type": "web_search"]]], "tools[0].type"),
            (["background": true], "background"),
            (["reasoning": ["effort": "high"]], "reasoning"),
            (["include": ["message.output_text.logprobs"]], "include"),
            (["truncation": "auto"], "truncation"),
            (["prompt": ["id": "pmpt_1"]], "prompt"),
            (["temperatur": 1], "temperatur"),
            (["input": [["type": "item_reference", "id": "msg_1"]]], "input[0].type"),
            (["input": [["role": "user", "content": [["type": "input_file", "file_id": "f"]]]]], "input[0].content[0].type"),
            (["input": .null], "input"),
            (["text": ["format": ["type": "yaml"]]], "text.format.type"),
            (["metadata": ["k": 1]], "metadata.k"),
        ] as [(JSONObject, String)])
    func refusals(fields: JSONObject, param: String) async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            var body: JSONObject = ["model": "echo", "input": "hi"]
            for member in fields { body[member.key] = member.value }
            let before = upstream.requests.count
            let reply = try await gw.request(.POST, "/v1/responses", key: key, json: .object(body))
            #expect(reply.status == 400, "\(reply.text)")
            #expect(reply.json["error"]?["param"]?.stringValue == param)
            #expect(reply.json["error"]?["type"]?.stringValue == "invalid_request_error")
            #expect(upstream.requests.count == before, "nothing reaches the model server")
        }
    }

    @Test func feedbackTakesTheResponseID() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            let created = try await gw.request(.POST, "/v1/responses", key: key, json: ["model": "echo", "input": "rate me"])
            let id = try #require(created.json["id"]?.stringValue)
            let rated = try await gw.request(.POST, "/v1/feedback", key: key, json: ["request_id": .string(id), "rating": 1])
            #expect(rated.status == 201, "\(rated.text)")
            #expect(rated.json["request_id"]?.stringValue == created.headers.first(name: "x-request-id"))
            #expect(rated.json["model"]?.stringValue == "echo")
        }
    }
}
