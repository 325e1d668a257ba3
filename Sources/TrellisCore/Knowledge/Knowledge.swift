import Foundation

/// A tenant's knowledge base: documents split into chunks, indexed by keyword and, when an embedding model is
/// named, by vector.
public struct KnowledgeBase: Sendable, Equatable {
    public struct Embedding: Sendable, Equatable {
        public var upstream: String
        public var model: String

        public init(upstream: String, model: String) {
            self.upstream = upstream
            self.model = model
        }
    }

    public var id: String
    public var name: String
    public var tenantID: String
    public var description: String?
    public var embedding: Embedding?
    public var chunkSize: Int
    public var chunkOverlap: Int
    public var createdAt: Date

    public init(
        id: String, name: String, tenantID: String, description: String?, embedding: Embedding?, chunkSize: Int, chunkOverlap: Int,
        createdAt: Date
    ) {
        self.id = id
        self.name = name
        self.tenantID = tenantID
        self.description = description
        self.embedding = embedding
        self.chunkSize = chunkSize
        self.chunkOverlap = chunkOverlap
        self.createdAt = createdAt
    }

    /// The single token that names this knowledge base in the keyword index (letters and digits only, so
    /// the index's tokenizer keeps it whole).
    public var indexToken: String { "kb" + id.filter { $0.isLetter || $0.isNumber } }
    /// What every keyword term of this knowledge base starts with in the shared FTS index: the index token
    /// and an `x` (which no token contains), so terms of different knowledge bases never meet.
    public var termPrefix: String { indexToken + "x" }
}

/// A stored document, as listed.
public struct DocumentInfo: Sendable, Equatable {
    public var id: String
    public var knowledgeBaseID: String
    public var title: String
    public var contentType: String
    public var sha256: String
    public var bytes: Int
    public var metadata: String?
    public var chunkCount: Int
    public var createdAt: Date

    public init(
        id: String, knowledgeBaseID: String, title: String, contentType: String, sha256: String, bytes: Int, metadata: String?,
        chunkCount: Int, createdAt: Date
    ) {
        self.id = id
        self.knowledgeBaseID = knowledgeBaseID
        self.title = title
        self.contentType = contentType
        self.sha256 = sha256
        self.bytes = bytes
        self.metadata = metadata
        self.chunkCount = chunkCount
        self.createdAt = createdAt
    }
}

/// A chunk ready to store.
public struct NewChunk: Sendable {
    public var position: Int
    public var heading: String
    public var text: String
    public var terms: [String]
    public var embedding: [Float]?

    public init(position: Int, heading: String, text: String, terms: [String], embedding: [Float]?) {
        self.position = position
        self.heading = heading
        self.text = text
        self.terms = terms
        self.embedding = embedding
    }
}

/// A chunk found by a search, with its document's title.
public struct RetrievedChunk: Sendable, Equatable {
    public var chunkID: Int64
    public var documentID: String
    public var title: String
    public var heading: String
    public var text: String
    public var score: Double

    public init(chunkID: Int64, documentID: String, title: String, heading: String, text: String, score: Double) {
        self.chunkID = chunkID
        self.documentID = documentID
        self.title = title
        self.heading = heading
        self.text = text
        self.score = score
    }
}

public enum SearchMode: String, Sendable, CaseIterable {
    case keyword, vector, hybrid
}
