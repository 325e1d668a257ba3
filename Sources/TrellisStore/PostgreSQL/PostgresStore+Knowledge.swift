import Foundation
import NIOCore
import OpenAIWire
import PostgresNIO
import TrellisCore

/// Knowledge bases, documents, chunks, their keyword terms and embeddings on PostgreSQL (see
/// `SQLiteStore+Knowledge.swift`: the same results, audit rows and errors). The terms sit in the plain
/// `chunk_terms` table without SQLite's per-knowledge-base prefix (nothing searches them in the database: the
/// in-memory index is built from them); embeddings are `VectorIndex`'s bytes, as in SQLite. Knowledge bases
/// are catalog writes (`lockCatalog` first); document writes take the knowledge-generation row's lock last.
extension PostgresStore {
    /// How many chunks one INSERT carries (six parameters each, far below the protocol's 65,535).
    static let chunkBatchSize = 500

    public func createKnowledgeBase(
        name: String, tenantID: String, description: String?, embedding: KnowledgeBase.Embedding?, chunkSize: Int, chunkOverlap: Int,
        actor: String, now: Date
    ) async throws -> KnowledgeBase {
        let record = KnowledgeBaseRecord(
            id: APIKeys.identifier("kb"), name: name, tenantID: tenantID, description: description, embeddingUpstream: embedding?.upstream,
            embeddingModel: embedding?.model, chunkSize: chunkSize, chunkOverlap: chunkOverlap, createdAt: now.unixSeconds)
        return try await write { connection in
            try await Self.lockCatalog(connection)
            try await Self.checkName(connection, table: "knowledge_bases", kind: "knowledge base", name: name, tenantID: tenantID)
            try await connection.query(
                """
                INSERT INTO knowledge_bases (id, name, tenant_id, description, embedding_upstream, embedding_model, chunk_size, chunk_overlap, created_at)
                VALUES (\(record.id), \(record.name), \(record.tenantID), \(record.description), \(record.embeddingUpstream),
                        \(record.embeddingModel), \(record.chunkSize), \(record.chunkOverlap), \(record.createdAt))
                """, logger: Self.quiet)
            try await Self.bumpGeneration(connection)
            try await Self.audit(
                connection, actor: actor, tenantID: tenantID, action: "knowledge_base.create", target: "knowledge_base:\(name)", now: now)
            return record.domain
        }
    }

    public func setKnowledgeBaseDescription(id: String, description: String?, actor: String, now: Date) async throws {
        try await write { connection in
            try await Self.lockCatalog(connection)
            let rows = try await connection.query(
                "UPDATE knowledge_bases SET description = \(description) WHERE id = \(id) RETURNING tenant_id, name", logger: Self.quiet)
            var found: (tenantID: String, name: String)?
            for try await (tenantID, name) in rows.decode((String, String).self) { found = (tenantID, name) }
            guard let found else { throw TrellisError.notFound("The knowledge base") }
            try await Self.bumpGeneration(connection)
            try await Self.audit(
                connection, actor: actor, tenantID: found.tenantID, action: "knowledge_base.update", target: "knowledge_base:\(found.name)", now: now)
        }
    }

    /// Moves whenever a document is added or deleted, so replicas know to rebuild their indexes.
    public func knowledgeGeneration() async throws -> Int64 {
        try await read { connection in try await Self.knowledgeGeneration(connection) }
    }

    static func knowledgeGeneration(_ connection: PostgresConnection) async throws -> Int64 {
        try await connection.scalar("SELECT value FROM meta WHERE key = 'knowledge_generation'", as: Int64.self) ?? 0
    }

    /// Moves the knowledge generation on, in the caller's transaction, and announces it to the other replicas
    /// on commit (see `bumpGeneration`); returns the new value. Every document write takes this row's lock
    /// last, so concurrent writes queue here without deadlocking.
    static func bumpKnowledgeGeneration(_ connection: PostgresConnection) async throws -> Int64 {
        try await connection.scalar(
            """
            WITH bumped AS (UPDATE meta SET value = value + 1 WHERE key = 'knowledge_generation' RETURNING value)
            SELECT value, pg_notify(\(PostgresChangeListener.channel), 'knowledge ' || value) FROM bumped
            """, as: Int64.self) ?? 0
    }

