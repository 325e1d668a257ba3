import Foundation
import GRDB

// One Codable struct per table, with the table's columns as camel-case properties (snake_case in SQL, by the
// column coding strategies of `SnakeCaseRecord`), a `Columns` enum for the columns requests use, and the
// requests used more than once as `DerivableRequest` extensions. Conversions to domain types live in
// `Records+Domain.swift`.

struct TenantRecord: SnakeCaseRecord, PersistableRecord, Sendable {
    static let databaseTableName = "tenants"
    var id: String
    var name: String
    var createdAt: Int64
    /// JSON: limits, quota, capture.
    var settings: String = "{}"

    enum Columns {
        static let id = Column(snakeCase: CodingKeys.id)
        static let name = Column(snakeCase: CodingKeys.name)
    }
}

struct APIKeyRecord: SnakeCaseRecord, PersistableRecord, Sendable {
    static let databaseTableName = "api_keys"
    var id: String
    var tenantID: String
    var name: String
    var prefix: String
    var digest: String
    /// JSON array of scope names.
    var scopes: String
    /// JSON array of model patterns.
    var models: String
    var rpm: Int?
    var tpm: Int?
    var expiresAt: Int64?
    var createdAt: Int64
    var revokedAt: Int64?
    var concurrency: Int?

    enum Columns {
        static let id = Column(snakeCase: CodingKeys.id)
        static let tenantID = Column(snakeCase: CodingKeys.tenantID)
        static let revokedAt = Column(snakeCase: CodingKeys.revokedAt)
        static let createdAt = Column(snakeCase: CodingKeys.createdAt)
    }
}

struct UpstreamRecord: SnakeCaseRecord, PersistableRecord, Sendable {
    static let databaseTableName = "upstreams"
    var id: String
    var name: String
    var baseURL: String
    var kind: String
    /// JSON array of labels.
    var labels: String
    var apiKeyEnv: String?
    /// JSON object of timeouts in milliseconds.
    var timeouts: String
    var createdAt: Int64
    /// JSON pricing, when set.
    var pricing: String?

    enum Columns {
        static let name = Column(snakeCase: CodingKeys.name)
    }
}

struct ModelRecord: SnakeCaseRecord, PersistableRecord, Sendable {
    static let databaseTableName = "models"
    var id: String
    var name: String
    var tenantID: String?
    var description: String?
    /// JSON object: version number (as a string) → weight.
    var traffic: String
    var createdAt: Int64

    enum Columns {
        static let id = Column(snakeCase: CodingKeys.id)
        static let name = Column(snakeCase: CodingKeys.name)
        static let tenantID = Column(snakeCase: CodingKeys.tenantID)
    }
}

struct ModelVersionRecord: SnakeCaseRecord, PersistableRecord, Sendable {
    static let databaseTableName = "model_versions"
    var modelID: String
    var version: Int
    var spec: String
    var createdAt: Int64

    enum Columns {
        static let modelID = Column(snakeCase: CodingKeys.modelID)
        static let version = Column(snakeCase: CodingKeys.version)
    }
}

struct UsageRecord: SnakeCaseRecord, PersistableRecord, Sendable {
    static let databaseTableName = "usage"
    var id: Int64?
    var requestID: String
    var atMs: Int64
    var endpoint: String
    var tenantID: String
    var keyID: String
    var endUser: String?
    var model: String
    var modelVersion: Int?
    var upstream: String?
    var promptTokens: Int
    var completionTokens: Int
    var estimated: Bool
    var latencyMs: Double
    var ttftMs: Double?
    var status: Int
    var errorCode: String?
    var stream: Bool
    var retrievalMs: Double?
    var costMicros: Int = 0
    var routedTo: String? = nil
    var baselineCostMicros: Int? = nil

    enum Columns {
        static let id = Column(snakeCase: CodingKeys.id)
        static let requestID = Column(snakeCase: CodingKeys.requestID)
        static let tenantID = Column(snakeCase: CodingKeys.tenantID)
    }
}

