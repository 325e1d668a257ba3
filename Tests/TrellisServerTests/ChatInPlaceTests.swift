import Foundation
import OpenAIWire
import Testing

@testable import TrellisServer

/// Whole chat answers sent as the upstream's bytes with `model` replaced, and those that still take the tree.
@Suite struct ChatInPlaceTests {
    static func ask(_ gw: TestGateway, _ key: String, _ model: String) async throws -> TestGateway.Reply {
        try await gw.request(.POST, "/v1/chat/completions", key: key, json: ["model": .string(model), "messages": [["role": "user", "content": "x"]]])
    }

    @Test("an answer is passed on byte for byte but its model, and its usage report is what the row records")
    func bytesPassOn() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            try await gw.createModel("spacey", spec: ["upstream": "mock", "model": "spaced"])
            let reply = try await Self.ask(gw, key, "spacey")
            #expect(reply.status == 200)
            let expected = MockUpstream.spacedAnswer
                .replacingOccurrences(of: #""model" : "spaced""#, with: #""model" : "spacey""#)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(reply.text == expected)
            #expect(reply.json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "spaced é")
            await gw.flushUsage()
            let row = try #require(try await gw.gateway.store.usageEvents().first { $0.requestID == reply.headers.first(name: "x-request-id") })
            #expect(row.promptTokens == 11 && row.completionTokens == 4 && !row.estimated && row.status == 200 && row.model == "spacey")
        }
    }

    @Test("an answer that is not whole JSON is the upstream's protocol error, as before")
    func brokenAnswer() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            try await gw.createModel("broken", spec: ["upstream": "mock", "model": "spaced-broken"])
            let reply = try await Self.ask(gw, key, "broken")
            #expect(reply.status == 502, "\(reply.text)")
            #expect(reply.json["error"]?["type"] != nil)
            await gw.flushUsage()
            let row = try #require(try await gw.gateway.store.usageEvents().first { $0.requestID == reply.headers.first(name: "x-request-id") })
            #expect(row.status == 502 && row.promptTokens == 0)
        }
    }

    @Test("an answer without a usage report takes the tree: written again, its tokens estimated")
    func noUsageTakesTheTree() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            let reply = try await Self.ask(gw, key, "no-usage")
            #expect(reply.status == 200)
            #expect(reply.json["model"]?.stringValue == "no-usage")
            #expect(!reply.text.contains(" : "), "the tree writes compact JSON")
            await gw.flushUsage()
            let row = try #require(try await gw.gateway.store.usageEvents().first { $0.requestID == reply.headers.first(name: "x-request-id") })
            #expect(row.estimated && row.completionTokens > 0)
        }
    }
}
