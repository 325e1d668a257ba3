import Foundation
import GRDB
import Testing
import TrellisCore
import TrellisStoreTestSupport

@testable import TrellisStore

@Suite("SQLiteStore: keyword search")
struct KeywordSearchTests {
    static func chunk(_ i: Int, _ text: String) -> NewChunk {
        NewChunk(position: i, heading: "", text: text, terms: SearchTokenizer.indexTerms(text), embedding: nil)
    }

    static func knowledgeBase(_ store: any TrellisStoreEngine, tenant: String, name: String) async throws -> KnowledgeBase {
        let t = try await store.createTenant(name: tenant, actor: "test")
        return try await store.createKnowledgeBase(
            name: name, tenantID: t.id, description: nil, embedding: nil, chunkSize: 256, chunkOverlap: 32, actor: "test")
    }

    @Test func termsOfOneKnowledgeBaseNeverMatchAnother() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        let a = try await Self.knowledgeBase(temp.store, tenant: "a", name: "handbook")
        let b = try await Self.knowledgeBase(temp.store, tenant: "b", name: "handbook")
        let inA = try await temp.store.insertDocument(
            knowledgeBase: a, title: "A", contentType: "text/plain", sha256: "a", bytes: 1, metadata: nil,
            chunks: [Self.chunk(0, "Hail damage to the windscreen 冰雹"), Self.chunk(1, "Nothing relevant here")], actor: "test")
        let inB = try await temp.store.insertDocument(
            knowledgeBase: b, title: "B", contentType: "text/plain", sha256: "b", bytes: 1, metadata: nil,
            chunks: [Self.chunk(0, "Hail and 冰雹 in B's own handbook")], actor: "test")
        let hitsA = try await temp.fts5.keywordSearch(knowledgeBase: a, terms: SearchTokenizer.queryTerms("hail 冰雹"), limit: 10)
        #expect(hitsA.map(\.id) == [inA.chunkIDs[0]])
        let hitsB = try await temp.fts5.keywordSearch(knowledgeBase: b, terms: SearchTokenizer.queryTerms("冰雹"), limit: 10)
        #expect(hitsB.map(\.id) == inB.chunkIDs)
        #expect(try await temp.fts5.keywordSearch(knowledgeBase: a, terms: ["absent"], limit: 10).isEmpty)
        // Deleting a document takes its terms out of the index.
        _ = try await temp.store.deleteDocument(id: inA.document.id, knowledgeBase: a, actor: "test")
        #expect(try await temp.fts5.keywordSearch(knowledgeBase: a, terms: ["hail"], limit: 10).isEmpty)
        #expect(try await temp.fts5.keywordSearch(knowledgeBase: b, terms: ["hail"], limit: 10).map(\.id) == inB.chunkIDs)
    }

    @Test func aTermCommonerThanTheBudgetIsLeftOutUnlessItIsTheRarest() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        let kb = try await Self.knowledgeBase(temp.store, tenant: "a", name: "big")
        let common = FTS5KeywordSearch.postingsBudget + 100
        var chunks = (0..<common).map { Self.chunk($0, "policy terms and conditions, clause \($0)") }
        chunks.append(Self.chunk(common, "policy clause on hail and windscreen damage"))
        chunks.append(Self.chunk(common + 1, "hail storms are covered"))
        let write = try await temp.store.insertDocument(
            knowledgeBase: kb, title: "Big", contentType: "text/plain", sha256: "big", bytes: 1, metadata: nil, chunks: chunks, actor: "test")
        let hail = Set(write.chunkIDs.suffix(2))
        // "policy" is in every chunk: past the budget, so the query reads only "hail"'s postings; the two hail
        // chunks are the whole answer, not two among thousands of "policy" matches.
        let both = try await temp.fts5.keywordSearch(knowledgeBase: kb, terms: SearchTokenizer.queryTerms("policy hail"), limit: 10)
        #expect(Set(both.map(\.id)) == hail)
        // Alone, the common term is the rarest there is, and it is searched.
        let alone = try await temp.fts5.keywordSearch(knowledgeBase: kb, terms: ["policy"], limit: 5)
        #expect(alone.count == 5)
    }

    @Test func aVersion4KeywordIndexIsCarriedOverByTheMigration() async throws {
        // A database as version 4 left it, with one knowledge base and a chunk in the old index.
        try await withDatabase(migratedUpTo: "v4-governance") { db in
            try db.execute(sql: "INSERT INTO tenants(id, name, created_at) VALUES ('tnt_1', 'acme', 0)")
            try db.execute(
                sql: """
                    INSERT INTO knowledge_bases(id, name, tenant_id, chunk_size, chunk_overlap, created_at)
                    VALUES ('kb_0123456789abcdef', 'handbook', 'tnt_1', 256, 32, 0)
                    """)
            try db.execute(
                sql: """
                    INSERT INTO documents(id, kb_id, title, content_type, sha256, bytes, chunk_count, created_at)
                    VALUES ('doc_1', 'kb_0123456789abcdef', 'Travel', 'text/plain', 'x', 1, 1, 0)
                    """)
            try db.execute(
                sql:
                    "INSERT INTO chunks(id, kb_id, document_id, position, heading, text) VALUES (7, 'kb_0123456789abcdef', 'doc_1', 0, '', 'flight delay 航班延误')"
            )
            try db.execute(
                sql: "INSERT INTO chunks_fts(rowid, kb, terms) VALUES (7, 'kbkb0123456789abcdef', ?)",
                arguments: [SearchTokenizer.indexTerms("flight delay 航班延误").joined(separator: " ")])
        } then: { path in
            let store = try SQLiteStore(path: path)
            #expect(try store.appliedMigrations().contains("v5-knowledge-terms"))
            let kb = try #require(try await store.loadSnapshot().allKnowledgeBases.first)
            #expect(kb.indexToken == "kbkb0123456789abcdef")
            #expect(
                try await FTS5KeywordSearch(path: path).keywordSearch(knowledgeBase: kb, terms: SearchTokenizer.queryTerms("航班延误"), limit: 5).map(\.id) == [7])
            #expect(try await FTS5KeywordSearch(path: path).keywordSearch(knowledgeBase: kb, terms: ["delay"], limit: 5).map(\.id) == [7])
            let oldTable = try await store.pool.read { db in try db.tableExists("chunks_fts") }
            #expect(!oldTable)
        }
    }
}