struct AuditRecord: SnakeCaseRecord, PersistableRecord, Sendable {
    static let databaseTableName = "audit_log"
    var id: Int64?
    var atMs: Int64
    var actor: String
    var tenantID: String?
    var action: String
    var target: String
    var detail: String?

    enum Columns {
        static let id = Column(snakeCase: CodingKeys.id)
        static let atMs = Column(snakeCase: CodingKeys.atMs)
        static let tenantID = Column(snakeCase: CodingKeys.tenantID)
        static let action = Column(snakeCase: CodingKeys.action)
        static let actor = Column(snakeCase: CodingKeys.actor)
        static let target = Column(snakeCase: CodingKeys.target)
    }
}

struct PromptRecord: SnakeCaseRecord, PersistableRecord, Sendable {
    static let databaseTableName = "prompts"
    var id: String
    var name: String
    var tenantID: String?
    var description: String?
    /// JSON object: label → version.
    var labels: String
    var createdAt: Int64

    enum Columns {
        static let name = Column(snakeCase: CodingKeys.name)
        static let tenantID = Column(snakeCase: CodingKeys.tenantID)
    }
}

struct PromptVersionRecord: SnakeCaseRecord, PersistableRecord, Sendable {
    static let databaseTableName = "prompt_versions"
    var promptID: String
    var version: Int
    /// JSON: {"messages": [...], "variables": {...}}.
    var definition: String
    var createdAt: Int64

    enum Columns {
        static let promptID = Column(snakeCase: CodingKeys.promptID)
        static let version = Column(snakeCase: CodingKeys.version)
    }
}

struct AdapterRecord: SnakeCaseRecord, PersistableRecord, Sendable {
    static let databaseTableName = "adapters"
    var id: String
    var name: String
    var tenantID: String?
    var upstream: String
    var baseModel: String
    var servedModel: String?
    var loraID: Int?
    var loraScale: Double?
    var path: String?
    var method: String
    var dataset: String?
    var evaluation: String?
    var description: String?
    var createdAt: Int64

    enum Columns {
        static let name = Column(snakeCase: CodingKeys.name)
        static let tenantID = Column(snakeCase: CodingKeys.tenantID)
    }
}

struct KnowledgeBaseRecord: SnakeCaseRecord, PersistableRecord, Sendable {
    static let databaseTableName = "knowledge_bases"
    var id: String
    var name: String
    var tenantID: String
    var description: String?
    var embeddingUpstream: String?
    var embeddingModel: String?
    var chunkSize: Int
    var chunkOverlap: Int
    var createdAt: Int64

    enum Columns {
        static let name = Column(snakeCase: CodingKeys.name)
        static let tenantID = Column(snakeCase: CodingKeys.tenantID)
    }
}

struct DocumentRecord: SnakeCaseRecord, PersistableRecord, Sendable {
    static let databaseTableName = "documents"
    var id: String
    var kbID: String
    var title: String
    var contentType: String
    var sha256: String
    var bytes: Int
    var metadata: String?
    var chunkCount: Int
    var createdAt: Int64

    enum Columns {
        static let id = Column(snakeCase: CodingKeys.id)
        static let kbID = Column(snakeCase: CodingKeys.kbID)
        static let sha256 = Column(snakeCase: CodingKeys.sha256)
    }
}

struct ChunkRecord: SnakeCaseRecord, MutablePersistableRecord, Sendable {
    static let databaseTableName = "chunks"
    var id: Int64?
    var kbID: String
    var documentID: String
    var position: Int
    var heading: String
    var text: String
    var embedding: Data?

    enum Columns {
        static let id = Column(snakeCase: CodingKeys.id)
        static let kbID = Column(snakeCase: CodingKeys.kbID)
        static let documentID = Column(snakeCase: CodingKeys.documentID)
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
