import Foundation
import GRDB

// One Codable struct per table, with the table's columns; conversions to domain types live in
// `Records+Domain.swift`.

struct TenantRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "tenants"
    var id: String
    var name: String
    var createdAt: Int64
    /// JSON: limits, quota, capture.
    var settings: String = "{}"

    enum CodingKeys: String, CodingKey {
        case id, name, settings
        case createdAt = "created_at"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let name = Column(CodingKeys.name)
    }
}

struct APIKeyRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
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

    enum CodingKeys: String, CodingKey {
        case id, name, prefix, digest, scopes, models, rpm, tpm, concurrency
        case tenantID = "tenant_id"
        case expiresAt = "expires_at"
        case createdAt = "created_at"
        case revokedAt = "revoked_at"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let tenantID = Column(CodingKeys.tenantID)
        static let revokedAt = Column(CodingKeys.revokedAt)
        static let createdAt = Column(CodingKeys.createdAt)
    }
}

struct UpstreamRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
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

    enum CodingKeys: String, CodingKey {
        case id, name, kind, labels, timeouts, pricing
        case baseURL = "base_url"
        case apiKeyEnv = "api_key_env"
        case createdAt = "created_at"
    }

    enum Columns {
        static let name = Column(CodingKeys.name)
    }
}

struct ModelRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "models"
    var id: String
    var name: String
    var tenantID: String?
    var description: String?
    /// JSON object: version number (as a string) → weight.
    var traffic: String
    var createdAt: Int64

    enum CodingKeys: String, CodingKey {
        case id, name, description, traffic
        case tenantID = "tenant_id"
        case createdAt = "created_at"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let name = Column(CodingKeys.name)
        static let tenantID = Column(CodingKeys.tenantID)
    }
}

struct ModelVersionRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "model_versions"
    var modelID: String
    var version: Int
    var spec: String
    var createdAt: Int64

    enum CodingKeys: String, CodingKey {
        case version, spec
        case modelID = "model_id"
        case createdAt = "created_at"
    }

    enum Columns {
        static let modelID = Column(CodingKeys.modelID)
        static let version = Column(CodingKeys.version)
    }
}

struct UsageRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
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

    enum CodingKeys: String, CodingKey {
        case id, endpoint, model, upstream, status, stream, estimated
        case retrievalMs = "retrieval_ms"
        case costMicros = "cost_micros"
        case requestID = "request_id"
        case atMs = "at_ms"
        case tenantID = "tenant_id"
        case keyID = "key_id"
        case endUser = "end_user"
        case modelVersion = "model_version"
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case latencyMs = "latency_ms"
        case ttftMs = "ttft_ms"
        case errorCode = "error_code"
    }
}

struct AuditRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "audit_log"
    var id: Int64?
    var atMs: Int64
    var actor: String
    var tenantID: String?
    var action: String
    var target: String
    var detail: String?

    enum CodingKeys: String, CodingKey {
        case id, actor, action, target, detail
        case atMs = "at_ms"
        case tenantID = "tenant_id"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let atMs = Column(CodingKeys.atMs)
        static let tenantID = Column(CodingKeys.tenantID)
        static let action = Column(CodingKeys.action)
    }
}

struct PromptRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "prompts"
    var id: String
    var name: String
    var tenantID: String?
    var description: String?
    /// JSON object: label → version.
    var labels: String
    var createdAt: Int64

    enum CodingKeys: String, CodingKey {
        case id, name, description, labels
        case tenantID = "tenant_id"
        case createdAt = "created_at"
    }

    enum Columns {
        static let name = Column(CodingKeys.name)
        static let tenantID = Column(CodingKeys.tenantID)
    }
}

struct PromptVersionRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "prompt_versions"
    var promptID: String
    var version: Int
    /// JSON: {"messages": [...], "variables": {...}}.
    var definition: String
    var createdAt: Int64

    enum CodingKeys: String, CodingKey {
        case version, definition
        case promptID = "prompt_id"
        case createdAt = "created_at"
    }

    enum Columns {
        static let promptID = Column(CodingKeys.promptID)
        static let version = Column(CodingKeys.version)
    }
}

struct AdapterRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
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

    enum CodingKeys: String, CodingKey {
        case id, name, upstream, path, method, dataset, evaluation, description
        case tenantID = "tenant_id"
        case baseModel = "base_model"
        case servedModel = "served_model"
        case loraID = "lora_id"
        case loraScale = "lora_scale"
        case createdAt = "created_at"
    }

    enum Columns {
        static let name = Column(CodingKeys.name)
        static let tenantID = Column(CodingKeys.tenantID)
    }
}

struct KnowledgeBaseRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
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

    enum CodingKeys: String, CodingKey {
        case id, name, description
        case tenantID = "tenant_id"
        case embeddingUpstream = "embedding_upstream"
        case embeddingModel = "embedding_model"
        case chunkSize = "chunk_size"
        case chunkOverlap = "chunk_overlap"
        case createdAt = "created_at"
    }
}

struct DocumentRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
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

    enum CodingKeys: String, CodingKey {
        case id, title, sha256, bytes, metadata
        case kbID = "kb_id"
        case contentType = "content_type"
        case chunkCount = "chunk_count"
        case createdAt = "created_at"
    }
}

struct ChunkRecord: Codable, FetchableRecord, MutablePersistableRecord, Sendable {
    static let databaseTableName = "chunks"
    var id: Int64?
    var kbID: String
    var documentID: String
    var position: Int
    var heading: String
    var text: String
    var embedding: Data?

    enum CodingKeys: String, CodingKey {
        case id, position, heading, text, embedding
        case kbID = "kb_id"
        case documentID = "document_id"
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
