import Foundation
import TrellisCore

/// Knowledge bases, their documents and chunks (text, index terms, embeddings). Knowledge bases are catalog
/// objects (their writes bump the catalog generation); document writes move the knowledge generation instead,
/// so that every process knows to update its in-memory indexes.
public protocol KnowledgeStore: Sendable {
    func createKnowledgeBase(
        name: String, tenantID: String, description: String?, embedding: KnowledgeBase.Embedding?, chunkSize: Int, chunkOverlap: Int,
        actor: String, now: Date
    ) async throws -> KnowledgeBase
    func setKnowledgeBaseDescription(id: String, description: String?, actor: String, now: Date) async throws
    /// Moves whenever a document is added or deleted.
    func knowledgeGeneration() async throws -> Int64

    /// The document with this content in a knowledge base, if any.
    func document(sha256: String, knowledgeBaseID: String) async throws -> DocumentInfo?
    func document(id: String, knowledgeBaseID: String) async throws -> DocumentInfo?
    /// A page of documents by id, after `afterID`.
    func documents(knowledgeBaseID: String, limit: Int, afterID: String?) async throws -> [DocumentInfo]
    /// Stores a document and its chunks in one transaction. The same content again is a no-op that returns the
    /// existing document (`created` false).
    func insertDocument(
        knowledgeBase: KnowledgeBase, title: String, contentType: String, sha256: String, bytes: Int, metadata: String?, chunks: [NewChunk],
        actor: String, now: Date
    ) async throws -> DocumentWrite
    /// Deletes a document with its chunks; returns the chunk ids removed and the knowledge generation the
    /// deletion committed.
    func deleteDocument(id: String, knowledgeBase: KnowledgeBase, actor: String, now: Date) async throws -> (chunkIDs: [Int64], generation: Int64)

    /// The chunks with these ids, with their documents' titles, in the order given (unknown ids left out).
    func chunks(ids: [Int64]) async throws -> [RetrievedChunk]
    func chunkCount(knowledgeBaseID: String) async throws -> Int
    /// What the in-memory indexes of these knowledge bases are built from, in one consistent read.
    func indexSnapshot(knowledgeBases: [KnowledgeBase]) async throws -> IndexSnapshot
}

extension KnowledgeStore {
    public func createKnowledgeBase(
        name: String, tenantID: String, description: String?, embedding: KnowledgeBase.Embedding?, chunkSize: Int, chunkOverlap: Int, actor: String
    ) async throws -> KnowledgeBase {
        try await createKnowledgeBase(
            name: name, tenantID: tenantID, description: description, embedding: embedding, chunkSize: chunkSize, chunkOverlap: chunkOverlap,
            actor: actor, now: Date())
    }

    public func setKnowledgeBaseDescription(id: String, description: String?, actor: String) async throws {
        try await setKnowledgeBaseDescription(id: id, description: description, actor: actor, now: Date())
    }

    public func documents(knowledgeBaseID: String, limit: Int = 100, afterID: String? = nil) async throws -> [DocumentInfo] {
        try await documents(knowledgeBaseID: knowledgeBaseID, limit: limit, afterID: afterID)
    }

    public func insertDocument(
        knowledgeBase: KnowledgeBase, title: String, contentType: String, sha256: String, bytes: Int, metadata: String?, chunks: [NewChunk],
        actor: String
    ) async throws -> DocumentWrite {
        try await insertDocument(
            knowledgeBase: knowledgeBase, title: title, contentType: contentType, sha256: sha256, bytes: bytes, metadata: metadata, chunks: chunks,
            actor: actor, now: Date())
    }

    public func deleteDocument(id: String, knowledgeBase: KnowledgeBase, actor: String) async throws -> (chunkIDs: [Int64], generation: Int64) {
        try await deleteDocument(id: id, knowledgeBase: knowledgeBase, actor: actor, now: Date())
    }
}
