import Foundation
import GRDB
import OpenAIWire
import TrellisCore

/// The catalog's snapshot, tenants, upstreams and adapters.
extension SQLiteStore {
    /// Reads the whole catalog in one read transaction, so the snapshot is consistent.
    public func loadSnapshot(now: Date) async throws -> CatalogSnapshot {
        try await pool.read { db in
            let generation = try Self.generation(db)
            let tenants = try TenantRecord.fetchAll(db).map(\.domain)
            let tenantNames = Dictionary(uniqueKeysWithValues: tenants.map { ($0.id, $0.name) })
            let keyRows = try APIKeyRecord.all().notRevoked().fetchAll(db)
            let keys = SnapshotAssembly.keys(keyRows, tenantNames: tenantNames, now: now)
            let upstreams = try UpstreamRecord.fetchAll(db).compactMap(\.domain)
            let models = try Self.fetchModels(db)
            let prompts = try Self.fetchPrompts(db)
            let adapters = try AdapterRecord.fetchAll(db).compactMap(\.domain)
            let knowledgeBases = try Self.fetchKnowledgeBases(db)
            return CatalogSnapshot(
                generation: generation, tenants: tenants, keys: keys, upstreams: upstreams, models: models, prompts: prompts, adapters: adapters,
                knowledgeBases: knowledgeBases)
        }
    }

    static func fetchModels(_ db: Database) throws -> [IndustryModel] {
        let modelRows = try ModelRecord.fetchAll(db)
        let versionRows = try ModelVersionRecord.all().byVersion().fetchAll(db)
        return SnapshotAssembly.models(modelRows, versions: versionRows)
    }

    static func fetchPrompts(_ db: Database) throws -> [Prompt] {
        let rows = try PromptRecord.fetchAll(db)
        let versionRows = try PromptVersionRecord.all().byVersion().fetchAll(db)
        var versions: [String: [Prompt.Version]] = [:]
        for row in versionRows {
            guard case .object(let o)? = try? JSONParser.parse(row.definition),
                let definition = try? PromptDefinition.parse(messages: o["messages"], variables: o["variables"])
            else { continue }
            versions[row.promptID, default: []].append(
                Prompt.Version(version: row.version, definition: definition, createdAt: Date(unixSeconds: row.createdAt)))
        }
        return rows.map { row in
            Prompt(
                id: row.id, name: row.name, tenantID: row.tenantID, description: row.description, createdAt: Date(unixSeconds: row.createdAt),
                versions: versions[row.id] ?? [], labels: JSONText.decodeLabels(row.labels))
        }
    }
    // MARK: Tenants

    public func createTenant(name: String, settings: TenantSettings, actor: String, now: Date) async throws -> Tenant {
        try await pool.write { db in
            if try TenantRecord.all().named(name).fetchCount(db) > 0 {
                throw TrellisError.conflict("A tenant named '\(name)' already exists.")
            }
            let record = TenantRecord(id: APIKeys.identifier("tnt"), name: name, createdAt: now.unixSeconds, settings: JSONWriter.string(settings.json))
            try record.insert(db)
            try Self.bumpGeneration(db)
            try Self.audit(db, actor: actor, tenantID: record.id, action: "tenant.create", target: "tenant:\(name)", now: now)
            return record.domain
        }
    }

    public func setTenantSettings(id: String, settings: TenantSettings, actor: String, now: Date) async throws -> Tenant {
        try await pool.write { db in
            guard var record = try TenantRecord.fetchOne(db, key: id) else { throw TrellisError.notFound("The tenant") }
            let before = record.settings
            record.settings = JSONWriter.string(settings.json)
            if record.settings != before {
                try record.update(db)
                try Self.bumpGeneration(db)
                try Self.audit(
                    db, actor: actor, tenantID: id, action: "tenant.update", target: "tenant:\(record.name)",
                    detail: ["before": (try? JSONParser.parse(before)) ?? .null, "after": settings.json], now: now)
            }
            return record.domain
        }
    }

