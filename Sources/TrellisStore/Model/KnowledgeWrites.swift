import TrellisCore

/// What `KnowledgeStore.insertDocument` did.
public struct DocumentWrite: Sendable {
    public var document: DocumentInfo
    /// False when the same content (by SHA-256) was already in the knowledge base.
    public var created: Bool
    public var chunkIDs: [Int64]
    /// The knowledge generation this write committed (nil when nothing was written).
    public var generation: Int64?

    public init(document: DocumentInfo, created: Bool, chunkIDs: [Int64], generation: Int64? = nil) {
        self.document = document
        self.created = created
        self.generation = generation
        self.chunkIDs = chunkIDs
    }
}

/// What the in-memory indexes are built from, read as one consistent snapshot: the knowledge generation,
/// every chunk's index terms per knowledge base, and the stored embeddings of those with an embedding model.
public struct IndexSnapshot: Sendable {
    public var generation: Int64
    /// Knowledge base id → (chunk id, the chunk's index terms), by chunk id.
    public var terms: [String: [(id: Int64, terms: [String])]]
    /// Knowledge base id → (chunk id, embedding), by chunk id.
    public var vectors: [String: [(id: Int64, vector: [Float])]]

    public init(generation: Int64, terms: [String: [(id: Int64, terms: [String])]] = [:], vectors: [String: [(id: Int64, vector: [Float])]] = [:]) {
        self.generation = generation
        self.terms = terms
        self.vectors = vectors
    }
}
