import Crypto
import Foundation
import Logging
import OpenAIWire
import Synchronization
import TrellisCore
import TrellisStore
import TrellisUpstream

/// Knowledge bases at run time: ingestion (extract, chunk, tokenise, embed in batches, store), the in-memory
/// vector index per knowledge base, and search (keyword, vector, or both fused by reciprocal rank).
final class KnowledgeService: Sendable {
    let store: any KnowledgeStore
    let upstreams: UpstreamClient
    /// The egress check every embedding call passes first; the call connects along the route it gives.
    let egress: EgressCache
    /// The keyword and vector indexes and the order their changes apply in (`IndexCommitOrder`: the knowledge
    /// generation they reflect, this process's writes in flight and those waiting for a predecessor), changed
    /// together under one lock. This process's own writes are applied in the store's commit order, and a full
    /// load only moves forward and keeps the changes newer than what it read. So uploads racing each other and
    /// reloads neither add a chunk twice nor lose one, and a busy ingest never reloads everything for its own
    /// writes. A gap no local write will fill (another process wrote) is closed by a full load.
    typealias Change = @Sendable (inout Indexes) -> Void
    struct Indexes {
        var byKnowledgeBase: [String: VectorIndex] = [:]
        var keyword: [String: KeywordIndex] = [:]
        var order = IndexCommitOrder<Change>(maxPending: KnowledgeService.maxPending)
    }
    /// Local changes held back for a missing predecessor before a full load is forced anyway.
    static let maxPending = 64
    private let indexes = Mutex(Indexes())
    static let embeddingBatch = 32
    /// The largest embeddings answer read for one batch: 32 inputs of up to 8,192 dimensions at about 30 bytes per
    /// number (pretty-printed JSON) is under 8 MiB.
    static let maxEmbeddingAnswerBytes = 16 << 20
    static let maxChunksPerDocument = 20_000

    /// The process environment (or a test's): upstream API keys are read from the variables upstreams name.
    let environment: [String: String]
    /// What may be sent for embedding, and masked first (`privacy.external_embeddings`, see ``EmbeddingPrivacy``).
    let privacy: EmbeddingPrivacy

    init(
        store: any KnowledgeStore, upstreams: UpstreamClient, egress: EgressCache, environment: [String: String],
        privacy: EmbeddingPrivacy = EmbeddingPrivacy(masker: TrellisConfig.standardMasker)
    ) {
        self.store = store
        self.upstreams = upstreams
        self.egress = egress
        self.environment = environment
        self.privacy = privacy
    }

    // MARK: Vector indexes

    /// Builds every knowledge base's vector index from the stored embeddings (at start, and when another
    /// process has added or deleted documents).
    func loadIndexes(_ knowledgeBases: [KnowledgeBase]) async throws {
        let stored = try await store.indexSnapshot(knowledgeBases: knowledgeBases)
        var built = Indexes()
        for kb in knowledgeBases {
            var keyword = KeywordIndex()
            for (id, terms) in stored.terms[kb.id] ?? [] { keyword.add(id: id, terms: terms) }
            built.keyword[kb.id] = keyword
            guard let vectors = stored.vectors[kb.id], let dims = vectors.first?.vector.count else { continue }
            var index = VectorIndex(dimensions: dims)
            for (id, v) in vectors { index.add(id: id, vector: v) }
            built.byKnowledgeBase[kb.id] = index
        }
        indexes.withLock { state in
            // A load that read an older snapshot than what is installed would go backwards: keep the newer.
            guard let newer = state.order.loaded(generation: stored.generation) else { return }
            state.byKnowledgeBase = built.byKnowledgeBase
            state.keyword = built.keyword
            for change in newer { change(&state) }
        }
    }

    /// Reloads the indexes when the stored knowledge generation moved past what this process has seen.
    /// While this process is writing, its own commits run ahead of the indexes for a moment: that is not a
    /// change to reload for (the writes apply themselves, and force a load if they find a gap).
    func refreshIfChanged(_ knowledgeBases: [KnowledgeBase]) async throws {
        let generation = try await store.knowledgeGeneration()
        if indexes.withLock({ $0.order.needsRefresh(storedGeneration: generation) }) {
            try await loadIndexes(knowledgeBases)
        }
    }

    /// Counts a write of this process as in flight; `apply` (or `abandon`, when the write failed) ends it.
    private func beginWrite() {
        indexes.withLock { $0.order.beginWrite() }
    }

