import Foundation
import OpenAIWire
import Testing
import TrellisCore
import TrellisStore
import TrellisStoreTestSupport

@Suite("Store: knowledge and the flywheel, on every engine")
struct StoreKnowledgeFlywheelTests {
    static func knowledgeBase(_ store: any TrellisStoreEngine, embedding: KnowledgeBase.Embedding? = nil) async throws -> KnowledgeBase {
        let tenant = try await store.createTenant(name: "acme", actor: "test")
        return try await store.createKnowledgeBase(
            name: "handbook", tenantID: tenant.id, description: nil, embedding: embedding, chunkSize: 256, chunkOverlap: 32, actor: "test")
    }

    static func chunk(_ i: Int, _ text: String, embedding: [Float]? = nil) -> NewChunk {
        NewChunk(position: i, heading: "h\(i)", text: text, terms: SearchTokenizer.indexTerms(text), embedding: embedding)
    }

    @Test("documents: stored once by content, paged, deleted with their chunks; the knowledge generation moves", arguments: StoreEngines.all)
    func documents(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let kb = try await Self.knowledgeBase(store, embedding: .init(upstream: "local", model: "e"))
        let g0 = try await store.knowledgeGeneration()
        let first = try await store.insertDocument(
            knowledgeBase: kb, title: "A", contentType: "text/plain", sha256: "a", bytes: 10, metadata: nil,
            chunks: [Self.chunk(0, "hail damage", embedding: [1, 0]), Self.chunk(1, "flight delay 航班延误", embedding: [0, 1])], actor: "test")
        #expect(first.created)
        #expect(first.chunkIDs.count == 2)
        let g1 = try #require(first.generation)
        #expect(g1 > g0)
        let again = try await store.insertDocument(
            knowledgeBase: kb, title: "A again", contentType: "text/plain", sha256: "a", bytes: 10, metadata: nil, chunks: [Self.chunk(0, "x")],
            actor: "test")
        #expect(!again.created)
        #expect(again.document.id == first.document.id)
        #expect(try await store.knowledgeGeneration() == g1)
        #expect(try await store.document(sha256: "a", knowledgeBaseID: kb.id)?.id == first.document.id)
        #expect(try await store.document(id: first.document.id, knowledgeBaseID: kb.id)?.chunkCount == 2)
        #expect(try await store.document(id: first.document.id, knowledgeBaseID: "kb_other") == nil)

        let second = try await store.insertDocument(
            knowledgeBase: kb, title: "B", contentType: "text/plain", sha256: "b", bytes: 5, metadata: "{}", chunks: [Self.chunk(0, "pets")],
            actor: "test")
        let all = try await store.documents(knowledgeBaseID: kb.id)
        #expect(Set(all.map(\.id)) == [first.document.id, second.document.id])
        let page = try await store.documents(knowledgeBaseID: kb.id, limit: 1)
        #expect(page.count == 1)
        #expect(try await store.documents(knowledgeBaseID: kb.id, limit: 10, afterID: page[0].id).map(\.id) == all.dropFirst().map(\.id))
        #expect(try await store.chunkCount(knowledgeBaseID: kb.id) == 3)

        // Chunks come back in the order asked, unknown ids left out.
        let ids = [first.chunkIDs[1], 999_999, first.chunkIDs[0]]
        let chunks = try await store.chunks(ids: ids)
        #expect(chunks.map(\.chunkID) == [first.chunkIDs[1], first.chunkIDs[0]])
        #expect(chunks.first?.title == "A")
        #expect(chunks.first?.text == "flight delay 航班延误")

        // What the indexes are built from: terms for every chunk, vectors for the embedded ones.
        let snapshot = try await store.indexSnapshot(knowledgeBases: [kb])
        #expect(snapshot.generation == second.generation)
        #expect(snapshot.terms[kb.id]?.map(\.id) == first.chunkIDs + second.chunkIDs)
        #expect(snapshot.terms[kb.id]?.first?.terms == SearchTokenizer.indexTerms("hail damage"))
        #expect(snapshot.vectors[kb.id]?.map(\.id) == first.chunkIDs)
        #expect(snapshot.vectors[kb.id]?.first?.vector == [1, 0])

        let removed = try await store.deleteDocument(id: first.document.id, knowledgeBase: kb, actor: "test")
        #expect(removed.chunkIDs.sorted() == first.chunkIDs.sorted())
        #expect(removed.generation > (second.generation ?? 0))
        #expect(try await store.chunkCount(knowledgeBaseID: kb.id) == 1)
        #expect(try await store.chunks(ids: first.chunkIDs).isEmpty)
        let error = await #expect(throws: TrellisError.self) {
            try await store.deleteDocument(id: first.document.id, knowledgeBase: kb, actor: "test")
        }
        #expect(error?.status == 404)
    }

    @Test("feedback counts in the report, a later rating replaces the earlier; interactions export and purge", arguments: StoreEngines.all)
    func flywheel(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let at = Date(timeIntervalSince1970: 1_764_547_200)  // 2025-12-01
        try await store.insertUsage(
            (0..<3).map { i in
                UsageEvent(
                    requestID: "req_\(i)", at: at, endpoint: "chat", tenantID: "tnt_a", keyID: "key_1", endUser: "u\(i)", model: "claims",
                    modelVersion: 1, upstream: "local", promptTokens: 10, completionTokens: 5, estimated: false, latencyMs: 100, ttftMs: nil,
                    status: 200, errorCode: nil, stream: false)
            })
        #expect(try await store.usageOwner(requestID: "req_missing") == nil)
        let owner = try #require(try await store.usageOwner(requestID: "req_0"))
        #expect(owner.tenantID == "tnt_a")
        #expect(owner.endUser == "u0")
        #expect(try await store.tokensThisMonth("2025-12") == ["tnt_a": 45])

        for (id, rating, correction) in [("req_0", 1, nil), ("req_1", -1, "better"), ("req_1", 1, nil)] as [(String, Int, String?)] {
            let o = try #require(try await store.usageOwner(requestID: id))
            _ = try await store.insertFeedback(requestID: id, owner: o, keyID: o.keyID, rating: rating, comment: nil, correction: correction, now: at)
        }
        let report = try await store.usageReport(UsageQuery(fromDay: "2025-12-01", toDay: "2025-12-31", groupBy: [.model]))
        #expect(report.map(\.positive) == [2])
        #expect(report.map(\.negative) == [0])
        #expect(report.map(\.requests) == [3])

        for i in 0..<3 {
            try await store.insertInteraction(
                requestID: "req_\(i)", tenantID: "tnt_a", model: "claims", modelVersion: 1, messages: [["role": "user", "content": .string("q\(i)")]],
                answer: "a\(i)", retentionDays: i == 2 ? 1 : 30, now: at)
        }
        #expect(try await store.interactionCount() == 3)
        let rated = try await store.ratedInteractions(tenantID: "tnt_a", model: "claims")
        #expect(rated.map(\.requestID) == ["req_0", "req_1"], "only rated interactions, by request id")
        #expect(rated.map(\.rating) == [1, 1], "the latest rating")
        #expect(rated.first?.answer == "a0")
        #expect(try await store.ratedInteractions(tenantID: "tnt_a", model: "claims", afterRequestID: "req_0").map(\.requestID) == ["req_1"])
        #expect(try await store.ratedInteractions(tenantID: "tnt_b", model: nil).isEmpty)

        #expect(try await store.purgeInteractions(now: at + 2 * 86_400) == 1)
        #expect(try await store.interactionCount() == 2)
    }
}
