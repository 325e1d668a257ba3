import Foundation
import PostgresNIO

/// Reading catalog rows into the record structs the SQLite engine uses (`Records.swift`), so that both engines
/// share one conversion to domain types. Each `…Rows` function runs a query that selects its table's column
/// list (`PostgresColumns`) and decodes every row.
enum PostgresColumns {
    static let tenants = "id, name, created_at, settings"
    static let apiKeys = "id, tenant_id, name, prefix, digest, scopes, models, rpm, tpm, expires_at, created_at, revoked_at, concurrency"
    static let upstreams = "id, name, base_url, kind, labels, api_key_env, timeouts, created_at, pricing"
    static let models = "id, name, tenant_id, description, traffic, created_at"
    static let modelVersions = "model_id, version, spec, created_at"
    static let prompts = "id, name, tenant_id, description, labels, created_at"
    static let promptVersions = "prompt_id, version, definition, created_at"
    static let adapters =
        "id, name, tenant_id, upstream, base_model, served_model, lora_id, lora_scale, path, method, dataset, evaluation, description, created_at"
    static let audit = "id, at_ms, actor, tenant_id, action, target, detail"
}

extension PostgresStore {
    static func tenantRows(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [TenantRecord] {
        var out: [TenantRecord] = []
        let rows = try await connection.query(query, logger: quiet)
        for try await (id, name, createdAt, settings) in rows.decode((String, String, Int64, String).self) {
            out.append(TenantRecord(id: id, name: name, createdAt: createdAt, settings: settings))
        }
        return out
    }

    static func keyRows(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [APIKeyRecord] {
        var out: [APIKeyRecord] = []
        let rows = try await connection.query(query, logger: quiet)
        for try await (id, tenantID, name, prefix, digest, scopes, models, rpm, tpm, expiresAt, createdAt, revokedAt, concurrency) in rows.decode(
            (String, String, String, String, String, String, String, Int?, Int?, Int64?, Int64, Int64?, Int?).self)
        {
            out.append(
                APIKeyRecord(
                    id: id, tenantID: tenantID, name: name, prefix: prefix, digest: digest, scopes: scopes, models: models, rpm: rpm, tpm: tpm,
                    expiresAt: expiresAt, createdAt: createdAt, revokedAt: revokedAt, concurrency: concurrency))
        }
        return out
    }

    static func upstreamRows(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [UpstreamRecord] {
        var out: [UpstreamRecord] = []
        let rows = try await connection.query(query, logger: quiet)
        for try await (id, name, baseURL, kind, labels, apiKeyEnv, timeouts, createdAt, pricing) in rows.decode(
            (String, String, String, String, String, String?, String, Int64, String?).self)
        {
            out.append(
                UpstreamRecord(
                    id: id, name: name, baseURL: baseURL, kind: kind, labels: labels, apiKeyEnv: apiKeyEnv, timeouts: timeouts, createdAt: createdAt,
                    pricing: pricing))
        }
        return out
    }

    static func modelRows(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [ModelRecord] {
        var out: [ModelRecord] = []
        let rows = try await connection.query(query, logger: quiet)
        for try await (id, name, tenantID, description, traffic, createdAt) in rows.decode((String, String, String?, String?, String, Int64).self) {
            out.append(ModelRecord(id: id, name: name, tenantID: tenantID, description: description, traffic: traffic, createdAt: createdAt))
        }
        return out
    }

    static func modelVersionRows(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [ModelVersionRecord] {
        var out: [ModelVersionRecord] = []
        let rows = try await connection.query(query, logger: quiet)
        for try await (modelID, version, spec, createdAt) in rows.decode((String, Int, String, Int64).self) {
            out.append(ModelVersionRecord(modelID: modelID, version: version, spec: spec, createdAt: createdAt))
        }
        return out
    }

    static func promptRows(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [PromptRecord] {
        var out: [PromptRecord] = []
        let rows = try await connection.query(query, logger: quiet)
        for try await (id, name, tenantID, description, labels, createdAt) in rows.decode((String, String, String?, String?, String, Int64).self) {
            out.append(PromptRecord(id: id, name: name, tenantID: tenantID, description: description, labels: labels, createdAt: createdAt))
        }
        return out
    }

    static func promptVersionRows(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [PromptVersionRecord] {
        var out: [PromptVersionRecord] = []
        let rows = try await connection.query(query, logger: quiet)
        for try await (promptID, version, definition, createdAt) in rows.decode((String, Int, String, Int64).self) {
            out.append(PromptVersionRecord(promptID: promptID, version: version, definition: definition, createdAt: createdAt))
        }
        return out
    }

    static func adapterRows(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [AdapterRecord] {
        var out: [AdapterRecord] = []
        let rows = try await connection.query(query, logger: quiet)
        for try await (id, name, tenantID, upstream, baseModel, servedModel, loraID, loraScale, path, method, dataset, evaluation, description, createdAt)
            in rows.decode((String, String, String?, String, String, String?, Int?, Double?, String?, String, String?, String?, String?, Int64).self)
        {
            out.append(
                AdapterRecord(
                    id: id, name: name, tenantID: tenantID, upstream: upstream, baseModel: baseModel, servedModel: servedModel, loraID: loraID,
                    loraScale: loraScale, path: path, method: method, dataset: dataset, evaluation: evaluation, description: description,
                    createdAt: createdAt))
        }
        return out
    }

    static func auditRows(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [AuditRecord] {
        var out: [AuditRecord] = []
        let rows = try await connection.query(query, logger: quiet)
        for try await (id, atMs, actor, tenantID, action, target, detail) in rows.decode((Int64, Int64, String, String?, String, String, String?).self) {
            out.append(AuditRecord(id: id, atMs: atMs, actor: actor, tenantID: tenantID, action: action, target: target, detail: detail))
        }
        return out
    }

    // MARK: Serialising catalog writes

    /// Locks the catalog-generation row for the rest of the caller's transaction. Every catalog write here
    /// takes it first, so catalog writes run one at a time across every process sharing the database, as they
    /// do on SQLite's single writer: a check (a name taken, the latest version) stays true until the write
    /// commits. Writes that change nothing take it too, and release it without moving the generation.
    static func lockCatalog(_ connection: PostgresConnection) async throws {
        _ = try await connection.query("SELECT value FROM meta WHERE key = 'catalog_generation' FOR UPDATE", logger: quiet).collect()
    }
}
