import Foundation
import OpenAIWire
import Testing
import TrellisCore
import TrellisStore
import TrellisStoreTestSupport

/// The knowledge store's behaviours that `StoreKnowledgeFlywheelTests` leaves out, on every engine: the name
/// rule, descriptions, the audit trail, documents of many chunks, racing uploads, paging and deletion.
@Suite("Store: knowledge bases and documents in depth, on every engine")
struct KnowledgeStoreParityTests {
    static func chunk(_ i: Int, _ text: String, embedding: [Float]? = nil) -> NewChunk {
        NewChunk(position: i, heading: "h\(i)", text: text, terms: SearchTokenizer.indexTerms(text), embedding: embedding)
    }

    @Test("knowledge bases: one name per tenant (409), descriptions; each write moves the catalog generation", arguments: StoreEngines.all)
    func knowledgeBases(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let acme = try await store.createTenant(name: "acme", actor: "test")
        let globex = try await store.createTenant(name: "globex", actor: "test")
        let g0 = try await store.catalogGeneration()
        let kb = try await store.createKnowledgeBase(
            name: "handbook", tenantID: acme.id, description: "the rules", embedding: .init(upstream: "local", model: "e"), chunkSize: 256,
            chunkOverlap: 32, actor: "test", now: Date(timeIntervalSince1970: 1_764_547_200.75))
        #expect(kb.id.hasPrefix("kb_"))
        #expect(kb.createdAt == Date(timeIntervalSince1970: 1_764_547_200), "whole seconds, as stored")
        #expect(kb.embedding == .init(upstream: "local", model: "e"))
        let g1 = try await store.catalogGeneration()
        #expect(g1 > g0)

        let taken = await #expect(throws: TrellisError.self) {
            try await store.createKnowledgeBase(
                name: "handbook", tenantID: acme.id, description: nil, embedding: nil, chunkSize: 128, chunkOverlap: 0, actor: "test")
        }
        #expect(taken?.status == 409)
        #expect(taken?.message == "This tenant already has a knowledge base named 'handbook'.")
        #expect(try await store.catalogGeneration() == g1, "a refused write changes nothing")
        let other = try await store.createKnowledgeBase(
            name: "handbook", tenantID: globex.id, description: nil, embedding: nil, chunkSize: 128, chunkOverlap: 0, actor: "test")
        #expect(other.id != kb.id)

