import Foundation
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

/// The Responses API over a router's stream, pinned and adapter versions, and masking in a stream.
@Suite struct ResponsesKindsStreamTests {
    static let textEvents = (
        head: ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"],
        tail: ["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]
    )

    @Test func aRouterStreamsItsChildsAnswerAsTypedEvents() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            let model = try await ResponsesKindsTests.setUp(.router, gw, upstream)
            let response = try await gw.stream("/v1/responses", key: key, json: ["model": .string(model), "input": "hi there", "stream": true])
            #expect(response.status == .ok)
            #expect(response.headers.first(name: "x-trellis-routed-to") == "chatty@1", "no tools: the default child")
            let events = try await readResponseEvents(response)
            let types = events.compactMap { $0["type"]?.stringValue }
            let deltas = events.filter { $0["type"] == "response.output_text.delta" }.compactMap { $0["delta"]?.stringValue }
            #expect(deltas.count > 1, "the child streams in pieces")
            #expect(types == Self.textEvents.head + Array(repeating: "response.output_text.delta", count: deltas.count) + Self.textEvents.tail)
            #expect(events.map { $0["sequence_number"]?.numberValue?.intValue } == Array(0..<events.count))
            #expect(deltas.joined() == "echo:hi there")
            #expect(events.first { $0["type"] == "response.output_text.done" }?["text"]?.stringValue == "echo:hi there")
            let completed = try #require(events.last?["response"])
            #expect(completed["model"]?.stringValue == model, "the client sees the router it called")
            #expect(ResponseShell.outputText(of: completed.objectValue ?? [:]) == "echo:hi there")
            #expect(upstream.lastBody?["model"] == "echo-stream" && upstream.lastBody?["stream"] == true)

            await gw.flushUsage()
            let row = try #require(try await gw.gateway.store.usageEvents().last)
            #expect(row.endpoint == "responses" && row.stream)
            #expect(row.model == model)
            let report = try await gw.admin(.GET, "/usage?group_by=model,routed_to")
            let routed = report.json["data"]?.arrayValue?.first { $0["model"]?.stringValue == model }
            #expect(routed?["routed_to"] == "chatty@1" && routed?["requests"]?.numberValue?.intValue == 1, "\(report.text)")
        }
    }

    @Test func aPinnedVersionAndAnAdapterVersionAnswerOverResponses() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await gw.createUpstream("llama", baseURL: upstream.baseURL, kind: "llamacpp")
            let adapter = try await gw.admin(
                .POST, "/adapters", ["name": "claims-lora", "upstream": "llama", "base_model": "echo", "lora_id": 7, "lora_scale": 0.25])
            try #require(adapter.status == 201, "\(adapter.text)")
            try await gw.createModel("claims", spec: ["upstream": "mock", "model": "echo"])
            let v2 = try await gw.admin(.POST, "/models/claims/versions", ["spec": ["adapter": "claims-lora"]])
            try #require(v2.status == 201 && v2.json["version"]?.numberValue?.intValue == 2, "\(v2.text)")
            #expect(try await gw.admin(.PUT, "/models/claims/traffic", ["1": 100]).status == 200)
            let lora: JSONValue = [["id": 7, "scale": 0.25]]

            /// Asks `model` over the Responses API: the version header and the response object; checks what the upstream got.
            func ask(_ model: String, _ input: String, version: Int, stream: Bool = false) async throws -> ResponsesTurn {
                let turn = try await ResponsesTurn.send(gw, key: key, ["model": .string(model), "input": .string(input)], stream: stream)
                #expect(turn.headers.first(name: "x-trellis-model-version") == String(version), "\(model)")
                #expect(turn.response["model"]?.stringValue == model, "the response names the model as called")
                let sent = upstream.lastBody
                #expect(sent?["model"] == "echo")
                if version == 2 {
                    #expect(sent?["lora"] == lora, "\(model): the adapter's LoRA")
                } else {
                    #expect(sent?["lora"] == nil, "\(model): no LoRA for the plain version")
                }
                #expect(sent?["messages"]?.arrayValue?.last?["content"]?.stringValue == input)
                return turn
            }

            #expect(try await ask("claims", "plain", version: 1).text == "echo:plain", "unpinned: the traffic's version")
            let pinned = try await ask("claims@2", "tuned", version: 2)
            #expect(pinned.text == "echo:tuned", "pinned: the adapter version, whatever the traffic says")
            let id = try #require(pinned.response["id"]?.stringValue)
            let kept = try await gw.request(.GET, "/v1/responses/\(id)", key: key)
            #expect(kept.status == 200 && kept.json == pinned.response, "a pinned version's response is kept and read back")
            let streamed = try await ask("claims@2", "tuned stream", version: 2, stream: true)
            #expect(streamed.deltas("response.output_text.delta") == "tok0tok1tok2" && streamed.text == "tok0tok1tok2")

            #expect(try await gw.admin(.PUT, "/models/claims/traffic", ["2": 100]).status == 200)
            _ = try await ask("claims", "follows", version: 2)
            _ = try await ask("claims@1", "stays", version: 1)

            await gw.flushUsage()
            let rows = try await gw.gateway.store.usageEvents().filter { $0.endpoint == "responses" }
            #expect(rows.compactMap(\.modelVersion).sorted() == [1, 1, 2, 2, 2], "usage rows record the version that answered")
        }
    }

    @Test func aMaskedStreamShowsThePlaceholderUpstreamAndTheOriginalToTheClient() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await gw.createUpstream("cloud", baseURL: upstream.baseURL, extra: ["labels": ["external"]])
            try await gw.createModel("outside-stream", spec: ["upstream": "cloud", "model": "echo-stream"])
            let input = "Call me on 13812345678"
            let turn = try await ResponsesTurn.send(gw, key: key, ["model": "outside-stream", "input": .string(input)], stream: true)
            let sent = upstream.lastBody?["messages"]?.arrayValue?.last?["content"]?.stringValue
            #expect(sent == "Call me on [PHONE_1]", "the external upstream sees the placeholder")

            // The upstream echoes the placeholder in pieces of three characters, so it arrives split across chunks.
            let deltas = turn.events.filter { $0["type"] == "response.output_text.delta" }.compactMap { $0["delta"]?.stringValue }
            #expect(deltas.joined() == "echo:" + input)
            #expect(deltas.allSatisfy { !$0.contains("[") && !$0.contains("PHONE") }, "no piece of the placeholder reaches the client: \(deltas)")
            #expect(turn.event("response.output_text.done")?["text"]?.stringValue == "echo:" + input)
            #expect(turn.event("response.content_part.done")?["part"]?["text"]?.stringValue == "echo:" + input)
            #expect(turn.event("response.output_item.done")?["item"]?["content"]?.arrayValue?.first?["text"]?.stringValue == "echo:" + input)
            #expect(turn.text == "echo:" + input, "the completed response")
            let id = try #require(turn.response["id"]?.stringValue)
            let kept = try await gw.request(.GET, "/v1/responses/\(id)", key: key)
            #expect(kept.json["output"] == turn.response["output"], "kept as the caller got it")
            #expect(!kept.text.contains("[PHONE_1]"))
        }
    }
}