    private func abandonWrite(_ knowledgeBases: [KnowledgeBase]) async throws {
        let needsLoad = indexes.withLock { $0.order.abandoned().needsLoad }
        if needsLoad { try await loadIndexes(knowledgeBases) }
    }

    /// Applies this process's committed write in commit order (see `IndexCommitOrder`); a write that reports
    /// no generation ends like an abandoned one.
    private func apply(generation: Int64?, knowledgeBases: [KnowledgeBase], _ change: @escaping Change) async throws {
        let needsLoad = indexes.withLock { state -> Bool in
            let applied = generation.map { state.order.committed(generation: $0, change: change) } ?? state.order.abandoned()
            for ready in applied.changes { ready(&state) }
            return applied.needsLoad
        }
        if needsLoad { try await loadIndexes(knowledgeBases) }
    }

    func vectorCount(_ kb: KnowledgeBase) -> Int {
        indexes.withLock { $0.byKnowledgeBase[kb.id]?.count ?? 0 }
    }

    // MARK: Ingestion

    struct Ingested: Sendable {
        var write: DocumentWrite
    }

    func ingest(
        kb: KnowledgeBase, title: String, text: String, contentType: String, raw: [UInt8], metadata: String?, snapshot: CatalogSnapshot,
        actor: String, logger: Logger
    ) async throws -> DocumentWrite {
        let sha = SHA256.hash(data: raw).map { String(format: "%02x", $0) }.joined()
        if let existing = try await store.document(sha256: sha, knowledgeBaseID: kb.id) {
            return DocumentWrite(document: existing, created: false, chunkIDs: [])
        }
        let pieces = Chunker(size: kb.chunkSize, overlap: kb.chunkOverlap).chunk(text)
        guard pieces.count <= Self.maxChunksPerDocument else {
            throw TrellisError(
                status: 413, type: "invalid_request_error", code: "document_too_large",
                message: "The document makes more than \(Self.maxChunksPerDocument) chunks.")
        }
        var embeddings: [[Float]?] = Array(repeating: nil, count: pieces.count)
        if let embedding = kb.embedding {
            var start = 0
            while start < pieces.count {
                let end = min(start + Self.embeddingBatch, pieces.count)
                let inputs = pieces[start..<end].map { p in p.headings.isEmpty ? p.text : p.headingPath + "\n" + p.text }
                let vectors = try await embed(Array(inputs), embedding: embedding, snapshot: snapshot, logger: logger)
                for (offset, v) in vectors.enumerated() { embeddings[start + offset] = v }
                start = end
            }
        }
        let chunks = pieces.enumerated().map { i, p in
            NewChunk(
                position: p.position, heading: p.headingPath, text: p.text,
                terms: SearchTokenizer.indexTerms(title + "\n" + p.headingPath + "\n" + p.text), embedding: embeddings[i])
        }
        beginWrite()
        let write: DocumentWrite
        do {
            write = try await store.insertDocument(
                knowledgeBase: kb, title: title, contentType: contentType, sha256: sha, bytes: raw.count, metadata: metadata, chunks: chunks, actor: actor)
        } catch {
            try await abandonWrite(snapshot.allKnowledgeBases)
            throw error
        }
        if !write.created {
            try await abandonWrite(snapshot.allKnowledgeBases)
        } else {
            let chunkIDs = write.chunkIDs
            let vectors = embeddings
            try await apply(generation: write.generation, knowledgeBases: snapshot.allKnowledgeBases) { state in
                // Changed in place through the dictionary, never copied out and back (a copy of a large index
                // per upload would cost more than the upload).
                for (id, chunk) in zip(chunkIDs, chunks) { state.keyword[kb.id, default: KeywordIndex()].add(id: id, terms: chunk.terms) }
                guard kb.embedding != nil, let dims = vectors.first(where: { $0 != nil })??.count else { return }
                for (id, vector) in zip(chunkIDs, vectors) {
                    if let vector { state.byKnowledgeBase[kb.id, default: VectorIndex(dimensions: dims)].add(id: id, vector: vector) }
                }
            }
        }
        return write
    }

