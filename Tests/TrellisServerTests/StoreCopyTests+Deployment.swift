import Foundation
import OpenAIWire
import Testing
import TrellisCore
import TrellisServer
import TrellisStore
import TrellisStoreTestSupport

/// A small deployment with rows in every table, and the ways two stores are compared.
extension StoreCopyTests {
    /// Fills every table through the store's operations; returns a tenant key (its secret).
    static func fill(_ store: any TrellisStoreEngine) async throws -> String {
        let now = at
        let acme = try await store.createTenant(
            name: "acme", settings: TenantSettings(monthlyTokenQuota: 1_000_000, capture: CaptureSettings(enabled: true, retentionDays: 30)),
            actor: "test", now: now)
        let globex = try await store.createTenant(name: "globex", actor: "test", now: now)
        let (key, secret) = try await store.createKey(
            NewKey(tenantID: acme.id, name: "ci", scopes: [.inference, .usage], models: ["*"], rpm: 60, tpm: nil, expiresAt: nil), actor: "test",
            now: now)
        let (old, _) = try await store.createKey(
            NewKey(
                tenantID: globex.id, name: "old", scopes: [.inference], models: ["claims"], rpm: nil, tpm: 1000,
                expiresAt: now.addingTimeInterval(86_400)), actor: "test", now: now)
        _ = try await store.revokeKey(id: old.id, actor: "test", now: now)
        _ = try await store.createUpstream(
            NewUpstream(
                name: "local", baseURL: "http://127.0.0.1:8081/v1", kind: .llamacpp, labels: [.private], apiKeyEnv: "LOCAL_KEY", timeouts: .default),
            actor: "test", now: now)
        _ = try await store.createModel(
            name: "assistant", tenantID: nil, description: "shared", spec: ["upstream": "local", "model": "smollm2"], actor: "test", now: now)
        let claims = try await store.createModel(
            name: "claims", tenantID: acme.id, description: nil, spec: ["upstream": "local", "model": "smollm2"], actor: "test", now: now)
        let v2 = try await store.addModelVersion(
            modelID: claims.id, spec: ["upstream": "local", "model": "smollm2", "params": ["temperature": 0.2]], actor: "test", now: now)
        try await store.setTraffic(modelID: claims.id, traffic: [1: 90, v2: 10], actor: "test", now: now)
        for text in ["Hello {{name}}", "Hello, {{name}}."] {
            _ = try await store.writePrompt(
                name: "greet", tenantID: nil, description: "a greeting", definition: ["messages": [["role": "system", "content": .string(text)]]],
                labels: ["prod"], actor: "test", now: now)
        }
        _ = try await store.createAdapter(
            Adapter(
                id: "", name: "lora", tenantID: acme.id, upstream: "local", baseModel: "smollm2", serving: .loraID(3, scale: 0.5), method: .lora,
                dataset: "claims-2025", evaluation: nil, description: nil, createdAt: now), actor: "test", now: now)
        let handbook = try await store.createKnowledgeBase(
            name: "handbook", tenantID: acme.id, description: "policies", embedding: .init(upstream: "local", model: "e"), chunkSize: 256,
            chunkOverlap: 32, actor: "test", now: now)
        let notes = try await store.createKnowledgeBase(
            name: "notes", tenantID: globex.id, description: nil, embedding: nil, chunkSize: 128, chunkOverlap: 0, actor: "test", now: now)
        _ = try await store.insertDocument(
            knowledgeBase: handbook, title: "Travel", contentType: "text/markdown", sha256: "a1", bytes: 120, metadata: "{\"lang\":\"zh\"}",
            chunks: [chunk(0, "航班延误4小时能赔多少钱", [0.5, -0.25]), chunk(1, "The grace period is thirty days", [1, 0])], actor: "test", now: now)
        _ = try await store.insertDocument(
            knowledgeBase: notes, title: "Notes", contentType: "text/plain", sha256: "b2", bytes: 10, metadata: nil,
            chunks: [chunk(0, "hail damage claims"), chunk(1, "")], actor: "test", now: now)

        try await store.insertUsage(
            (0..<8).map { i in usage(i, tenantID: i < 6 ? acme.id : globex.id, keyID: key.id, endUser: i % 3 == 0 ? nil : "u\(i % 2)", day: i % 2) })
        for (request, rating, correction) in [("req_1", 1, nil), ("req_2", -1, "better"), ("req_2", 1, nil)] as [(String, Int, String?)] {
            let owner = try #require(try await store.usageOwner(requestID: request))
            _ = try await store.insertFeedback(
                requestID: request, owner: owner, keyID: owner.keyID, rating: rating, comment: "c", correction: correction, now: now)
        }
        for i in 1...2 {
            try await store.insertInteraction(
                requestID: "req_\(i)", tenantID: acme.id, model: "claims", modelVersion: 1, messages: [["role": "user", "content": .string("q\(i)")]],
                answer: "a\(i)", retentionDays: 30, now: now)
        }
        try await store.insertResponse(
            StoredResponse(
                id: "resp_1", tenantID: acme.id, model: "claims", createdAt: now, expiresAt: now.addingTimeInterval(30 * 86_400),
                response: ["id": "resp_1", "object": "response", "status": "completed"],
                conversation: [["role": "user", "content": "q1"], ["role": "assistant", "content": "a1"]]))
        let set = try await store.insertEvalSet(
            tenantID: acme.id, name: "golden", items: [["input": "问题", "expected": ["答案", "回答"]]], actor: "operator", now: now)
        _ = try await store.insertEvalSet(tenantID: nil, name: "golden", items: [["input": "q"]], actor: "operator", now: now)
        try await store.insertEvalRun(
            EvalRunRecord(
                id: "evr_1", tenantID: acme.id, keyID: "operator", setID: set.id, setName: "golden", setVersion: 1, models: ["claims@1"],
                scorers: [["type": "contains"]], concurrency: 2, status: .done, total: 1, createdAt: now, finishedAt: now, createdBy: "operator",
                summary: ["results": [["model": "claims", "version": 1, "score": 1]], "comparisons": []]),
            owner: "proc_1")
        try await store.saveEvalResult(
            EvalResultRecord(
                runID: "evr_1", item: 0, model: "claims@1", answer: "答案是", error: nil, scores: [["scorer": "contains", "score": 1]], passed: true,
                score: 1, latencyMs: 12.5, promptTokens: 3, completionTokens: 4, costMicros: 7))
        return secret
    }

