import Foundation
import NIOHTTP1
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

/// Knowledge bases: stored once by content, vector and hybrid search, batched embeddings, deletion, concurrent
/// writers and another process, and the indexes rebuilt after a restart.
extension KnowledgeTests {
    @Test func uploadingTheSameContentAgainChangesNothing() async throws {
        try await withKnowledgeGateway(configure: Self.noRefresh) { gw, upstream, keys in
            try await createKB(gw, "policies")
            let first = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Travel insurance FAQ", type: "text/plain", Self.travelText)
            #expect(first.status == 201)
            let id = try #require(first.json["id"]?.stringValue)
            let calls = upstream.embeddingCalls.count
            let before = try await kbInfo(gw, "policies", key: keys.manage)

            let again = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Travel insurance FAQ", type: "text/plain", Self.travelText)
            #expect(again.status == 200, "\(again.text)")
            #expect(again.json["created"] == false)
            #expect(again.json["id"]?.stringValue == id)
            let asJSON = try await uploadJSON(gw, kb: "policies", key: keys.manage, ["title": "Travel insurance FAQ", "text": .string(Self.travelText)])
            #expect(asJSON.status == 200 && asJSON.json["id"]?.stringValue == id, "the same bytes as JSON text are the same content")

            let after = try await kbInfo(gw, "policies", key: keys.manage)
            #expect(int(after["documents"]) == 1)
            #expect(int(after["chunks"]) == int(before["chunks"]))
            #expect(int(after["vectors"]) == int(before["vectors"]))
            #expect(upstream.embeddingCalls.count == calls, "nothing embedded again")
            let found = try await search(gw, kb: "policies", key: keys.inference, "luggage", mode: "keyword", topK: 10)
            #expect(chunkIDs(found).count == 1, "one chunk, not two copies")
            let vector = try await search(gw, kb: "policies", key: keys.inference, Self.travelText, mode: "vector", topK: 10)
            #expect(chunkIDs(vector).count == 1 && Set(chunkIDs(vector)).count == 1)

            let changed = try await uploadRaw(
                gw, kb: "policies", key: keys.manage, title: "Travel insurance FAQ", type: "text/plain", Self.travelText + " Updated.")
            #expect(changed.status == 201 && changed.json["id"]?.stringValue != id, "different content is a new document")
        }
    }

    // MARK: Vector and hybrid search

    @Test func vectorAndHybridSearch() async throws {
        try await withKnowledgeGateway(configure: Self.noRefresh) { gw, _, keys in
            try await createKB(gw, "policies")
            let docs = try await uploadCorpus(gw, kb: "policies", key: keys.manage)

            // A misspelling no keyword matches, that the bigram embeddings still place near "luggage".
            let keyword = try await search(gw, kb: "policies", key: keys.inference, "lugage", mode: "keyword")
            #expect(keyword.status == 200 && hits(keyword).isEmpty)
            let vector = try await search(gw, kb: "policies", key: keys.inference, "lugage", mode: "vector", topK: 3)
            #expect(vector.status == 200, "\(vector.text)")
            #expect(vector.json["mode"]?.stringValue == "vector")
            #expect(documents(vector).first == docs.travel)
            #expect(hits(vector).count == 3)
            #expect(hits(vector).allSatisfy { (-1.0...1.0).contains(score($0)) }, "cosine similarity")
            #expect(zip(hits(vector), hits(vector).dropFirst()).allSatisfy { score($0) >= score($1) })

            // A query that is exactly what was embedded for a chunk finds that chunk with similarity 1: the
            // stored vectors are the right chunks' (the mock answers out of order, by index).
            let fire = try await search(
                gw, kb: "policies", key: keys.inference, "Home insurance › Fire\nFire damage is covered up to the sum insured.", mode: "vector")
            let best = try #require(hits(fire).first)
            #expect(best["heading"]?.stringValue == "Home insurance › Fire")
            #expect(abs(score(best) - 1) < 1e-4)
            let chinese = try await search(gw, kb: "policies", key: keys.inference, "交通事故后多久报案", mode: "vector")
            #expect(documents(chinese).first == docs.carClaims)

            // Hybrid: reciprocal-rank fusion with k = 60. "lost luggage" is first in both lists: 2/61.
            let hybrid = try await search(gw, kb: "policies", key: keys.inference, "lost luggage", mode: "hybrid", topK: 5)
            #expect(hybrid.json["mode"]?.stringValue == "hybrid")
            let fused = hits(hybrid)
            #expect(fused.first?["document_id"]?.stringValue == docs.travel)
            #expect(abs(score(fused.first ?? .null) - 2.0 / 61) < 1e-5)
            #expect(fused.dropFirst().allSatisfy { score($0) <= 1.0 / 61 + 1.0 / 62 + 1e-6 }, "nothing else is first in either list")
            #expect(fused.allSatisfy { score($0) > 0 && score($0) <= 2.0 / 61 + 1e-6 }, "scores are rounded to 6 places")
            // The default for a knowledge base with embeddings is hybrid; a typo still finds by vector, and a
            // Chinese keyword still finds by keyword.
            let byDefault = try await search(gw, kb: "policies", key: keys.inference, "lugage 门诊", topK: 5)
            #expect(byDefault.json["mode"]?.stringValue == "hybrid")
            #expect(Set(documents(byDefault)).isSuperset(of: [docs.travel, docs.health]))
            // The search routes take both inference and manage keys; the operator is not a tenant.
            #expect(try await search(gw, kb: "policies", key: keys.manage, "门诊").status == 200)
            #expect(try await search(gw, kb: "policies", key: TestGateway.adminKey, "门诊").status == 403)
            let badMode = try await search(gw, kb: "policies", key: keys.inference, "x", mode: "semantic")
            #expect(badMode.status == 400)

            // The embedding model down: hybrid answers from the keyword index and says so, with keyword
            // scores; vector alone is a 502.
            let fallback = try await search(gw, kb: "policies", key: keys.inference, "lost luggage FAIL-EMBED", mode: "hybrid", topK: 5)
            #expect(fallback.status == 200, "\(fallback.text)")
            #expect(fallback.json["mode"]?.stringValue == "keyword")
            #expect(documents(fallback).first == docs.travel)
            #expect(score(hits(fallback).first ?? .null) > 2.0 / 61, "a keyword (BM25) score, not a fused one")
            let vectorDown = try await search(gw, kb: "policies", key: keys.inference, "lost luggage FAIL-EMBED", mode: "vector")
            #expect(vectorDown.status == 502, "\(vectorDown.text)")
            #expect(vectorDown.json["error"]?["code"]?.stringValue == "embedding_failed")
        }
    }