    func delete(kb: KnowledgeBase, documentID: String, actor: String, knowledgeBases: [KnowledgeBase]) async throws {
        beginWrite()
        let removed: (chunkIDs: [Int64], generation: Int64)
        do {
            removed = try await store.deleteDocument(id: documentID, knowledgeBase: kb, actor: actor)
        } catch {
            try await abandonWrite(knowledgeBases)
            throw error
        }
        let ids = Set(removed.chunkIDs)
        try await apply(generation: removed.generation, knowledgeBases: knowledgeBases) { state in
            state.byKnowledgeBase[kb.id]?.remove(ids: ids)
            state.keyword[kb.id]?.remove(ids: ids)
        }
    }

    /// Embeddings from the knowledge base's embedding model (any OpenAI-compatible `/v1/embeddings`).
    func embed(_ inputs: [String], embedding: KnowledgeBase.Embedding, snapshot: CatalogSnapshot, logger: Logger) async throws -> [[Float]] {
        guard let upstream = snapshot.upstreams[embedding.upstream] else {
            throw TrellisError.upstream("The knowledge base's embedding upstream '\(embedding.upstream)' is not registered.", code: "embedding_unavailable")
        }
        var apiKey: String?
        if let name = upstream.apiKeyEnv {
            // As for chat: an upstream whose key variable is not set is not called without it.
            guard let value = environment[name], !value.isEmpty else {
                logger.warning(
                    "embedding upstream skipped: its API key variable is not set", metadata: ["upstream": "\(upstream.name)", "variable": "\(name)"])
                throw TrellisError.upstream(
                    "The knowledge base's embedding upstream '\(upstream.name)' has no API key configured.", code: "embedding_unavailable")
            }
            apiKey = value
        }
        let sent = try privacy.inputs(inputs, for: upstream)
        let body: JSONValue = ["model": .string(embedding.model), "input": .array(sent.map { .string($0) }), "encoding_format": "float"]
        let route = try await egress.route(for: upstream, logger: logger)
        let call = UpstreamCall(
            upstream: upstream, route: route, path: "/embeddings", body: JSONWriter.encode(body), stream: false, requestID: "embed", apiKey: apiKey)
        let object: JSONObject
        do {
            let response = try await upstreams.send(call, logger: logger)
            object = try await response.jsonObject(limits: AnswerLimits(maxBytes: Self.maxEmbeddingAnswerBytes), upstream: upstream.name)
        } catch {
            logger.warning("embedding call failed", metadata: ["upstream": "\(upstream.name)", "reason": "\(error.label)"])
            throw TrellisError.upstream("The embedding model failed (\(error.label)).", code: "embedding_failed")
        }
        guard case .array(let data)? = object["data"], data.count == inputs.count else {
            throw TrellisError.upstream(
                "The embedding model returned \(object["data"]?.arrayValue?.count ?? 0) vectors for \(inputs.count) inputs.", code: "embedding_failed")
        }
        var vectors = Array(repeating: [Float](), count: inputs.count)
        for (position, item) in data.enumerated() {
            let index = item["index"]?.numberValue?.intValue ?? position
            guard (0..<inputs.count).contains(index), case .array(let values)? = item["embedding"] else {
                throw TrellisError.upstream("The embedding model returned an unexpected answer.", code: "embedding_failed")
            }
            vectors[index] = values.map { Float($0.numberValue?.doubleValue ?? 0) }
        }
        return vectors
    }

    // MARK: Search

    /// The best `topK` chunks for `query` in one knowledge base.
    func search(kb: KnowledgeBase, query: String, mode: SearchMode, topK: Int, snapshot: CatalogSnapshot, logger: Logger) async throws -> [RetrievedChunk] {
        try await searchReportingMode(kb: kb, query: query, mode: mode, topK: topK, snapshot: snapshot, logger: logger).chunks
    }

    /// The same, with the mode that actually answered: keyword when the knowledge base has no embedding model,
    /// or when hybrid search found the embedding model down or refused by `privacy.external_embeddings` (the
    /// scores are then keyword scores).
    func searchReportingMode(
        kb: KnowledgeBase, query: String, mode: SearchMode, topK: Int, snapshot: CatalogSnapshot, logger: Logger
    ) async throws -> (chunks: [RetrievedChunk], mode: SearchMode) {
        // Index scans hold a thread: on the shared pool, never on a connection's event loop.
        try await OffLoop.run { try await searchOnPool(kb: kb, query: query, mode: mode, topK: topK, snapshot: snapshot, logger: logger) }
    }

