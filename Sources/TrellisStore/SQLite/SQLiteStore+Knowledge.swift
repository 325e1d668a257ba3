import Foundation
import GRDB
import OpenAIWire
import TrellisCore

/// Knowledge bases, documents, chunks, their FTS5 index terms and embeddings.
extension SQLiteStore {
    public func createKnowledgeBase(
        name: String, tenantID: String, description: String?, embedding: KnowledgeBase.Embedding?, chunkSize: Int, chunkOverlap: Int,
        actor: String, now: Date
    ) async throws -> KnowledgeBase {
        try await pool.write { db in
            if try KnowledgeBaseRecord.all().named(name, tenantID: tenantID).fetchCount(db) > 0 {
                throw TrellisError.conflict("This tenant already has a knowledge base named '\(name)'.")
            }
            let record = KnowledgeBaseRecord(
                id: APIKeys.identifier("kb"), name: name, tenantID: tenantID, description: description, embeddingUpstream: embedding?.upstream,
                embeddingModel: embedding?.model, chunkSize: chunkSize, chunkOverlap: chunkOverlap, createdAt: now.unixSeconds)
            try record.insert(db)
            try Self.bumpGeneration(db)
            try Self.audit(db, actor: actor, tenantID: tenantID, action: "knowledge_base.create", target: "knowledge_base:\(name)", now: now)
            return record.domain
        }
    }

    public func setKnowledgeBaseDescription(id: String, description: String?, actor: String, now: Date) async throws {
        try await pool.write { db in
            guard var kb = try KnowledgeBaseRecord.fetchOne(db, key: id) else { throw TrellisError.notFound("The knowledge base") }
            kb.description = description
            try kb.update(db)
            try Self.bumpGeneration(db)
            try Self.audit(db, actor: actor, tenantID: kb.tenantID, action: "knowledge_base.update", target: "knowledge_base:\(kb.name)", now: now)
        }
    }

    /// Moves the knowledge generation on, inside the caller's write transaction; returns the new value.
    @discardableResult
    static func bumpKnowledgeGeneration(_ db: Database) throws -> Int64 {
        try db.execute(sql: "UPDATE meta SET value = value + 1 WHERE key = 'knowledge_generation'")
        return try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'knowledge_generation'") ?? 0
    }

    /// Moves whenever a document is added or deleted, so replicas know to rebuild their vector indexes.
    public func knowledgeGeneration() async throws -> Int64 {
        try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'knowledge_generation'") ?? 0 }
    }

    static func fetchKnowledgeBases(_ db: Database) throws -> [KnowledgeBase] {
        try KnowledgeBaseRecord.all().byName().fetchAll(db).map(\.domain)
    }

    /// The document with this content in a knowledge base, if any.
    public func document(sha256: String, knowledgeBaseID: String) async throws -> DocumentInfo? {
        try await pool.read { db in
            try DocumentRecord.all().inKnowledgeBase(knowledgeBaseID).withContent(sha256: sha256).fetchOne(db)?.domain
        }
    }

    /// Stores a document and its chunks (text, keyword terms, optional embeddings) in one transaction. The same
    /// content uploaded again is a no-op that returns the existing document.
    public func insertDocument(
        knowledgeBase: KnowledgeBase, title: String, contentType: String, sha256: String, bytes: Int, metadata: String?, chunks: [NewChunk],
        actor: String, now: Date
    ) async throws -> DocumentWrite {
        try await pool.write { db in
            if let existing = try DocumentRecord.all().inKnowledgeBase(knowledgeBase.id).withContent(sha256: sha256).fetchOne(db) {
                return DocumentWrite(document: existing.domain, created: false, chunkIDs: [])
            }
            let document = DocumentRecord(
                id: APIKeys.identifier("doc"), kbID: knowledgeBase.id, title: title, contentType: contentType, sha256: sha256, bytes: bytes,
                metadata: metadata, chunkCount: chunks.count, createdAt: now.unixSeconds)
            try document.insert(db)
            var ids: [Int64] = []
            ids.reserveCapacity(chunks.count)
            let prefix = knowledgeBase.termPrefix
            let fts = try db.cachedStatement(sql: "INSERT INTO chunk_terms(rowid, terms) VALUES (?, ?)")
            for chunk in chunks {
                var record = ChunkRecord(
                    id: nil, kbID: knowledgeBase.id, documentID: document.id, position: chunk.position, heading: chunk.heading, text: chunk.text,
                    embedding: chunk.embedding.map { Data(VectorIndex.encode($0)) })
                try record.insert(db)
                guard let id = record.id else { throw TrellisError.internalError }
                ids.append(id)
                try fts.execute(arguments: [id, chunk.terms.map { prefix + $0 }.joined(separator: " ")])
            }
            let generation = try Self.bumpKnowledgeGeneration(db)
            try Self.audit(
                db, actor: actor, tenantID: knowledgeBase.tenantID, action: "document.create", target: "document:\(document.id)",
                detail: ["knowledge_base": .string(knowledgeBase.name), "title": .string(String(title.prefix(200))), "chunks": .int(chunks.count)],
                now: now)
            return DocumentWrite(document: document.domain, created: true, chunkIDs: ids, generation: generation)
        }
    }