    @Test func aKnowledgeBaseWithoutEmbeddingsSearchesByKeyword() async throws {
        try await withKnowledgeGateway { gw, upstream, keys in
            try await createKB(gw, "notes", embedding: false)
            let docs = try await uploadCorpus(gw, kb: "notes", key: keys.manage)
            #expect(upstream.embeddingCalls.isEmpty, "nothing to embed with")
            #expect(int(try await kbInfo(gw, "notes", key: keys.manage)["vectors"]) == 0)
            let vector = try await search(gw, kb: "notes", key: keys.inference, "门诊", mode: "vector")
            #expect(vector.status == 400)
            #expect(vector.json["error"]?["param"]?.stringValue == "mode")
            let hybrid = try await search(gw, kb: "notes", key: keys.inference, "车险 claim", mode: "hybrid", topK: 10)
            #expect(hybrid.status == 200)
            #expect(hybrid.json["mode"]?.stringValue == "keyword")
            let keyword = try await search(gw, kb: "notes", key: keys.inference, "车险 claim", mode: "keyword", topK: 10)
            #expect(hits(hybrid) == hits(keyword), "hybrid without vectors is keyword search")
            #expect(documents(keyword).first == docs.mixed)
            let byDefault = try await search(gw, kb: "notes", key: keys.inference, "车险 claim", topK: 10)
            #expect(byDefault.json["mode"]?.stringValue == "keyword" && hits(byDefault) == hits(keyword))
        }
    }

