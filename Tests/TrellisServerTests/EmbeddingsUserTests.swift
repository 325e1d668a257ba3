import Foundation
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

/// `/v1/embeddings` checks `user` exactly as chat does: it is stored with every usage row, so an unbounded one
/// (a 1 MB `user` was accepted and stored) would let a caller grow the database at will.
@Suite struct EmbeddingsUserTests {
    @Test("/v1/embeddings refuses a user over 256 bytes with 400 naming 'user', and neither calls the upstream nor stores a row")
    func longUserIsRefused() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await gw.createModel("embedder", spec: ["upstream": "mock", "model": "mock-embed"])
            let refused: [(String, JSONValue)] = [
                ("257 ASCII bytes", .string(String(repeating: "u", count: 257))),
                ("258 bytes in 86 CJK characters", .string(String(repeating: "数", count: 86))),
                ("1 MB", .string(String(repeating: "x", count: 1 << 20))),
                ("not a string", .int(7)),
            ]
            for (label, user) in refused {
                let reply = try await gw.request(.POST, "/v1/embeddings", key: key, json: ["model": "embedder", "input": ["a"], "user": user])
                #expect(reply.status == 400, "\(label): \(reply.text)")
                #expect(reply.json["error"]?["param"]?.stringValue == "user", "\(label)")
                #expect(reply.json["error"]?["type"]?.stringValue == "invalid_request_error", "\(label)")
                #expect(reply.errorCode == "invalid_value", "\(label)")
            }
            #expect(upstream.requests.isEmpty, "no refused request reached the upstream")
            await gw.flushUsage()
            #expect(try await gw.gateway.store.usageEvents().isEmpty, "a refused request stores no usage row")

            let longest = String(repeating: "u", count: ChatRequest.maxUserBytes)
            let accepted = try await gw.request(.POST, "/v1/embeddings", key: key, json: ["model": "embedder", "input": ["a"], "user": .string(longest)])
            #expect(accepted.status == 200, "\(accepted.text)")
            await gw.flushUsage()
            #expect(try await gw.gateway.store.usageEvents().map(\.endUser) == [longest])
        }
    }
}