        let g2 = try await store.catalogGeneration()
        try await store.setKnowledgeBaseDescription(id: kb.id, description: "the new rules", actor: "test")
        #expect(try await store.catalogGeneration() > g2)
        let snapshot = try await store.loadSnapshot()
        #expect(snapshot.knowledgeBasesByID[kb.id]?.description == "the new rules")
        #expect(snapshot.knowledgeBasesByID[other.id]?.embedding == nil)
        let missing = await #expect(throws: TrellisError.self) {
            try await store.setKnowledgeBaseDescription(id: "kb_missing", description: nil, actor: "test")
        }
        #expect(missing?.status == 404)
    }

    @Test("every knowledge write leaves its audit row", arguments: StoreEngines.all)
    func audit(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let tenant = try await store.createTenant(name: "acme", actor: "test")
        let kb = try await store.createKnowledgeBase(
            name: "handbook", tenantID: tenant.id, description: nil, embedding: nil, chunkSize: 256, chunkOverlap: 32, actor: "alice")
        try await store.setKnowledgeBaseDescription(id: kb.id, description: "d", actor: "alice")
        let written = try await store.insertDocument(
            knowledgeBase: kb, title: "Claims", contentType: "text/plain", sha256: "a", bytes: 3, metadata: nil, chunks: [Self.chunk(0, "hail")],
            actor: "bob")
        _ = try await store.insertDocument(
            knowledgeBase: kb, title: "Claims", contentType: "text/plain", sha256: "a", bytes: 3, metadata: nil, chunks: [Self.chunk(0, "hail")],
            actor: "bob")
        _ = try await store.deleteDocument(id: written.document.id, knowledgeBase: kb, actor: "carol")
        let entries = try await store.auditEntries(tenantID: tenant.id, filter: AuditFilter())
        let trail = entries.filter { $0.action != "tenant.create" }.sorted { $0.id < $1.id }
        #expect(trail.map(\.action) == ["knowledge_base.create", "knowledge_base.update", "document.create", "document.delete"])
        #expect(trail.map(\.actor) == ["alice", "alice", "bob", "carol"])
        let document = "document:\(written.document.id)"
        #expect(trail.map(\.target) == ["knowledge_base:handbook", "knowledge_base:handbook", document, document])
        let detail = try #require(trail[2].detail)
        #expect(detail.contains("\"chunks\":1") && detail.contains("\"knowledge_base\":\"handbook\"") && detail.contains("\"title\":\"Claims\""))
    }

    @Test("a document of many chunks: ids ascending, every chunk's terms and vector as given, deleted whole", arguments: StoreEngines.all)
    func manyChunks(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let tenant = try await store.createTenant(name: "acme", actor: "test")
        let kb = try await store.createKnowledgeBase(
            name: "handbook", tenantID: tenant.id, description: nil, embedding: .init(upstream: "local", model: "e"), chunkSize: 64,
            chunkOverlap: 0, actor: "test")
        let plain = try await store.createKnowledgeBase(
            name: "plain", tenantID: tenant.id, description: nil, embedding: nil, chunkSize: 64, chunkOverlap: 0, actor: "test")
        // More chunks than one batch holds, some without terms (punctuation only), some without embeddings.
        let chunks = (0..<1_234).map { i in
            i % 97 == 0
                ? Self.chunk(i, "— … —", embedding: nil)
                : Self.chunk(i, "clause \(i) hail damage 航班延误 item\(i % 13)", embedding: i % 3 == 0 ? nil : [Float(i), -0.5, 1e-7])
        }
        let g0 = try await store.knowledgeGeneration()
        let written = try await store.insertDocument(
            knowledgeBase: kb, title: "Policy", contentType: "text/markdown", sha256: "big", bytes: 1 << 20, metadata: "{\"v\":1}", chunks: chunks,
            actor: "test")
        #expect(written.created)
        #expect(written.generation == g0 + 1)
        #expect(written.chunkIDs.count == chunks.count)
        #expect(written.chunkIDs == written.chunkIDs.sorted() && Set(written.chunkIDs).count == chunks.count, "ascending in the chunks' order")
        #expect(written.document.chunkCount == chunks.count)
        let small = try await store.insertDocument(
            knowledgeBase: plain, title: "Other", contentType: "text/plain", sha256: "big", bytes: 4, metadata: nil,
            chunks: [Self.chunk(0, "pets allowed")], actor: "test")
        #expect(small.created, "the same content in another knowledge base is another document")
        #expect(try await store.chunkCount(knowledgeBaseID: kb.id) == chunks.count)
        #expect(try await store.chunkCount(knowledgeBaseID: plain.id) == 1)
        #expect(try await store.knowledgeGeneration() == g0 + 2)

        let snapshot = try await store.indexSnapshot(knowledgeBases: [kb, plain])
        #expect(snapshot.generation == g0 + 2)
        let terms = try #require(snapshot.terms[kb.id])
        #expect(terms.map(\.id) == written.chunkIDs)
        #expect(terms.map(\.terms) == chunks.map(\.terms))
        #expect(terms[0].terms.isEmpty)
        let vectors = try #require(snapshot.vectors[kb.id])
        let embedded = zip(written.chunkIDs, chunks).compactMap { id, chunk in chunk.embedding.map { (id: id, vector: $0) } }
        #expect(vectors.map(\.id) == embedded.map(\.id))
        #expect(vectors.map(\.vector) == embedded.map(\.vector))
        #expect(snapshot.terms[plain.id]?.map(\.id) == small.chunkIDs)
        #expect(snapshot.terms[plain.id]?.first?.terms == SearchTokenizer.indexTerms("pets allowed"))
        #expect(snapshot.vectors[plain.id] == nil, "no vectors for a knowledge base without an embedding model")

        // Chunks in the order asked, across both knowledge bases.
        let asked = [small.chunkIDs[0]] + written.chunkIDs.reversed()
        let found = try await store.chunks(ids: asked)
        #expect(found.map(\.chunkID) == asked)
        #expect(found.first?.title == "Other")
        #expect(found.last?.text == chunks[0].text)
        #expect(found.last?.heading == "h0")
        #expect(found.last?.documentID == written.document.id)

        let removed = try await store.deleteDocument(id: written.document.id, knowledgeBase: kb, actor: "test")
        #expect(removed.chunkIDs == written.chunkIDs)
        #expect(removed.generation == g0 + 3)
        #expect(try await store.knowledgeGeneration() == removed.generation)
        #expect(try await store.chunkCount(knowledgeBaseID: kb.id) == 0)
        #expect(try await store.document(sha256: "big", knowledgeBaseID: kb.id) == nil)
        #expect(try await store.document(sha256: "big", knowledgeBaseID: plain.id)?.id == small.document.id)
        let after = try await store.indexSnapshot(knowledgeBases: [kb, plain])
        #expect(after.terms[kb.id]?.isEmpty == true)
        #expect(after.vectors[kb.id]?.isEmpty == true)
        #expect(after.terms[plain.id]?.map(\.id) == small.chunkIDs)
        // The same content can be stored again once deleted.
        let again = try await store.insertDocument(
            knowledgeBase: kb, title: "Policy", contentType: "text/markdown", sha256: "big", bytes: 10, metadata: nil,
            chunks: Array(chunks.prefix(3)), actor: "test")
        #expect(again.created)
        #expect(again.document.id != written.document.id)
    }

    @Test("uploads of the same content racing: one stores it, the others get that document", arguments: StoreEngines.all)
    func racingUploads(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let tenant = try await store.createTenant(name: "acme", actor: "test")
        let kb = try await store.createKnowledgeBase(
            name: "handbook", tenantID: tenant.id, description: nil, embedding: nil, chunkSize: 64, chunkOverlap: 0, actor: "test")
        let chunks = (0..<300).map { Self.chunk($0, "clause \($0) flood cover") }
        let g0 = try await store.knowledgeGeneration()
        let writes = try await withThrowingTaskGroup(of: DocumentWrite.self) { group in
            for i in 0..<8 {
                group.addTask {
                    try await store.insertDocument(
                        knowledgeBase: kb, title: "Copy \(i)", contentType: "text/plain", sha256: "same", bytes: 100, metadata: nil, chunks: chunks,
                        actor: "test")
                }
            }
            var out: [DocumentWrite] = []
            for try await write in group { out.append(write) }
            return out
        }
        let created = writes.filter(\.created)
        #expect(created.count == 1)
        let winner = try #require(created.first)
        #expect(Set(writes.map(\.document.id)) == [winner.document.id])
        let losers = writes.filter { !$0.created }
        #expect(losers.count == 7)
        #expect(losers.filter { !$0.chunkIDs.isEmpty || $0.generation != nil }.isEmpty, "the others wrote nothing")
        #expect(try await store.chunkCount(knowledgeBaseID: kb.id) == chunks.count)
        #expect(try await store.knowledgeGeneration() == g0 + 1)
        #expect(try await store.documents(knowledgeBaseID: kb.id).map(\.id) == [winner.document.id])
    }

    @Test("documents page by id in byte order, each exactly once", arguments: StoreEngines.all)
    func paging(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let tenant = try await store.createTenant(name: "acme", actor: "test")
        let kb = try await store.createKnowledgeBase(
            name: "handbook", tenantID: tenant.id, description: nil, embedding: nil, chunkSize: 64, chunkOverlap: 0, actor: "test")
        let other = try await store.createKnowledgeBase(
            name: "other", tenantID: tenant.id, description: nil, embedding: nil, chunkSize: 64, chunkOverlap: 0, actor: "test")
        var ids: [String] = []
        for i in 0..<7 {
            let write = try await store.insertDocument(
                knowledgeBase: kb, title: "D\(i)", contentType: "text/plain", sha256: "s\(i)", bytes: i, metadata: nil, chunks: [], actor: "test")
            ids.append(write.document.id)
        }
        _ = try await store.insertDocument(
            knowledgeBase: other, title: "X", contentType: "text/plain", sha256: "s0", bytes: 1, metadata: nil, chunks: [], actor: "test")
        var paged: [String] = []
        var after: String?
        while true {
            let page = try await store.documents(knowledgeBaseID: kb.id, limit: 3, afterID: after)
            #expect(page.count <= 3)
            guard let last = page.last else { break }
            paged += page.map(\.id)
            after = last.id
        }
        #expect(paged == ids.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        let first = try #require(try await store.documents(knowledgeBaseID: kb.id, limit: 1).first)
        #expect(first.knowledgeBaseID == kb.id)
        #expect(first.chunkCount == 0)
        #expect(try await store.document(id: ids[3], knowledgeBaseID: kb.id)?.title == "D3")
        #expect(try await store.document(id: ids[3], knowledgeBaseID: other.id) == nil)
    }
}