    private func searchOnPool(
        kb: KnowledgeBase, query: String, mode: SearchMode, topK: Int, snapshot: CatalogSnapshot, logger: Logger
    ) async throws -> (chunks: [RetrievedChunk], mode: SearchMode) {
        let depth = max(topK * 4, 20)
        var effective = mode
        if kb.embedding == nil {
            if mode == .vector {
                throw TrellisError.invalidRequest(
                    "The knowledge base '\(kb.name)' has no embedding model, so it can only be searched by keyword.", param: "mode", code: "invalid_value")
            }
            effective = .keyword
        }
        switch effective {
        case .keyword:
            let hits = keywordSearch(kb: kb, query: query, limit: topK)
            return (try await materialize(hits.map { ($0.id, $0.score) }), .keyword)
        case .vector:
            let hits = try await vectorSearch(kb: kb, query: query, limit: topK, snapshot: snapshot, logger: logger)
            return (try await materialize(hits), .vector)
        case .hybrid:
            let keyword = keywordSearch(kb: kb, query: query, limit: depth)
            let vector: [(Int64, Double)]
            do {
                vector = try await vectorSearch(kb: kb, query: query, limit: depth, snapshot: snapshot, logger: logger)
            } catch let error as TrellisError where error.type == "upstream_error" || error.code == EmbeddingPrivacy.refusedCode {
                // The embedding model is down: keyword results still answer, with their own scores.
                logger.warning("vector search unavailable; keyword only", metadata: ["knowledge_base": "\(kb.name)"])
                let hits = keyword
                return (try await materialize(hits.prefix(topK).map { ($0.id, $0.score) }), .keyword)
            }
            let fused = RankFusion.reciprocalRank([keyword.map(\.id), vector.map(\.0)])
            return (try await materialize(fused.prefix(topK).map { ($0.id, $0.score) }), .hybrid)
        }
    }

    /// BM25 over the knowledge base's in-memory keyword index.
    func keywordSearch(kb: KnowledgeBase, query: String, limit: Int) -> [(id: Int64, score: Double)] {
        let index = indexes.withLock { $0.keyword[kb.id] }
        return index?.search(SearchTokenizer.queryTerms(query), limit: limit) ?? []
    }

    func vectorSearch(kb: KnowledgeBase, query: String, limit: Int, snapshot: CatalogSnapshot, logger: Logger) async throws -> [(Int64, Double)] {
        guard let embedding = kb.embedding else { return [] }
        let vector = try await embed([query], embedding: embedding, snapshot: snapshot, logger: logger)[0]
        let index = indexes.withLock { $0.byKnowledgeBase[kb.id] }
        return (index?.search(vector, k: limit) ?? []).map { ($0.id, Double($0.score)) }
    }

    func materialize(_ hits: [(Int64, Double)]) async throws -> [RetrievedChunk] {
        let chunks = try await store.chunks(ids: hits.map(\.0))
        let scores = Dictionary(hits, uniquingKeysWith: { a, _ in a })
        return chunks.map { c in
            var c = c
            c.score = scores[c.chunkID] ?? 0
            return c
        }
    }

    /// A RAG model's retrieval: every named base searched, the lists fused when there are several, the best
    /// `topK` above the minimum score.
    func retrieve(_ ref: ModelSpec.KnowledgeRef, tenantID: String, query: String, snapshot: CatalogSnapshot, logger: Logger) async throws -> [RetrievedChunk] {
        var lists: [[RetrievedChunk]] = []
        for name in ref.bases {
            guard let kb = snapshot.knowledgeBase(named: name, tenantID: tenantID) else {
                throw TrellisError(status: 500, type: "server_error", code: "model_misconfigured", message: "The model's knowledge base '\(name)' is missing.")
            }
            let mode = kb.embedding == nil && ref.mode == .vector ? .keyword : ref.mode
            lists.append(try await search(kb: kb, query: query, mode: mode, topK: ref.topK, snapshot: snapshot, logger: logger))
        }
        var merged: [RetrievedChunk]
        if lists.count == 1 {
            merged = lists[0]
        } else {
            let byID = Dictionary(lists.joined().map { ($0.chunkID, $0) }, uniquingKeysWith: { a, _ in a })
            merged = RankFusion.reciprocalRank(lists.map { $0.map(\.chunkID) }).compactMap { fused in
                byID[fused.id].map {
                    var c = $0; c.score = fused.score; return c
                }
            }
        }
        if let minimum = ref.minScore { merged = merged.filter { $0.score >= minimum } }
        return Array(merged.prefix(ref.topK))
    }
}