    @Test func embeddingsAreComputedInBatchesAndStayAligned() async throws {
        try await withKnowledgeGateway(configure: Self.noRefresh) { gw, upstream, keys in
            try await createKB(gw, "clauses", extra: ["chunk_size": 32, "chunk_overlap": 0])
            // 70 paragraphs of weight 24: one chunk each at size 32.
            var generator = SeededGenerator(seed: 11)
            let han = Array("天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏闰余成岁律吕调阳云腾致雨露结为霜金生丽水玉出昆冈剑号巨阙珠称夜光")
            let paragraphs = (0..<70).map { i in
                "条款\(i % 10)：" + String((0..<20).map { _ in han[Int(generator.next() % UInt64(han.count))] })
            }
            let before = upstream.embeddingCalls.count
            let reply = try await uploadJSON(
                gw, kb: "clauses", key: keys.manage, ["title": "Clauses", "text": .string(paragraphs.joined(separator: "\n\n"))])
            try #require(reply.status == 201, "\(reply.text)")
            #expect(int(reply.json["chunks"]) == 70)
            let calls = upstream.embeddingCalls.dropFirst(before)
            #expect(calls.allSatisfy { $0.model == "embed-small" })
            #expect(calls.map(\.inputs).reduce(0, +) == 70, "every chunk embedded once")
            #expect(calls.count == (70 + KnowledgeService.embeddingBatch - 1) / KnowledgeService.embeddingBatch, "in batches, not one call per chunk")
            #expect(calls.allSatisfy { $0.inputs <= KnowledgeService.embeddingBatch })
            #expect(calls.count > 1 && calls.dropLast().allSatisfy { $0.inputs == KnowledgeService.embeddingBatch })
            // Each chunk's vector is its own, in every batch.
            for i in [0, 31, 32, 37, 64, 69] {
                let found = try await search(gw, kb: "clauses", key: keys.inference, paragraphs[i], mode: "vector", topK: 1)
                let top = try #require(hits(found).first)
                #expect(top["text"]?.stringValue == paragraphs[i], "paragraph \(i)")
                #expect(abs(score(top) - 1) < 1e-4)
            }
        }
    }

    // MARK: Deletion and restart

