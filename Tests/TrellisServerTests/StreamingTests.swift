import AsyncHTTPClient
import Foundation
import OpenAIWire
import Testing

@testable import TrellisServer

@Suite struct StreamingTests {
    func chatBody(_ model: String, maxTokens: Int = 3, includeUsage: Bool? = nil) -> JSONValue {
        var body: JSONObject = ["model": .string(model), "stream": true, "max_tokens": .int(maxTokens), "messages": [["role": "user", "content": "hi"]]]
        if let includeUsage { body["stream_options"] = ["include_usage": .bool(includeUsage)] }
        return .object(body)
    }

    @Test func streamIsFramedAsOpenAIDoesAndUsageChunkIsStripped() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            let response = try await gw.stream("/v1/chat/completions", key: key, json: chatBody("echo", maxTokens: 4))
            #expect(response.status.code == 200)
            #expect(response.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true)
            #expect(response.headers.first(name: "x-trellis-model-version") == "1")
            #expect(response.headers.first(name: "x-request-id")?.hasPrefix("req_") == true)
            var raw: [UInt8] = []
            for try await buffer in response.body { raw.append(contentsOf: buffer.readableBytesView) }
            let text = String(decoding: raw, as: UTF8.self)
            // Byte framing: every event is "data: <json>\n\n" and the stream ends with exactly one [DONE].
            let events = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(events.allSatisfy { $0.hasPrefix("data: ") && !$0.contains("\n") })
            #expect(events.last == "data: [DONE]")
            #expect(text.hasSuffix("data: [DONE]\n\n"))
            #expect(events.filter { $0 == "data: [DONE]" }.count == 1)
            let chunks = events.dropLast().compactMap { try? JSONParser.parse(String($0.dropFirst(6))) }
            #expect(chunks.count == events.count - 1)
            #expect(chunks.allSatisfy { $0["model"]?.stringValue == "echo" })
            #expect(chunks.allSatisfy { $0["usage"] == nil }, "the client did not ask for usage")
            let content = chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
            #expect(content == "tok0tok1tok2tok3")
            // Trellis always asked the upstream for usage.
            #expect(upstream.lastBody?["stream_options"]?["include_usage"]?.boolValue == true)
            await gw.flushUsage()
            let row = try #require(try await gw.gateway.store.usageEvents().last)
            #expect(row.stream && row.status == 200)
            #expect(row.promptTokens == 7 && row.completionTokens == 4 && !row.estimated, "usage reported by the upstream is recorded")
            #expect(row.ttftMs != nil)
        }
    }

    @Test func usageChunkIsKeptWhenAskedAndSynthesizedWhenTheUpstreamSendsNone() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            let events = try await readEvents(try await gw.stream("/v1/chat/completions", key: key, json: chatBody("echo", includeUsage: true)))
            let chunks = events.dropLast().compactMap { try? JSONParser.parse($0) }
            let last = try #require(chunks.last)
            #expect(last["choices"]?.arrayValue?.isEmpty == true)
            #expect(last["usage"]?["completion_tokens"]?.numberValue?.intValue == 3)
            #expect(chunks.dropLast().allSatisfy { $0["usage"] == .null }, "other chunks carry usage: null, as OpenAI sends")

            let noUsage = try await readEvents(
                try await gw.stream("/v1/chat/completions", key: key, json: chatBody("no-usage", maxTokens: 5, includeUsage: true)))
            let synthesized = try #require(noUsage.dropLast().compactMap { try? JSONParser.parse($0) }.last)
            #expect(synthesized["choices"]?.arrayValue?.isEmpty == true)
            let completion = try #require(synthesized["usage"]?["completion_tokens"]?.numberValue?.intValue)
            #expect(completion >= 5, "at least one token per content chunk")
            await gw.flushUsage()
            let row = try #require(try await gw.gateway.store.usageEvents().last)
            #expect(row.estimated, "counts the upstream did not report are marked as estimates")
            #expect(row.completionTokens == completion)
        }
    }

    @Test func upstreamBreakingMidStreamEndsWithAnErrorEventAndDone() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            let events = try await readEvents(try await gw.stream("/v1/chat/completions", key: key, json: chatBody("break-stream")))
            #expect(events.last == "[DONE]")
            let error = try #require(events.dropLast().last.flatMap { try? JSONParser.parse($0) })
            #expect(error["error"]?["code"]?.stringValue == "upstream_stream_broken")
            #expect(error["error"]?["message"] != nil && error["error"]?["type"] != nil)
            #expect(events.contains { $0.contains("partial") }, "what arrived before the break was relayed")
            await gw.flushUsage()
            let row = try #require(try await gw.gateway.store.usageEvents().last)
            #expect(row.status == 502 && row.errorCode == "upstream_stream_broken")
        }
    }

    @Test func failuresBeforeTheFirstEventAreHTTPErrors() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            let empty = try await gw.request(.POST, "/v1/chat/completions", key: key, json: chatBody("empty-stream"))
            #expect(empty.status == 502)
            #expect(empty.errorCode == "upstream_invalid_response")
            let rejected = try await gw.request(.POST, "/v1/chat/completions", key: key, json: chatBody("fail-400"))
            #expect(rejected.status == 400)
            #expect(rejected.errorCode == "context_length_exceeded")
        }
    }

    @Test func clientDisconnectCancelsTheUpstreamStream() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let request = gw.postJSON("/v1/chat/completions", key: key, json: chatBody("slow-stream"))
            let response = try await client.execute(request, timeout: .seconds(30))
            var iterator = response.body.makeAsyncIterator()
            _ = try await iterator.next()
            #expect(await upstream.waitFor("slow-stream:started"))
            // The client goes away mid-stream.
            try await client.shutdown()
            #expect(await upstream.waitFor("cancelled:slow-stream"), "the upstream stream was cut when the client left")
            try await waitUntil { try await gw.gateway.store.usageCount() > 0 || gw.gateway.usage.pendingCount > 0 }
            await gw.flushUsage()
            let row = try #require(try await gw.gateway.store.usageEvents().last)
            #expect(row.status == 499 && row.errorCode == "client_closed_request")
        }
    }

    @Test func clientDisconnectWhileWaitingForTheFirstByteCancelsTheUpstream() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            for (i, stream) in [false, true].enumerated() {
                let client = HTTPClient(eventLoopGroupProvider: .singleton)
                let request = gw.postJSON(
                    "/v1/chat/completions", key: key, json: ["model": "hang", "stream": .bool(stream), "messages": [["role": "user", "content": "x"]]])
                let pending = Task { try await client.execute(request, timeout: .seconds(60)) }
                #expect(await upstream.waitFor("hanging", count: i + 1))
                pending.cancel()
                _ = try? await pending.value
                try await client.shutdown()
                #expect(await upstream.waitFor("cancelled:hang", count: i + 1), "stream=\(stream): the upstream call was cancelled")
                // Recorded as the client leaving, streamed or not.
                try await waitUntil {
                    await gw.flushUsage()
                    return try await gw.gateway.store.usageEvents().filter { $0.status == 499 && $0.errorCode == "client_closed_request" }.count == i + 1
                }
            }
        }
    }
}

/// Polls `condition` until it holds, for at most `timeout`; fails the test otherwise. For waiting on work that
/// happens asynchronously by design (a flush, a cancellation), never to paper over a race. The bound is
/// generous, since the tests share two busy cores: only a condition that never comes reaches it.
func waitUntil(timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("condition not met within \(timeout)")
}