    // MARK: Documents

    static let documentColumns = "id, kb_id, title, content_type, sha256, bytes, metadata, chunk_count, created_at"

    /// The documents `query` selects (`documentColumns`, in that order).
    static func fetchDocuments(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [DocumentInfo] {
        var documents: [DocumentInfo] = []
        let rows = try await connection.query(query, logger: quiet)
        for try await (id, kbID, title, contentType, sha256, bytes, metadata, chunkCount, createdAt) in rows.decode(
            (String, String, String, String, String, Int, String?, Int, Int64).self)
        {
            documents.append(
                DocumentRecord(
                    id: id, kbID: kbID, title: title, contentType: contentType, sha256: sha256, bytes: bytes, metadata: metadata,
                    chunkCount: chunkCount, createdAt: createdAt
                ).domain)
        }
        return documents
    }

    public func document(sha256: String, knowledgeBaseID: String) async throws -> DocumentInfo? {
        try await read { connection in
            try await Self.fetchDocuments(
                connection, "SELECT \(unescaped: Self.documentColumns) FROM documents WHERE kb_id = \(knowledgeBaseID) AND sha256 = \(sha256)"
            ).first
        }
    }

    public func document(id: String, knowledgeBaseID: String) async throws -> DocumentInfo? {
        try await read { connection in
            try await Self.fetchDocuments(
                connection, "SELECT \(unescaped: Self.documentColumns) FROM documents WHERE id = \(id) AND kb_id = \(knowledgeBaseID)"
            ).first
        }
    }

    /// A page of documents by id in byte order (SQLite's), whatever the database's collation.
    public func documents(knowledgeBaseID: String, limit: Int, afterID: String?) async throws -> [DocumentInfo] {
        try await read { connection in
            if let afterID {
                return try await Self.fetchDocuments(
                    connection,
                    """
                    SELECT \(unescaped: Self.documentColumns) FROM documents WHERE kb_id = \(knowledgeBaseID) AND id > \(afterID) COLLATE "C"
                    ORDER BY id COLLATE "C" LIMIT \(limit)
                    """)
            }
            return try await Self.fetchDocuments(
                connection,
                "SELECT \(unescaped: Self.documentColumns) FROM documents WHERE kb_id = \(knowledgeBaseID) ORDER BY id COLLATE \"C\" LIMIT \(limit)")
        }
    }

    /// Stores a document and its chunks (text, keyword terms, optional embeddings) in one transaction. The same
    /// content again, even from a concurrent upload that commits first, returns the existing document.
    public func insertDocument(
        knowledgeBase: KnowledgeBase, title: String, contentType: String, sha256: String, bytes: Int, metadata: String?, chunks: [NewChunk],
        actor: String, now: Date
    ) async throws -> DocumentWrite {
        let document = DocumentRecord(
            id: APIKeys.identifier("doc"), kbID: knowledgeBase.id, title: title, contentType: contentType, sha256: sha256, bytes: bytes,
            metadata: metadata, chunkCount: chunks.count, createdAt: now.unixSeconds)
        // Bulk: a large document is thousands of chunks, and its size is the client's.
        return try await write(bulk: true) { connection in
            // A concurrent upload of the same content holds the unique index entry until it ends: this waits for
            // it, then inserts nothing, and the next statement sees its document.
            let inserted = try await connection.scalar(
                """
                INSERT INTO documents (\(unescaped: Self.documentColumns))
                VALUES (\(document.id), \(document.kbID), \(document.title), \(document.contentType), \(document.sha256), \(document.bytes),
                        \(document.metadata), \(document.chunkCount), \(document.createdAt))
                ON CONFLICT (kb_id, sha256) DO NOTHING RETURNING id
                """, as: String.self)
            guard inserted != nil else {
                let existing = try await Self.fetchDocuments(
                    connection,
                    "SELECT \(unescaped: Self.documentColumns) FROM documents WHERE kb_id = \(knowledgeBase.id) AND sha256 = \(sha256)")
                guard let existing = existing.first else {
                    throw TrellisError.conflict("The same content was being stored concurrently; try again.")
                }
                return DocumentWrite(document: existing, created: false, chunkIDs: [])
            }
            let ids = try await Self.insertChunks(connection, chunks, knowledgeBaseID: knowledgeBase.id, documentID: document.id)
            let generation = try await Self.bumpKnowledgeGeneration(connection)
            try await Self.audit(
                connection, actor: actor, tenantID: knowledgeBase.tenantID, action: "document.create", target: "document:\(document.id)",
                detail: ["knowledge_base": .string(knowledgeBase.name), "title": .string(String(title.prefix(200))), "chunks": .int(chunks.count)],
                now: now)
            return DocumentWrite(document: document.domain, created: true, chunkIDs: ids, generation: generation)
        }
    }

    /// Inserts the chunks and their terms, `chunkBatchSize` to a statement; returns their ids, ascending in the
    /// chunks' order as SQLite's are. The ids are drawn from the identity's sequence first, so each chunk's
    /// terms go with its own id without relying on the order RETURNING yields rows in.
    static func insertChunks(_ connection: PostgresConnection, _ chunks: [NewChunk], knowledgeBaseID: String, documentID: String) async throws -> [Int64] {
        guard !chunks.isEmpty else { return [] }
        var ids: [Int64] = []
        ids.reserveCapacity(chunks.count)
        let drawn = try await connection.query(
            "SELECT nextval(pg_get_serial_sequence('chunks', 'id')) FROM generate_series(1, \(chunks.count))", logger: quiet)
        for try await id in drawn.decode(Int64.self) { ids.append(id) }
        guard ids.count == chunks.count else { throw TrellisError.internalError }
        ids.sort()
        var start = 0
        while start < chunks.count {
            let end = min(start + chunkBatchSize, chunks.count)
            let batch = chunkInsert(chunks[start..<end], ids: ids[start..<end], knowledgeBaseID: knowledgeBaseID, documentID: documentID)
            try await connection.query(batch, logger: quiet)
            start = end
        }
        return ids
    }

    /// One statement that inserts a batch of chunks and their terms: `$1` and `$2` are the knowledge base and
    /// the document, then six parameters a chunk.
    static func chunkInsert(_ chunks: ArraySlice<NewChunk>, ids: ArraySlice<Int64>, knowledgeBaseID: String, documentID: String) -> PostgresQuery {
        var binds = PostgresBindings(capacity: 2 + 6 * chunks.count)
        binds.append(knowledgeBaseID)
        binds.append(documentID)
        var chunkRows: [String] = []
        var termRows: [String] = []
        chunkRows.reserveCapacity(chunks.count)
        termRows.reserveCapacity(chunks.count)
        for (chunk, id) in zip(chunks, ids) {
            let n = binds.count
            binds.append(id)
            binds.append(chunk.position)
            binds.append(chunk.heading)
            binds.append(chunk.text)
            binds.append(chunk.embedding.map { ByteBuffer(bytes: VectorIndex.encode($0)) })
            binds.append(chunk.terms.joined(separator: " "))
            chunkRows.append("($\(n + 1), $1, $2, $\(n + 2), $\(n + 3), $\(n + 4), $\(n + 5))")
            termRows.append("($\(n + 1), $\(n + 6))")
        }
        // The terms reference the chunks inserted by the same statement: the foreign key is checked at its end.
        let sql = """
            WITH inserted AS (
                INSERT INTO chunks (id, kb_id, document_id, position, heading, text, embedding) VALUES \(chunkRows.joined(separator: ", "))
            )
            INSERT INTO chunk_terms (chunk_id, terms) VALUES \(termRows.joined(separator: ", "))
            """
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    /// Deletes a document with its chunks and their terms; returns the chunk ids removed (ascending) and the
    /// knowledge generation the deletion committed.
    public func deleteDocument(
        id: String, knowledgeBase: KnowledgeBase, actor: String, now: Date
    ) async throws -> (chunkIDs: [Int64], generation: Int64) {
        try await write { connection in
            // Locked first, so that a concurrent deletion of the same document waits here and then finds nothing.
            guard
                let title = try await connection.scalar(
                    "SELECT title FROM documents WHERE id = \(id) AND kb_id = \(knowledgeBase.id) FOR UPDATE", as: String.self)
            else {
                throw TrellisError.notFound("The document '\(id.prefix(64))'")
            }
            var ids: [Int64] = []
            // The terms go with their chunks (ON DELETE CASCADE).
            let rows = try await connection.query("DELETE FROM chunks WHERE document_id = \(id) RETURNING id", logger: Self.quiet)
            for try await chunkID in rows.decode(Int64.self) { ids.append(chunkID) }
            try await connection.query("DELETE FROM documents WHERE id = \(id)", logger: Self.quiet)
            let generation = try await Self.bumpKnowledgeGeneration(connection)
            try await Self.audit(
                connection, actor: actor, tenantID: knowledgeBase.tenantID, action: "document.delete", target: "document:\(id)",
                detail: ["knowledge_base": .string(knowledgeBase.name), "title": .string(String(title.prefix(200)))], now: now)
            return (ids.sorted(), generation)
        }
    }

    // MARK: Chunks and the indexes

    /// The chunks with these ids, with their documents' titles, in the order given (unknown ids left out).
    public func chunks(ids: [Int64]) async throws -> [RetrievedChunk] {
        guard !ids.isEmpty else { return [] }
        return try await read { connection in
            let rows = try await connection.query(
                """
                SELECT c.id, c.document_id, c.heading, c.text, d.title FROM chunks c JOIN documents d ON d.id = c.document_id
                WHERE c.id = ANY(\(ids))
                """, logger: Self.quiet)
            var byID: [Int64: RetrievedChunk] = [:]
            for try await (id, documentID, heading, text, title) in rows.decode((Int64, String, String, String, String).self) {
                byID[id] = RetrievedChunk(chunkID: id, documentID: documentID, title: title, heading: heading, text: text, score: 0)
            }
            return ids.compactMap { byID[$0] }
        }
    }

    public func chunkCount(knowledgeBaseID: String) async throws -> Int {
        try await read { connection in
            Int(try await connection.scalar("SELECT COUNT(*) FROM chunks WHERE kb_id = \(knowledgeBaseID)", as: Int64.self) ?? 0)
        }
    }

    /// The generation, every chunk's terms and the embedded chunks' vectors of these knowledge bases, by chunk
    /// id, from one snapshot of the database.
    public func indexSnapshot(knowledgeBases: [KnowledgeBase]) async throws -> IndexSnapshot {
        try await snapshotRead(bulk: true) { connection in
            var snapshot = IndexSnapshot(generation: try await Self.knowledgeGeneration(connection), terms: [:], vectors: [:])
            for kb in knowledgeBases {
                var list: [(id: Int64, terms: [String])] = []
                let rows = try await connection.query(
                    """
                    SELECT t.chunk_id, t.terms FROM chunk_terms t JOIN chunks c ON c.id = t.chunk_id WHERE c.kb_id = \(kb.id)
                    ORDER BY t.chunk_id
                    """, logger: Self.quiet)
                for try await (id, terms) in rows.decode((Int64, String).self) {
                    list.append((id, terms.split(separator: " ").map(String.init)))
                }
                snapshot.terms[kb.id] = list
                if kb.embedding != nil { snapshot.vectors[kb.id] = try await Self.fetchEmbeddings(connection, knowledgeBaseID: kb.id) }
            }
            return snapshot
        }
    }

    static func fetchEmbeddings(_ connection: PostgresConnection, knowledgeBaseID: String) async throws -> [(id: Int64, vector: [Float])] {
        var out: [(id: Int64, vector: [Float])] = []
        let rows = try await connection.query(
            "SELECT id, embedding FROM chunks WHERE kb_id = \(knowledgeBaseID) AND embedding IS NOT NULL ORDER BY id", logger: quiet)
        for try await (id, embedding) in rows.decode((Int64, ByteBuffer).self) {
            out.append((id, VectorIndex.decode(Array(embedding.readableBytesView))))
        }
        return out
    }
}