    @Test func deletingADocumentRemovesItFromEveryIndex() async throws {
        try await withKnowledgeGateway(configure: Self.noRefresh) { gw, _, keys in
            try await createKB(gw, "policies")
            let docs = try await uploadCorpus(gw, kb: "policies", key: keys.manage)
            let vectorBefore = try await search(gw, kb: "policies", key: keys.inference, "lugage", mode: "vector", topK: 50)
            #expect(documents(vectorBefore).first == docs.travel)
            let travelChunks = Set(zip(documents(vectorBefore), chunkIDs(vectorBefore)).filter { $0.0 == docs.travel }.map(\.1))
            #expect(travelChunks.count == 1)

            let deleted = try await gw.request(.DELETE, "/admin/v1/knowledge-bases/policies/documents/\(docs.travel)", key: keys.manage)
            #expect(deleted.status == 200, "\(deleted.text)")
            #expect(deleted.json["deleted"] == true)
            let again = try await gw.request(.DELETE, "/admin/v1/knowledge-bases/policies/documents/\(docs.travel)", key: keys.manage)
            #expect(again.status == 404)

            #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "luggage", mode: "keyword")).isEmpty)
            let vectorAfter = try await search(gw, kb: "policies", key: keys.inference, "lugage", mode: "vector", topK: 50)
            #expect(!documents(vectorAfter).contains(docs.travel))
            #expect(Set(chunkIDs(vectorAfter)).isDisjoint(with: travelChunks))
            #expect(hits(vectorAfter).count == 5, "the other documents' chunks are all still there")
            let best = try await search(gw, kb: "policies", key: keys.inference, "lugage", mode: "vector", topK: 1)
            #expect(hits(best).count == 1, "a deleted chunk's vector does not take the only place")
            #expect(documents(best) != [docs.travel])
            let hybrid = try await search(gw, kb: "policies", key: keys.inference, "lost luggage", mode: "hybrid", topK: 50)
            #expect(!documents(hybrid).contains(docs.travel))
            let info = try await kbInfo(gw, "policies", key: keys.manage)
            #expect(int(info["documents"]) == 4 && int(info["chunks"]) == 5 && int(info["vectors"]) == 5)
            // The same content can come back, as a new document.
            let back = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Travel insurance FAQ", type: "text/plain", Self.travelText)
            #expect(back.status == 201 && back.json["created"] == true)
            #expect(
                documents(try await search(gw, kb: "policies", key: keys.inference, "luggage", mode: "keyword")) == [back.json["id"]?.stringValue ?? "?"])
        }
    }

    @Test func concurrentUploadsAndDeletesRacingTheRefresherKeepOneVectorPerChunk() async throws {
        // The refresher at its fastest, so full reloads interleave with the uploads' own index changes.
        try await withKnowledgeGateway(configure: { $0.catalogRefreshIntervalMs = 100 }) { gw, _, keys in
            try await createKB(gw, "policies")
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<24 {
                    group.addTask {
                        let reply = try await uploadRaw(
                            gw, kb: "policies", key: keys.manage, title: "Note \(i)", type: "text/plain",
                            "Note number \(i) about claim handling step \(i * 7).")
                        try #require(reply.status == 201, "\(reply.text)")
                        return reply.json["id"]?.stringValue ?? ""
                    }
                }
                var ids: [String] = []
                for try await id in group { ids.append(id) }
                return ids
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in ids.prefix(8) {
                    group.addTask {
                        let reply = try await gw.request(.DELETE, "/admin/v1/knowledge-bases/policies/documents/\(id)", key: keys.manage)
                        #expect(reply.status == 200, "\(reply.text)")
                    }
                }
                try await group.waitForAll()
            }
            let info = try await kbInfo(gw, "policies", key: keys.manage)
            #expect(int(info["documents"]) == 16 && int(info["chunks"]) == 16)
            #expect(int(info["vectors"]) == 16, "no vector twice, none lost")
            let all = try await search(gw, kb: "policies", key: keys.inference, "claim handling", mode: "vector", topK: 50)
            #expect(hits(all).count == 16)
            #expect(Set(chunkIDs(all)).count == 16, "each chunk once")
        }
    }

    @Test func aWriteByAnotherProcessIsPickedUpByTheNextLocalUpload() async throws {
        try await withKnowledgeGateway(configure: Self.noRefresh) { gw, _, keys in
            try await createKB(gw, "policies", embedding: false)
            let kb = try #require(gw.gateway.snapshot.allKnowledgeBases.first { $0.name == "policies" })
            // Another process (here: the store directly, past the gateway's indexes) adds a document.
            let text = "Windscreen chips are repaired free of charge"
            let foreign = try await gw.gateway.store.insertDocument(
                knowledgeBase: kb, title: "Glass", contentType: "text/plain", sha256: "foreign", bytes: text.utf8.count, metadata: nil,
                chunks: [NewChunk(position: 0, heading: "", text: text, terms: SearchTokenizer.indexTerms("Glass\n\n" + text), embedding: nil)],
                actor: "other-process")
            #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "windscreen", mode: "keyword")).isEmpty, "not seen yet")
            // This process's next upload commits the generation after it: the gap is closed by a full load.
            let local = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Hail", type: "text/plain", "Hail damage is covered")
            #expect(local.status == 201)
            #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "windscreen", mode: "keyword")) == [foreign.document.id])
            #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "hail", mode: "keyword")) == [local.json["id"]?.stringValue ?? "?"])
        }
    }

    @Test func theVectorIndexIsRebuiltFromTheStoreAfterARestart() async throws {
        let directory = TestGateway.makeDataDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withMockUpstream { upstream in
            let (keys, docs, deletedChunks) = try await TestGateway.run(dataDir: directory) { gw in
                let keys = try await setUp(gw, upstream)
                try await createKB(gw, "policies")
                let docs = try await uploadCorpus(gw, kb: "policies", key: keys.manage)
                let home = try await search(gw, kb: "policies", key: keys.inference, "pipes fire damage", mode: "keyword", topK: 10)
                let homeChunks = Set(zip(documents(home), chunkIDs(home)).filter { $0.0 == docs.home }.map(\.1))
                #expect(homeChunks.count == 2)
                let deleted = try await gw.request(.DELETE, "/admin/v1/knowledge-bases/policies/documents/\(docs.home)", key: keys.manage)
                #expect(deleted.status == 200)
                return (keys, docs, homeChunks)
            }
            let callsBefore = upstream.embeddingCalls.count
            try await TestGateway.run(dataDir: directory) { gw in
                let info = try await kbInfo(gw, "policies", key: keys.manage)
                #expect(int(info["documents"]) == 4)
                #expect(int(info["chunks"]) == 4)
                #expect(int(info["vectors"]) == 4, "the index holds exactly the stored chunks' vectors")
                let vector = try await search(gw, kb: "policies", key: keys.inference, "lugage", mode: "vector", topK: 50)
                #expect(vector.status == 200, "\(vector.text)")
                #expect(documents(vector).first == docs.travel)
                #expect(Set(chunkIDs(vector)).isDisjoint(with: deletedChunks), "deleted chunks stay deleted")
                #expect(hits(vector).count == 4)
                let exact = try await search(gw, kb: "policies", key: keys.inference, Self.travelText, mode: "vector", topK: 1)
                #expect(abs(score(hits(exact).first ?? .null) - 1) < 1e-4, "the reloaded vector is the stored one")
                #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "pipes", mode: "keyword")).isEmpty)
                #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "门诊", mode: "keyword")) == [docs.health])
                let hybrid = try await search(gw, kb: "policies", key: keys.inference, "lost luggage", topK: 5)
                #expect(abs(score(hits(hybrid).first ?? .null) - 2.0 / 61) < 1e-5)
                let after = upstream.embeddingCalls.dropFirst(callsBefore)
                #expect(!after.isEmpty && after.allSatisfy { $0.inputs == 1 }, "after the restart only queries are embedded")
            }
        }
    }

    // MARK: Tenant isolation
}