    static func chunk(_ position: Int, _ text: String, _ embedding: [Float]? = nil) -> NewChunk {
        NewChunk(position: position, heading: "h\(position)", text: text, terms: SearchTokenizer.indexTerms(text), embedding: embedding)
    }

    static func usage(_ i: Int, tenantID: String, keyID: String = "key_x", endUser: String?, day: Int = 0) -> UsageEvent {
        var event = UsageEvent(
            requestID: "req_\(i)", at: at.addingTimeInterval(Double(day * 86_400 + i)), endpoint: i == 5 ? "embeddings" : "chat", tenantID: tenantID,
            keyID: keyID, endUser: endUser, model: "claims", modelVersion: i == 4 ? nil : 1 + i % 2, upstream: i == 7 ? nil : "local",
            promptTokens: 10 + i, completionTokens: 5 * i, estimated: i == 3, latencyMs: 100.5 + Double(i), ttftMs: i % 2 == 0 ? 20.25 : nil,
            status: i == 6 ? 502 : 200, errorCode: i == 6 ? "upstream_error" : nil, stream: i % 2 == 1, retrievalMs: i == 1 ? 3.5 : nil)
        if i == 2 {
            event.routedTo = "small@1"
            event.baselineCostMicros = 90
        }
        return event
    }

    /// Every row of every table, through the transfer seam (as sets: engines order text keys by their own
    /// collations).
    static func dump(_ store: any TrellisStoreEngine) async throws -> [String: Set<[TransferValue]>] {
        let transfer = try #require(store as? any StoreTransfer)
        var tables: [String: Set<[TransferValue]>] = [:]
        for table in TransferTable.all {
            var rows: Set<[TransferValue]> = []
            var after: [TransferValue]?
            while true {
                let page = try await transfer.transferRows(table, after: after, limit: 4)
                rows.formUnion(page)
                guard page.count == 4, let last = page.last else { break }
                after = table.key(of: last)
            }
            tables[table.name] = rows
        }
        return tables
    }