    public func tenants() async throws -> [Tenant] {
        try await pool.read { db in try TenantRecord.order(TenantRecord.Columns.name).fetchAll(db).map(\.domain) }
    }
    // MARK: Upstreams

    public func createUpstream(_ new: NewUpstream, actor: String, now: Date) async throws -> Upstream {
        try await pool.write { db in
            if try UpstreamRecord.all().named(new.name).fetchCount(db) > 0 {
                throw TrellisError.conflict("An upstream named '\(new.name)' already exists.")
            }
            let record = UpstreamRecord(
                id: APIKeys.identifier("ups"), name: new.name, baseURL: new.baseURL, kind: new.kind.rawValue,
                labels: JSONText.encode(new.labels.map(\.rawValue).sorted()), apiKeyEnv: new.apiKeyEnv,
                timeouts: JSONText.encode(new.timeouts), createdAt: now.unixSeconds, pricing: new.pricing.map { JSONWriter.string($0.json) })
            try record.insert(db)
            try Self.bumpGeneration(db)
            try Self.audit(
                db, actor: actor, tenantID: nil, action: "upstream.create", target: "upstream:\(new.name)",
                detail: ["base_url": .string(new.baseURL), "kind": .string(new.kind.rawValue)], now: now)
            guard let upstream = record.domain else { throw TrellisError.internalError }
            return upstream
        }
    }
    /// Replaces an upstream's settings (the declarative catalog changed them).
    public func updateUpstream(name: String, _ new: NewUpstream, actor: String, now: Date) async throws {
        try await pool.write { db in
            guard var record = try UpstreamRecord.all().named(name).fetchOne(db) else {
                throw TrellisError.notFound("The upstream")
            }
            record.baseURL = new.baseURL
            record.kind = new.kind.rawValue
            record.labels = JSONText.encode(new.labels.map(\.rawValue).sorted())
            record.apiKeyEnv = new.apiKeyEnv
            record.timeouts = JSONText.encode(new.timeouts)
            record.pricing = new.pricing.map { JSONWriter.string($0.json) }
            try record.update(db)
            try Self.bumpGeneration(db)
            try Self.audit(
                db, actor: actor, tenantID: nil, action: "upstream.update", target: "upstream:\(name)",
                detail: ["base_url": .string(new.baseURL), "kind": .string(new.kind.rawValue)], now: now)
        }
    }

    // MARK: Adapters

    public func createAdapter(_ adapter: Adapter, actor: String, now: Date) async throws -> Adapter {
        try await pool.write { db in
            try Self.checkName(db, table: "adapters", kind: "adapter", name: adapter.name, tenantID: adapter.tenantID)
            var a = adapter
            a.id = APIKeys.identifier("adp")
            a.createdAt = Date(unixSeconds: now.unixSeconds)
            try AdapterRecord(a).insert(db)
            try Self.bumpGeneration(db)
            try Self.audit(
                db, actor: actor, tenantID: a.tenantID, action: "adapter.create", target: "adapter:\(a.name)",
                detail: ["upstream": .string(a.upstream), "base_model": .string(a.baseModel), "method": .string(a.method.rawValue)], now: now)
            return a
        }
    }

    /// Replaces an adapter's fields (the declarative catalog changed it); the id and creation time stay.
    public func updateAdapter(_ adapter: Adapter, actor: String, now: Date) async throws {
        try await pool.write { db in
            guard let existing = try AdapterRecord.fetchOne(db, key: adapter.id) else { throw TrellisError.notFound("The adapter") }
            var record = AdapterRecord(adapter)
            record.createdAt = existing.createdAt
            try record.update(db)
            try Self.bumpGeneration(db)
            try Self.audit(db, actor: actor, tenantID: adapter.tenantID, action: "adapter.update", target: "adapter:\(adapter.name)", now: now)
        }
    }
}
