import Foundation
import OpenAIWire
import Testing

@testable import TrellisServer

/// What a client body or an upstream answer may hold: JSON parser limits on requests, and the caps on an
/// upstream's stream events and whole answers.
@Suite struct PayloadLimitTests {
    func chat(_ model: String, content: String = "hi", stream: Bool = false) -> JSONObject {
        ["model": .string(model), "stream": .bool(stream), "messages": [["role": "user", "content": .string(content)]]]
    }

    @Test("a chat body with an object over the member cap is 400, naming the limit, and never reaches the upstream")
    func memberCapIs400() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            let limit = JSONParser.defaultMaxObjectMembers
            var bias = JSONObject()
            for token in 0...limit { bias.appendUnchecked(String(token), .int(1)) }
            var body = chat("echo")
            body["logit_bias"] = .object(bias)
            let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: .object(body))
            #expect(reply.status == 400, "\(reply.text.prefix(300))")
            #expect(reply.json["error"]?["type"]?.stringValue == "invalid_request_error")
            #expect(reply.json["error"]?["code"]?.stringValue == "invalid_json")
            let message = try #require(reply.json["error"]?["message"]?.stringValue)
            #expect(message.contains("JSON object has more than \(limit) members"), "\(message)")
            // A duplicate key deep in a large (hashed) object is still refused.
            var duplicated = JSONObject()
            for token in 0..<5_000 { duplicated.appendUnchecked(String(token), .int(1)) }
            duplicated.appendUnchecked("17", .int(2))
            body["logit_bias"] = .object(duplicated)
            let duplicate = try await gw.request(.POST, "/v1/chat/completions", key: key, json: .object(body))
            #expect(duplicate.status == 400)
            #expect(duplicate.json["error"]?["message"]?.stringValue?.contains(#"duplicate key "17""#) == true, "\(duplicate.text)")
            #expect(upstream.requests.isEmpty)
            // At the cap it passes.
            bias.removeValue(forKey: "0")
            body["logit_bias"] = .object(bias)
            #expect(try await gw.request(.POST, "/v1/chat/completions", key: key, json: .object(body)).status == 200)
        }
    }

    @Test("an upstream stream whose event never ends is cut at upstream.max_event_bytes with an error event and [DONE]")
    func endlessEventIsCut() async throws {
        try await TestGateway.withStandardSetup(configure: { $0.upstreamMaxEventBytes = 256 << 10 }) { gw, upstream, key in
            try await gw.createModel("endless", spec: ["upstream": "mock", "model": "endless-event"])
            let response = try await gw.stream("/v1/chat/completions", key: key, json: .object(chat("endless", stream: true)))
            #expect(response.status.code == 200)
            let events = try await readEvents(response)
            #expect(events.count == 3, "\(events.map { $0.prefix(200) })")
            let first = events.first.flatMap { try? JSONParser.parse($0) }
            #expect(first?["choices"]?.arrayValue?.first?["delta"]?["role"]?.stringValue == "assistant")
            let error = try #require(events.dropFirst().first.flatMap { try? JSONParser.parse($0) }?["error"])
            #expect(error["code"]?.stringValue == "upstream_event_too_large")
            #expect(error["type"]?.stringValue == "upstream_error")
            #expect(error["message"]?.stringValue?.contains("\(256 << 10) bytes") == true)
            #expect(events.last == "[DONE]")
            // The gateway let go of the upstream, which stops sending.
            #expect(await upstream.waitFor("cancelled:endless-event"))
            await gw.flushUsage()
            let row = try #require(try await gw.gateway.store.usageEvents().last)
            #expect(row.status == 502)
            #expect(row.errorCode == "upstream_event_too_large")
        }
    }

    @Test("whole answers over upstream.max_response_bytes and upstream.max_embeddings_response_bytes are 502")
    func wholeAnswerCaps() async throws {
        try await TestGateway.withStandardSetup(configure: {
            $0.upstreamMaxResponseBytes = 65_536
            $0.upstreamMaxEmbeddingsResponseBytes = 65_536
        }) { gw, upstream, key in
            // The echo answer repeats the content: under the cap it passes, over it is the upstream's fault.
            let small = try await gw.request(.POST, "/v1/chat/completions", key: key, json: .object(chat("echo", content: "hi")))
            #expect(small.status == 200)
            let big = try await gw.request(
                .POST, "/v1/chat/completions", key: key, json: .object(chat("echo", content: String(repeating: "a", count: 70_000))))
            #expect(big.status == 502, "\(big.text.prefix(300))")
            #expect(big.json["error"]?["type"]?.stringValue == "upstream_error")
            #expect(big.json["error"]?["code"]?.stringValue == "upstream_invalid_response")
            // Embeddings: 256 numbers an input, so a few inputs fit and two hundred do not.
            try await gw.createModel("embedder", spec: ["upstream": "mock", "model": "embed-256"])
            let few = try await gw.request(.POST, "/v1/embeddings", key: key, json: ["model": "embedder", "input": ["a b", "c d"]])
            #expect(few.status == 200)
            let inputs: [JSONValue] = (0..<200).map { .string("text number \($0) with a few words") }
            let many = try await gw.request(.POST, "/v1/embeddings", key: key, json: ["model": "embedder", "input": .array(inputs)])
            #expect(many.status == 502, "\(many.text.prefix(300))")
            #expect(many.json["error"]?["code"]?.stringValue == "upstream_invalid_response")
        }
    }

    @Test("the upstream answer settings are read from YAML keys and the environment, and validated")
    func settings() throws {
        let defaults = try TrellisConfig.load(file: nil, environment: [:])
        #expect(defaults.upstreamMaxEventBytes == 8 << 20)
        #expect(defaults.upstreamMaxResponseBytes == 8 << 20)
        #expect(defaults.upstreamMaxEmbeddingsResponseBytes == 64 << 20)
        let set = try TrellisConfig.load(
            file: nil,
            environment: [
                "TRELLIS_UPSTREAM_MAX_EVENT_BYTES": "1048576", "TRELLIS_UPSTREAM_MAX_RESPONSE_BYTES": "2097152",
                "TRELLIS_UPSTREAM_MAX_EMBEDDINGS_RESPONSE_BYTES": "209715200",
            ])
        #expect(set.upstreamMaxEventBytes == 1 << 20)
        #expect(set.upstreamMaxResponseBytes == 2 << 20)
        #expect(set.upstreamMaxEmbeddingsResponseBytes == 200 << 20)
        // The element cap of an embeddings answer follows its byte cap (2,048 × 3,072 numbers fit in 200 MiB's).
        #expect(set.embeddingsAnswerLimits.maxElements >= 2_048 * 3_072)
        #expect(defaults.embeddingsAnswerLimits.maxElements >= 2_048 * 1_024)
        for (name, value) in [
            ("TRELLIS_UPSTREAM_MAX_EVENT_BYTES", "100"), ("TRELLIS_UPSTREAM_MAX_RESPONSE_BYTES", "0"),
            ("TRELLIS_UPSTREAM_MAX_EMBEDDINGS_RESPONSE_BYTES", "lots"),
        ] {
            #expect(throws: (any Error).self, "\(name)=\(value)") { try TrellisConfig.load(file: nil, environment: [name: value]) }
        }
    }
}