    /// The two stores answer the store's operations alike: catalog, keys, audit, usage reports, knowledge.
    static func expectSameAnswers(_ a: any TrellisStoreEngine, _ b: any TrellisStoreEngine, secret: String) async throws {
        let one = try await a.loadSnapshot(now: at)
        let two = try await b.loadSnapshot(now: at)
        #expect(one.generation == two.generation)
        #expect(one.tenants == two.tenants)
        #expect(one.upstreams == two.upstreams)
        #expect(one.allModels.sorted { $0.id < $1.id } == two.allModels.sorted { $0.id < $1.id })
        #expect(one.allPrompts.sorted { $0.id < $1.id } == two.allPrompts.sorted { $0.id < $1.id })
        #expect(one.allAdapters.sorted { $0.id < $1.id } == two.allAdapters.sorted { $0.id < $1.id })
        #expect(one.allKnowledgeBases == two.allKnowledgeBases)
        #expect(one.keyCount == two.keyCount)
        let key = one.key(for: KeyDigest(of: secret))
        #expect(key != nil, "the key resolves by its digest")
        #expect(two.key(for: KeyDigest(of: secret)) == key, "and resolves to the same key on the copy")
        for tenantID in one.tenants.keys {
            #expect(try await a.keys(tenantID: tenantID).sorted { $0.id < $1.id } == b.keys(tenantID: tenantID).sorted { $0.id < $1.id })
        }
        #expect(try await a.auditEntries(limit: 1000) == b.auditEntries(limit: 1000))
        for groups in [[], [UsageDimension.model], [.tenant, .day], [.key, .user], [.version, .model]] {
            let query = UsageQuery(fromDay: "2025-11-30", toDay: "2025-12-31", groupBy: groups)
            #expect(try await described(a.usageReport(query)) == described(b.usageReport(query)), "usage by \(groups)")
        }
        #expect(try await a.tokensThisMonth("2025-12") == b.tokensThisMonth("2025-12"))
        #expect(try await a.knowledgeGeneration() == b.knowledgeGeneration())

        let bases = one.allKnowledgeBases
        let indexA = try await a.indexSnapshot(knowledgeBases: bases)
        let indexB = try await b.indexSnapshot(knowledgeBases: bases)
        #expect(indexA.generation == indexB.generation)
        #expect(!indexA.terms.isEmpty)
        for kb in bases {
            #expect(indexA.terms[kb.id]?.map(\.id) == indexB.terms[kb.id]?.map(\.id), "\(kb.name): chunk ids")
            #expect(indexA.terms[kb.id]?.map(\.terms) == indexB.terms[kb.id]?.map(\.terms), "\(kb.name): keyword terms")
            #expect(indexA.vectors[kb.id]?.map(\.id) == indexB.vectors[kb.id]?.map(\.id), "\(kb.name): embedded chunks")
            #expect(indexA.vectors[kb.id]?.map(\.vector) == indexB.vectors[kb.id]?.map(\.vector), "\(kb.name): embeddings")
            #expect(try await a.documents(knowledgeBaseID: kb.id, limit: 100, afterID: nil) == b.documents(knowledgeBaseID: kb.id, limit: 100, afterID: nil))
            let ids = indexA.terms[kb.id, default: []].map(\.id)
            #expect(try await a.chunks(ids: ids) == b.chunks(ids: ids))
        }
        let ratedA = try await a.ratedInteractions(tenantID: nil, model: nil, afterRequestID: nil, limit: 100)
        let ratedB = try await b.ratedInteractions(tenantID: nil, model: nil, afterRequestID: nil, limit: 100)
        let line = { (rated: RatedInteraction) in "\(rated.requestID) \(rated.rating) \(rated.answer) \(rated.correction ?? "-") \(rated.messages)" }
        #expect(ratedA.map(line) == ratedB.map(line))
        #expect(ratedA.count == 2)
    }

    /// A report's rows as text, groups in a fixed order, rows sorted.
    static func described(_ rows: [UsageRow]) -> [String] {
        rows.map { row in
            let group = row.group.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: ",")
            return "\(group) requests=\(row.requests) users=\(row.users) errors=\(row.errors) tokens=\(row.promptTokens)/\(row.completionTokens) "
                + "cost=\(row.costMicros) feedback=+\(row.positive)-\(row.negative) latency=\(row.latency.encoded) ttft=\(row.ttft.encoded) "
                + "exact=\(row.exactLatency ?? [])"
        }.sorted()
    }
}
