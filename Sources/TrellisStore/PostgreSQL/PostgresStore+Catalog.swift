import Foundation
import OpenAIWire
import PostgresNIO
import TrellisCore

/// The catalog's snapshot, tenants and upstreams (see `SQLiteStore+Catalog.swift`: the same behaviour, audit
/// rows and errors). Every write locks the catalog first (`lockCatalog`), so writes are serial as on SQLite.
extension PostgresStore {
    /// Reads the whole catalog in one REPEATABLE READ transaction, so the snapshot is consistent.
    public func loadSnapshot(now: Date) async throws -> CatalogSnapshot {
        try await snapshotRead { connection in
            let generation = try await Self.generation(connection)
            let tenants = try await Self.tenantRows(connection, "SELECT \(unescaped: PostgresColumns.tenants) FROM tenants ORDER BY id").map(\.domain)
            let tenantNames = Dictionary(uniqueKeysWithValues: tenants.map { ($0.id, $0.name) })
            let keyRows = try await Self.keyRows(
                connection, "SELECT \(unescaped: PostgresColumns.apiKeys) FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id")
            let keys = SnapshotAssembly.keys(keyRows, tenantNames: tenantNames, now: now)
            let upstreams = try await Self.upstreamRows(connection, "SELECT \(unescaped: PostgresColumns.upstreams) FROM upstreams ORDER BY id")
                .compactMap(\.domain)
            let models = try await Self.fetchModels(connection)
            let prompts = try await Self.fetchPrompts(connection)
            let adapters = try await Self.adapterRows(connection, "SELECT \(unescaped: PostgresColumns.adapters) FROM adapters ORDER BY id")
                .compactMap(\.domain)
            let knowledgeBases = try await Self.snapshotKnowledgeBases(connection)
            return CatalogSnapshot(
                generation: generation, tenants: tenants, keys: keys, upstreams: upstreams, models: models, prompts: prompts, adapters: adapters,
                knowledgeBases: knowledgeBases)
        }
    }

    /// The knowledge bases, by name, as the snapshot carries them.
    static func snapshotKnowledgeBases(_ connection: PostgresConnection) async throws -> [KnowledgeBase] {
        var out: [KnowledgeBase] = []
        let rows = try await connection.query(
            """
            SELECT id, name, tenant_id, description, embedding_upstream, embedding_model, chunk_size, chunk_overlap, created_at
            FROM knowledge_bases ORDER BY name, id
            """, logger: quiet)
        for try await (id, name, tenantID, description, embeddingUpstream, embeddingModel, chunkSize, chunkOverlap, createdAt) in rows.decode(
            (String, String, String, String?, String?, String?, Int, Int, Int64).self)
        {
            let record = KnowledgeBaseRecord(
                id: id, name: name, tenantID: tenantID, description: description, embeddingUpstream: embeddingUpstream, embeddingModel: embeddingModel,
                chunkSize: chunkSize, chunkOverlap: chunkOverlap, createdAt: createdAt)
            out.append(record.domain)
        }
        return out
    }

    // MARK: Tenants

    public func createTenant(name: String, settings: TenantSettings, actor: String, now: Date) async throws -> Tenant {
        try await write { connection in
            try await Self.lockCatalog(connection)
            if try await connection.scalar("SELECT COUNT(*) FROM tenants WHERE name = \(name)", as: Int64.self) ?? 0 > 0 {
                throw TrellisError.conflict("A tenant named '\(name)' already exists.")
            }
            let record = TenantRecord(id: APIKeys.identifier("tnt"), name: name, createdAt: now.unixSeconds, settings: JSONWriter.string(settings.json))
            try await connection.query(
                """
                INSERT INTO tenants (id, name, created_at, settings)
                VALUES (\(record.id), \(record.name), \(record.createdAt), \(record.settings))
                """, logger: Self.quiet)
            try await Self.bumpGeneration(connection)
            try await Self.audit(connection, actor: actor, tenantID: record.id, action: "tenant.create", target: "tenant:\(name)", now: now)
            return record.domain
        }
    }