    public func documents(knowledgeBaseID: String, limit: Int, afterID: String?) async throws -> [DocumentInfo] {
        try await pool.read { db in
            var request = DocumentRecord.all().inKnowledgeBase(knowledgeBaseID).order(DocumentRecord.Columns.id).limit(limit)
            if let afterID { request = request.filter(DocumentRecord.Columns.id > afterID) }
            return try request.fetchAll(db).map(\.domain)
        }
    }

    public func document(id: String, knowledgeBaseID: String) async throws -> DocumentInfo? {
        try await pool.read { db in
            try DocumentRecord.all().withID(id).inKnowledgeBase(knowledgeBaseID).fetchOne(db)?.domain
        }
    }

    /// Deletes a document with its chunks from every index; returns the chunk ids removed and the knowledge
    /// generation the deletion committed.
    public func deleteDocument(
        id: String, knowledgeBase: KnowledgeBase, actor: String, now: Date
    ) async throws -> (chunkIDs: [Int64], generation: Int64) {
        try await pool.write { db in
            guard let document = try DocumentRecord.all().withID(id).inKnowledgeBase(knowledgeBase.id).fetchOne(db) else {
                throw TrellisError.notFound("The document '\(id.prefix(64))'")
            }
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM chunks WHERE document_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM chunk_terms WHERE rowid IN (SELECT id FROM chunks WHERE document_id = ?)", arguments: [id])
            try db.execute(sql: "DELETE FROM chunks WHERE document_id = ?", arguments: [id])
            try document.delete(db)
            let generation = try Self.bumpKnowledgeGeneration(db)
            try Self.audit(
                db, actor: actor, tenantID: knowledgeBase.tenantID, action: "document.delete", target: "document:\(id)",
                detail: ["knowledge_base": .string(knowledgeBase.name), "title": .string(String(document.title.prefix(200)))], now: now)
            return (ids, generation)
        }
    }

    /// The chunks with these ids, with their documents' titles, in the order given.
    public func chunks(ids: [Int64]) async throws -> [RetrievedChunk] {
        guard !ids.isEmpty else { return [] }
        return try await pool.read { db in
            let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT c.id, c.document_id, c.heading, c.text, d.title FROM chunks c JOIN documents d ON d.id = c.document_id
                    WHERE c.id IN (\(placeholders))
                    """, arguments: StatementArguments(ids))
            var byID: [Int64: RetrievedChunk] = [:]
            for row in rows {
                let id: Int64 = row["id"]
                byID[id] = RetrievedChunk(
                    chunkID: id, documentID: row["document_id"], title: row["title"], heading: row["heading"], text: row["text"], score: 0)
            }
            return ids.compactMap { byID[$0] }
        }
    }

    public func indexSnapshot(knowledgeBases: [KnowledgeBase]) async throws -> IndexSnapshot {
        try await pool.read { db in
            let generation = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'knowledge_generation'") ?? 0
            var snapshot = IndexSnapshot(generation: generation, terms: [:], vectors: [:])
            for kb in knowledgeBases {
                let prefixLength = kb.termPrefix.count
                var list: [(id: Int64, terms: [String])] = []
                let rows = try Row.fetchCursor(
                    db, sql: "SELECT t.rowid, t.terms FROM chunk_terms t JOIN chunks c ON c.id = t.rowid WHERE c.kb_id = ? ORDER BY t.rowid",
                    arguments: [kb.id])
                while let row = try rows.next() {
                    let stored: String = row[1]
                    list.append((row[0], stored.split(separator: " ").map { String($0.dropFirst(prefixLength)) }))
                }
                snapshot.terms[kb.id] = list
                if kb.embedding != nil { snapshot.vectors[kb.id] = try Self.fetchEmbeddings(db, knowledgeBaseID: kb.id) }
            }
            return snapshot
        }
    }

    static func fetchEmbeddings(_ db: Database, knowledgeBaseID: String) throws -> [(id: Int64, vector: [Float])] {
        let rows = try Row.fetchCursor(
            db, sql: "SELECT id, embedding FROM chunks WHERE kb_id = ? AND embedding IS NOT NULL ORDER BY id", arguments: [knowledgeBaseID])
        var out: [(id: Int64, vector: [Float])] = []
        while let row = try rows.next() {
            let data: Data = row["embedding"]
            out.append((row["id"], VectorIndex.decode(Array(data))))
        }
        return out
    }

    public func chunkCount(knowledgeBaseID: String) async throws -> Int {
        try await pool.read { db in try ChunkRecord.all().inKnowledgeBase(knowledgeBaseID).fetchCount(db) }
    }
}
