import Foundation
import OpenAIWire
import Testing
import TrellisStore
import TrellisStoreTestSupport

@Suite("Store: responses of the Responses API, on every engine")
struct StoreResponsesTests {
    @Test("a response is read by its own tenant until it expires, deleted once, and purged after expiry", arguments: StoreEngines.all)
    func lifecycle(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let conversation: JSONValue = [["role": "user", "content": "你好"], ["role": "assistant", "content": "hello"]]
        let kept = StoredResponse(
            id: "resp_a", tenantID: "tnt_acme", model: "claims", createdAt: now, expiresAt: now.addingTimeInterval(86_400),
            response: ["id": "resp_a", "object": "response", "output": [["type": "message"]]], conversation: conversation)
        try await store.insertResponse(kept)
        try await store.insertResponse(
            StoredResponse(
                id: "resp_b", tenantID: "tnt_acme", model: "claims", createdAt: now, expiresAt: now.addingTimeInterval(10), response: ["id": "resp_b"],
                conversation: []))

        #expect(try await store.response(id: "resp_a", tenantID: "tnt_acme", now: now) == kept)
        #expect(try await store.response(id: "resp_a", tenantID: "tnt_globex", now: now) == nil, "another tenant's is not found")
        #expect(try await store.response(id: "resp_b", tenantID: "tnt_acme", now: now.addingTimeInterval(11)) == nil, "an expired one is not found")
        #expect(try await store.deleteResponse(id: "resp_a", tenantID: "tnt_globex") == false, "nor deleted by another tenant")

        #expect(try await store.purgeResponses(now: now.addingTimeInterval(11)) == 1)
        #expect(try await store.deleteResponse(id: "resp_a", tenantID: "tnt_acme"))
        #expect(try await store.deleteResponse(id: "resp_a", tenantID: "tnt_acme") == false)
        #expect(try await store.response(id: "resp_a", tenantID: "tnt_acme", now: now) == nil)
    }
}