    public func setTenantSettings(id: String, settings: TenantSettings, actor: String, now: Date) async throws -> Tenant {
        try await write { connection in
            try await Self.lockCatalog(connection)
            guard var record = try await Self.tenantRows(connection, "SELECT \(unescaped: PostgresColumns.tenants) FROM tenants WHERE id = \(id)").first
            else { throw TrellisError.notFound("The tenant") }
            let before = record.settings
            record.settings = JSONWriter.string(settings.json)
            if record.settings != before {
                try await connection.query("UPDATE tenants SET settings = \(record.settings) WHERE id = \(id)", logger: Self.quiet)
                try await Self.bumpGeneration(connection)
                try await Self.audit(
                    connection, actor: actor, tenantID: id, action: "tenant.update", target: "tenant:\(record.name)",
                    detail: ["before": (try? JSONParser.parse(before)) ?? .null, "after": settings.json], now: now)
            }
            return record.domain
        }
    }

    public func tenants() async throws -> [Tenant] {
        try await read { connection in
            try await Self.tenantRows(connection, "SELECT \(unescaped: PostgresColumns.tenants) FROM tenants ORDER BY name COLLATE \"C\"").map(\.domain)
        }
    }

    // MARK: Upstreams

    public func createUpstream(_ new: NewUpstream, actor: String, now: Date) async throws -> Upstream {
        try await write { connection in
            try await Self.lockCatalog(connection)
            if try await connection.scalar("SELECT COUNT(*) FROM upstreams WHERE name = \(new.name)", as: Int64.self) ?? 0 > 0 {
                throw TrellisError.conflict("An upstream named '\(new.name)' already exists.")
            }
            let record = UpstreamRecord(
                id: APIKeys.identifier("ups"), name: new.name, baseURL: new.baseURL, kind: new.kind.rawValue,
                labels: JSONText.encode(new.labels.map(\.rawValue).sorted()), apiKeyEnv: new.apiKeyEnv,
                timeouts: JSONText.encode(new.timeouts), createdAt: now.unixSeconds, pricing: new.pricing.map { JSONWriter.string($0.json) })
            try await connection.query(
                """
                INSERT INTO upstreams (id, name, base_url, kind, labels, api_key_env, timeouts, created_at, pricing)
                VALUES (\(record.id), \(record.name), \(record.baseURL), \(record.kind), \(record.labels), \(record.apiKeyEnv),
                        \(record.timeouts), \(record.createdAt), \(record.pricing))
                """, logger: Self.quiet)
            try await Self.bumpGeneration(connection)
            try await Self.audit(
                connection, actor: actor, tenantID: nil, action: "upstream.create", target: "upstream:\(new.name)",
                detail: ["base_url": .string(new.baseURL), "kind": .string(new.kind.rawValue)], now: now)
            guard let upstream = record.domain else { throw TrellisError.internalError }
            return upstream
        }
    }

    /// Replaces an upstream's settings (the declarative catalog changed them).
    public func updateUpstream(name: String, _ new: NewUpstream, actor: String, now: Date) async throws {
        try await write { connection in
            try await Self.lockCatalog(connection)
            let labels = JSONText.encode(new.labels.map(\.rawValue).sorted())
            let timeouts = JSONText.encode(new.timeouts)
            let pricing = new.pricing.map { JSONWriter.string($0.json) }
            let updated = try await connection.query(
                """
                UPDATE upstreams SET base_url = \(new.baseURL), kind = \(new.kind.rawValue), labels = \(labels), api_key_env = \(new.apiKeyEnv),
                    timeouts = \(timeouts), pricing = \(pricing)
                WHERE name = \(name) RETURNING id
                """, logger: Self.quiet
            ).collect()
            if updated.isEmpty { throw TrellisError.notFound("The upstream") }
            try await Self.bumpGeneration(connection)
            try await Self.audit(
                connection, actor: actor, tenantID: nil, action: "upstream.update", target: "upstream:\(name)",
                detail: ["base_url": .string(new.baseURL), "kind": .string(new.kind.rawValue)], now: now)
        }
    }
}
