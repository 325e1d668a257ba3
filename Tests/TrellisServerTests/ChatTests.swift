import Foundation
import OpenAIWire
import Testing

@testable import TrellisServer

@Suite struct ChatTests {
    @Test func nonStreamingChatRelaysAnswerAndKeepsUnknownFields() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            let request: JSONValue = [
                "model": "echo",
                "messages": [["role": "user", "content": "你好，世界"]],
                "seed": .number(JSONNumber(validatedLiteral: "9007199254740993")),
                "logit_bias": ["50256": -100],
                "tools": [["type": "function", "function": ["name": "lookup", "parameters": ["type": "object"]]]],
                "response_format": ["type": "json_object"],
                "stop": ["\n\n"], "n": 1, "user": "alice@example.com",
            ]
            let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: request)
            #expect(reply.status == 200)
            #expect(reply.json["model"]?.stringValue == "echo")
            #expect(reply.json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "echo:你好，世界")
            #expect(reply.json["system_fingerprint"]?.stringValue == "mock-fp", "fields of the answer Trellis does not own pass through")
            #expect(reply.headers.first(name: "x-request-id")?.hasPrefix("req_") == true)
            #expect(reply.headers.first(name: "x-trellis-model-version") == "1")

            let sent = try #require(upstream.lastBody)
            #expect(sent["model"]?.stringValue == "echo")
            #expect(sent["seed"]?.numberValue?.literal == "9007199254740993", "a 64-bit seed passes through exactly")
            #expect(sent["logit_bias"] == request["logit_bias"])
            #expect(sent["tools"] == request["tools"])
            #expect(sent["response_format"] == request["response_format"])
            #expect(sent["stop"] == request["stop"])
            #expect(sent["user"]?.stringValue == "alice@example.com")
            #expect(sent["n"] == 1)
            // The request id travels upstream in Trellis's own header, never as X-Request-Id.
            let headers = try #require(upstream.requests.last?.headers)
            #expect(headers[.init("x-trellis-request-id")!] == reply.headers.first(name: "x-request-id"))
            #expect(headers[.init("x-request-id")!] == nil)
            #expect(headers[.authorization] == nil, "the caller's key never reaches the upstream")
        }
    }

    @Test func specParamsAreDefaultsAndMaxTokensIsACeiling() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await gw.createModel(
                "tuned", spec: ["upstream": "mock", "model": "echo", "params": ["temperature": 0.2, "max_tokens": 64, "top_p": 0.9]])
            _ = try await gw.request(
                .POST, "/v1/chat/completions", key: key,
                json: ["model": "tuned", "messages": [["role": "user", "content": "x"]], "temperature": 1.5, "max_tokens": 500])
            let sent = try #require(upstream.lastBody)
            #expect(sent["temperature"]?.numberValue?.doubleValue == 1.5, "the caller's value wins over a default")
            #expect(sent["max_tokens"]?.numberValue?.intValue == 64, "max_tokens is clamped to the spec's ceiling")
            #expect(sent["top_p"]?.numberValue?.doubleValue == 0.9, "omitted fields get the default")

            _ = try await gw.request(.POST, "/v1/chat/completions", key: key, json: ["model": "tuned", "messages": [["role": "user", "content": "x"]]])
            let second = try #require(upstream.lastBody)
            #expect(second["max_tokens"]?.numberValue?.intValue == 64)
            #expect(second["temperature"]?.numberValue?.doubleValue == 0.2)
        }
    }

    @Test func embeddingsAreRelayedAndRecorded() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await gw.createModel("embedder", spec: ["upstream": "mock", "model": "mock-embed"])
            let reply = try await gw.request(.POST, "/v1/embeddings", key: key, json: ["model": "embedder", "input": ["a", "b"]])
            #expect(reply.status == 200)
            #expect(reply.json["data"]?.arrayValue?.count == 2)
            #expect(reply.json["model"]?.stringValue == "embedder")
            #expect(upstream.lastBody?["model"]?.stringValue == "mock-embed")
            await gw.flushUsage()
            let rows = try await gw.gateway.store.usageEvents()
            let row = try #require(rows.last)
            #expect(row.endpoint == "embeddings")
            #expect(row.promptTokens == 4)
            #expect(row.estimated == false)

            let missing = try await gw.request(.POST, "/v1/embeddings", key: key, json: ["model": "embedder"])
            #expect(missing.status == 400)
            #expect(missing.json["error"]?["param"]?.stringValue == "input")
        }
    }
}