@Suite("KeywordIndex against SQLite FTS5 (the reference search)")
struct KeywordIndexAgainstFTS5Tests {
    @Test func scoresAndOrderEqualFTS5BM25() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        let kb = try await KeywordSearchTests.knowledgeBase(temp.store, tenant: "a", name: "handbook")
        let texts = [
            "Flight delay cover: 300 yuan after a delay of 4 hours 航班延误满4小时赔付300元",
            "Lost luggage: report the loss to the airline within 24 hours, keep the receipts",
            "Pet insurance covers cats and dogs aged 3 months to 8 years 宠物保险",
            "Car insurance claims 车险理赔: report within 48 hours, photos of the damage",
            "Premium grace period of 30 days; the policy lapses after the grace period",
            "The policy covers the policy holder and the policy holder's family on the policy",
            "航班取消 flight cancellation: refund of the ticket, the delay cover does not apply",
        ]
        var index = KeywordIndex()
        var chunks: [NewChunk] = []
        for (i, text) in texts.enumerated() { chunks.append(KeywordSearchTests.chunk(i, text)) }
        let write = try await temp.store.insertDocument(
            knowledgeBase: kb, title: "H", contentType: "text/plain", sha256: "h", bytes: 1, metadata: nil, chunks: chunks, actor: "test")
        for (id, chunk) in zip(write.chunkIDs, chunks) { index.add(id: id, terms: chunk.terms) }

        for query in ["flight delay", "policy", "the policy holder", "航班延误", "宠物", "report within hours", "grace period lapses", "nothing here"] {
            let terms = SearchTokenizer.queryTerms(query)
            let fts = try await temp.fts5.keywordSearch(knowledgeBase: kb, terms: terms, limit: 10)
            let memory = index.search(terms, limit: 10)
            #expect(memory.map(\.id) == fts.map(\.id), "same order for '\(query)'")
            for (m, f) in zip(memory, fts) {
                #expect(abs(m.score - f.score) <= 1e-9 * max(1, abs(f.score)), "'\(query)': \(m.score) vs FTS5 \(f.score)")
            }
        }
    }
}
