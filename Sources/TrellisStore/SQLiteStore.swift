import Foundation
import GRDB
import Logging
import OpenAIWire
import TrellisCore

/// The embedded store: one SQLite file in WAL mode behind a GRDB `DatabasePool` (one writer, concurrent
/// readers). Every catalog change bumps `meta.catalog_generation` in the same transaction, so any process
/// sharing the file can tell that its in-memory snapshot is stale.
///
/// Durability: `synchronous = NORMAL` in WAL mode. A committed transaction survives a crash of the process
/// (`kill -9`); after a power loss the last transactions before the failure may roll back, but the database is
/// never corrupted. See docs/reliability.md.
public final class SQLiteStore: Sendable {
    public let path: String
    let pool: DatabasePool

    public static let fileName = "trellis.sqlite"

    /// Opens (creating it if needed) and migrates the database at `path`.
    public init(path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(5)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            db.add(function: HistogramMerge.function)
            db.add(function: UserCount.function)
            db.add(function: UserUnion.function)
        }
        self.path = path
        self.pool = try DatabasePool(path: path, configuration: config)
        var migrator = DatabaseMigrator()
        Migrations.register(in: &migrator)
        try migrator.migrate(pool)
    }

    /// Opens the database in `directory` under its standard file name.
    public convenience init(directory: String) throws {
        try self.init(path: (directory as NSString).appendingPathComponent(Self.fileName))
    }

    /// The applied migrations, oldest first.
    public func appliedMigrations() throws -> [String] {
        var migrator = DatabaseMigrator()
        Migrations.register(in: &migrator)
        return try pool.read { db in try migrator.appliedMigrations(db) }
    }

    public func journalMode() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    public func integrityCheck() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
    }

    // MARK: Catalog snapshot

    public func catalogGeneration() async throws -> Int64 {
        try await pool.read { db in try Self.generation(db) }
    }

    static func generation(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'catalog_generation'") ?? 0
    }

    static func bumpGeneration(_ db: Database) throws {
        try db.execute(sql: "UPDATE meta SET value = value + 1 WHERE key = 'catalog_generation'")
    }

    /// Reads the whole catalog in one read transaction, so the snapshot is consistent.
    public func loadSnapshot(now: Date = Date()) async throws -> CatalogSnapshot {
        try await pool.read { db in
            let generation = try Self.generation(db)
            let tenants = try TenantRecord.fetchAll(db).map(\.domain)
            let tenantNames = Dictionary(uniqueKeysWithValues: tenants.map { ($0.id, $0.name) })
            let keyRows = try APIKeyRecord.filter(APIKeyRecord.Columns.revokedAt == nil).fetchAll(db)
            var keys: [(KeyDigest, TenantKey)] = []
            keys.reserveCapacity(keyRows.count)
            for row in keyRows {
                guard let digest = KeyDigest(hex: row.digest), let tenantName = tenantNames[row.tenantID] else { continue }
                let info = row.info
                if let expiry = info.expiresAt, expiry <= now { continue }
                keys.append(
                    (
                        digest,
                        TenantKey(
                            id: row.id, name: row.name, prefix: row.prefix, tenantID: row.tenantID, tenantName: tenantName,
                            scopes: Set(info.scopes), models: ModelAllowlist(info.models), rpm: row.rpm, tpm: row.tpm,
                            expiresAt: info.expiresAt, concurrency: row.concurrency)
                    ))
            }
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
        let versionRows = try ModelVersionRecord.order(ModelVersionRecord.Columns.version).fetchAll(db)
        var versionsByModel: [String: [ModelVersion]] = [:]
        for row in versionRows {
            // A stored spec was valid when written; one that no longer parses is skipped, not fatal.
            guard let json = try? JSONParser.parse(row.spec), let spec = try? ModelSpec.parse(json) else { continue }
            versionsByModel[row.modelID, default: []].append(
                ModelVersion(version: row.version, spec: spec, createdAt: Date(unixSeconds: row.createdAt)))
        }
        return modelRows.map { row in
            IndustryModel(
                id: row.id, name: row.name, tenantID: row.tenantID, description: row.description,
                createdAt: Date(unixSeconds: row.createdAt), versions: versionsByModel[row.id] ?? [],
                traffic: JSONText.decodeTraffic(row.traffic))
        }
    }

    static func fetchPrompts(_ db: Database) throws -> [Prompt] {
        let rows = try PromptRecord.fetchAll(db)
        let versionRows = try PromptVersionRecord.order(PromptVersionRecord.Columns.version).fetchAll(db)
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

    /// The name rules of the contract, for any namespaced table: a tenant's names are unique within it; shared
    /// names are unique among shared objects and cannot be taken by a tenant.
    static func checkName(_ db: Database, table: String, kind: String, name: String, tenantID: String?) throws {
        let shared = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table) WHERE name = ? AND tenant_id IS NULL", arguments: [name]) ?? 0
        if let tenantID {
            let own = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table) WHERE name = ? AND tenant_id = ?", arguments: [name, tenantID]) ?? 0
            if own > 0 { throw TrellisError.conflict("This tenant already has a \(kind) named '\(name)'.") }
            if shared > 0 { throw TrellisError.conflict("'\(name)' is the name of a shared \(kind); shared names are public and cannot be reused.") }
        } else if shared > 0 {
            throw TrellisError.conflict("A shared \(kind) named '\(name)' already exists.")
        }
    }

    // MARK: Audit

    static func audit(
        _ db: Database, actor: String, tenantID: String?, action: String, target: String, detail: JSONValue? = nil, now: Date
    )
        throws
    {
        let record = AuditRecord(
            id: nil, atMs: now.unixMilliseconds, actor: actor, tenantID: tenantID, action: action, target: target,
            detail: detail.map { JSONWriter.string($0) })
        try record.insert(db)
    }

    public struct AuditFilter: Sendable {
        public var action: String?
        public var actor: String?
        public var target: String?
        public var from: Date?
        public var to: Date?

        public init() {}
    }

    public func auditEntries(
        tenantID: String? = nil, limit: Int = 100, beforeID: Int64? = nil, filter: AuditFilter = AuditFilter()
    ) async throws -> [AuditEntry] {
        try await pool.read { db in
            var request = AuditRecord.order(AuditRecord.Columns.id.desc).limit(limit)
            if let tenantID { request = request.filter(AuditRecord.Columns.tenantID == tenantID) }
            if let beforeID { request = request.filter(AuditRecord.Columns.id < beforeID) }
            if let action = filter.action {
                // An exact action, or a family with a trailing '*': 'model.*'.
                request =
                    action.hasSuffix("*")
                    ? request.filter(AuditRecord.Columns.action.like(String(action.dropLast()) + "%"))
                    : request.filter(AuditRecord.Columns.action == action)
            }
            if let actor = filter.actor { request = request.filter(Column("actor") == actor) }
            if let target = filter.target { request = request.filter(Column("target") == target) }
            if let from = filter.from { request = request.filter(AuditRecord.Columns.atMs >= from.unixMilliseconds) }
            if let to = filter.to { request = request.filter(AuditRecord.Columns.atMs < to.unixMilliseconds) }
            return try request.fetchAll(db).map(\.domain)
        }
    }

    // MARK: Tenants

    public func createTenant(name: String, settings: TenantSettings = TenantSettings(), actor: String, now: Date = Date()) async throws -> Tenant {
        try await pool.write { db in
            if try TenantRecord.filter(TenantRecord.Columns.name == name).fetchCount(db) > 0 {
                throw TrellisError.conflict("A tenant named '\(name)' already exists.")
            }
            let record = TenantRecord(id: APIKeys.identifier("tnt"), name: name, createdAt: now.unixSeconds, settings: JSONWriter.string(settings.json))
            try record.insert(db)
            try Self.bumpGeneration(db)
            try Self.audit(db, actor: actor, tenantID: record.id, action: "tenant.create", target: "tenant:\(name)", now: now)
            return record.domain
        }
    }

    public func setTenantSettings(id: String, settings: TenantSettings, actor: String, now: Date = Date()) async throws -> Tenant {
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

    // MARK: Keys

    /// Issues a key; the returned string is the only copy of it anywhere.
    public func createKey(_ new: NewKey, actor: String, now: Date = Date()) async throws -> (APIKeyInfo, String) {
        let issued = APIKeys.generate()
        return try await pool.write { db in
            guard try TenantRecord.fetchOne(db, key: new.tenantID) != nil else { throw TrellisError.notFound("The tenant") }
            let record = APIKeyRecord(
                id: APIKeys.identifier("key"), tenantID: new.tenantID, name: new.name, prefix: issued.prefix, digest: issued.digest.hex,
                scopes: JSONText.encode(new.scopes.map(\.rawValue)), models: JSONText.encode(new.models), rpm: new.rpm, tpm: new.tpm,
                expiresAt: new.expiresAt?.unixSeconds, createdAt: now.unixSeconds, revokedAt: nil, concurrency: new.concurrency)
            try record.insert(db)
            try Self.bumpGeneration(db)
            try Self.audit(
                db, actor: actor, tenantID: new.tenantID, action: "key.create", target: "key:\(record.id)",
                detail: ["name": .string(new.name), "prefix": .string(issued.prefix), "scopes": .array(new.scopes.map { .string($0.rawValue) })],
                now: now)
            return (record.info, issued.key)
        }
    }

    public func keys(tenantID: String) async throws -> [APIKeyInfo] {
        try await pool.read { db in
            try APIKeyRecord.filter(APIKeyRecord.Columns.tenantID == tenantID).order(APIKeyRecord.Columns.createdAt, APIKeyRecord.Columns.id)
                .fetchAll(db).map(\.info)
        }
    }

    public func key(id: String) async throws -> APIKeyInfo? {
        try await pool.read { db in try APIKeyRecord.fetchOne(db, key: id)?.info }
    }

    /// Revokes a key. Revoking twice is not an error; the first revocation time is kept.
    public func revokeKey(id: String, actor: String, now: Date = Date()) async throws -> APIKeyInfo {
        try await pool.write { db in
            guard var record = try APIKeyRecord.fetchOne(db, key: id) else { throw TrellisError.notFound("The key") }
            if record.revokedAt == nil {
                record.revokedAt = now.unixSeconds
                try record.update(db)
                try Self.bumpGeneration(db)
                try Self.audit(
                    db, actor: actor, tenantID: record.tenantID, action: "key.revoke", target: "key:\(id)",
                    detail: ["prefix": .string(record.prefix)], now: now)
            }
            return record.info
        }
    }

    // MARK: Upstreams

    public func createUpstream(_ new: NewUpstream, actor: String, now: Date = Date()) async throws -> Upstream {
        try await pool.write { db in
            if try UpstreamRecord.filter(UpstreamRecord.Columns.name == new.name).fetchCount(db) > 0 {
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

    // MARK: Models

    /// Creates a model with version 1 taking all traffic. The name rules of the contract: a tenant's names are
    /// unique within it; shared names are unique among shared models and cannot be taken by a tenant.
    public func createModel(
        name: String, tenantID: String?, description: String?, spec: JSONValue, actor: String, now: Date = Date()
    ) async throws -> IndustryModel {
        try await pool.write { db in
            try Self.checkName(db, table: "models", kind: "model", name: name, tenantID: tenantID)
            let record = ModelRecord(
                id: APIKeys.identifier("mdl"), name: name, tenantID: tenantID, description: description,
                traffic: JSONText.encode(traffic: [1: 100]), createdAt: now.unixSeconds)
            try record.insert(db)
            try ModelVersionRecord(modelID: record.id, version: 1, spec: JSONWriter.string(spec), createdAt: now.unixSeconds).insert(db)
            try Self.bumpGeneration(db)
            try Self.audit(
                db, actor: actor, tenantID: tenantID, action: "model.create", target: "model:\(name)", detail: ["version": 1], now: now)
            guard let model = try Self.fetchModels(db).first(where: { $0.id == record.id }) else { throw TrellisError.internalError }
            return model
        }
    }

    /// Adds the next version. Traffic is not moved: a new version serves pinned requests (`name@n`) until the
    /// split gives it weight.
    public func addModelVersion(modelID: String, spec: JSONValue, actor: String, now: Date = Date()) async throws -> Int {
        try await pool.write { db in
            guard let model = try ModelRecord.fetchOne(db, key: modelID) else { throw TrellisError.notFound("The model") }
            let latest =
                try Int.fetchOne(db, sql: "SELECT MAX(version) FROM model_versions WHERE model_id = ?", arguments: [modelID]) ?? 0
            let version = latest + 1
            try ModelVersionRecord(modelID: modelID, version: version, spec: JSONWriter.string(spec), createdAt: now.unixSeconds).insert(db)
            try Self.bumpGeneration(db)
            try Self.audit(
                db, actor: actor, tenantID: model.tenantID, action: "model.version.create", target: "model:\(model.name)",
                detail: ["version": .int(version)], now: now)
            return version
        }
    }

    public func setModelDescription(modelID: String, description: String?, actor: String, now: Date = Date()) async throws {
        try await pool.write { db in
            guard var model = try ModelRecord.fetchOne(db, key: modelID) else { throw TrellisError.notFound("The model") }
            model.description = description
            try model.update(db)
            try Self.bumpGeneration(db)
            try Self.audit(db, actor: actor, tenantID: model.tenantID, action: "model.update", target: "model:\(model.name)", now: now)
        }
    }

    public func setTraffic(modelID: String, traffic: [Int: Int], actor: String, now: Date = Date()) async throws {
        try await pool.write { db in
            guard var model = try ModelRecord.fetchOne(db, key: modelID) else { throw TrellisError.notFound("The model") }
            let before = model.traffic
            model.traffic = JSONText.encode(traffic: traffic)
            try model.update(db)
            try Self.bumpGeneration(db)
            try Self.audit(
                db, actor: actor, tenantID: model.tenantID, action: "model.traffic.set", target: "model:\(model.name)",
                detail: ["before": (try? JSONParser.parse(before)) ?? .null, "after": (try? JSONParser.parse(model.traffic)) ?? .null], now: now)
        }
    }

    // MARK: Prompts

    public struct PromptWrite: Sendable {
        public var prompt: Prompt
        public var version: Int
        /// False when the posted definition equals the latest version's, which is then returned unchanged.
        public var created: Bool
    }

    /// Creates a prompt (version 1) or adds the next version to an existing one. Posting the same definition
    /// as the latest version adds nothing. `labels` are pointed at the resulting version.
    public func writePrompt(
        name: String, tenantID: String?, description: String?, definition: JSONValue, labels: [String], actor: String, now: Date = Date()
    ) async throws -> PromptWrite {
        let text = JSONWriter.string(definition)
        let canonical = JSONWriter.string(definition.canonical)
        return try await pool.write { db in
            let existing = try PromptRecord.filter(
                PromptRecord.Columns.name == name && (tenantID == nil ? PromptRecord.Columns.tenantID == nil : PromptRecord.Columns.tenantID == tenantID)
            ).fetchOne(db)
            var record: PromptRecord
            var version: Int
            var created = true
            var described = false
            if var found = existing {
                let latest = try PromptVersionRecord.filter(PromptVersionRecord.Columns.promptID == found.id).order(PromptVersionRecord.Columns.version.desc)
                    .fetchOne(db)
                if let latest,
                    latest.definition == text
                        || (try? JSONParser.parse(latest.definition)).map({ JSONWriter.string($0.canonical) }) == canonical
                {
                    version = latest.version
                    created = false
                } else {
                    version = (latest?.version ?? 0) + 1
                    try PromptVersionRecord(promptID: found.id, version: version, definition: text, createdAt: now.unixSeconds).insert(db)
                }
                if let description, description != found.description {
                    found.description = description
                    try found.update(db)
                    described = true
                }
                record = found
            } else {
                try Self.checkName(db, table: "prompts", kind: "prompt", name: name, tenantID: tenantID)
                record = PromptRecord(
                    id: APIKeys.identifier("prm"), name: name, tenantID: tenantID, description: description, labels: "{}", createdAt: now.unixSeconds)
                try record.insert(db)
                version = 1
                try PromptVersionRecord(promptID: record.id, version: 1, definition: text, createdAt: now.unixSeconds).insert(db)
            }
            var currentLabels = JSONText.decodeLabels(record.labels)
            var labelsChanged = false
            for label in labels where currentLabels[label] != version {
                currentLabels[label] = version
                labelsChanged = true
            }
            if labelsChanged {
                record.labels = JSONText.encode(labels: currentLabels)
                try record.update(db)
            }
            if created || labelsChanged || described {
                try Self.bumpGeneration(db)
                try Self.audit(
                    db, actor: actor, tenantID: tenantID,
                    action: created ? "prompt.version.create" : labelsChanged ? "prompt.labels.set" : "prompt.update", target: "prompt:\(name)",
                    detail: ["version": .int(version), "labels": .array(labels.map { .string($0) })], now: now)
            }
            guard let prompt = try Self.fetchPrompts(db).first(where: { $0.id == record.id }) else { throw TrellisError.internalError }
            return PromptWrite(prompt: prompt, version: version, created: created)
        }
    }

    /// Points labels at versions (`nil` removes a label).
    public func setPromptLabels(promptID: String, labels: [String: Int?], actor: String, now: Date = Date()) async throws -> Prompt {
        try await pool.write { db in
            guard var record = try PromptRecord.fetchOne(db, key: promptID) else { throw TrellisError.notFound("The prompt") }
            let before = record.labels
            var current = JSONText.decodeLabels(record.labels)
            for (label, version) in labels {
                current[label] = version
            }
            record.labels = JSONText.encode(labels: current)
            if record.labels != before {
                try record.update(db)
                try Self.bumpGeneration(db)
                try Self.audit(
                    db, actor: actor, tenantID: record.tenantID, action: "prompt.labels.set", target: "prompt:\(record.name)",
                    detail: ["before": (try? JSONParser.parse(before)) ?? .null, "after": (try? JSONParser.parse(record.labels)) ?? .null], now: now)
            }
            guard let prompt = try Self.fetchPrompts(db).first(where: { $0.id == record.id }) else { throw TrellisError.internalError }
            return prompt
        }
    }

    // MARK: Adapters

    public func createAdapter(_ adapter: Adapter, actor: String, now: Date = Date()) async throws -> Adapter {
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
    public func updateAdapter(_ adapter: Adapter, actor: String, now: Date = Date()) async throws {
        try await pool.write { db in
            guard let existing = try AdapterRecord.fetchOne(db, key: adapter.id) else { throw TrellisError.notFound("The adapter") }
            var record = AdapterRecord(adapter)
            record.createdAt = existing.createdAt
            try record.update(db)
            try Self.bumpGeneration(db)
            try Self.audit(db, actor: actor, tenantID: adapter.tenantID, action: "adapter.update", target: "adapter:\(adapter.name)", now: now)
        }
    }

    /// Replaces an upstream's settings (the declarative catalog changed them).
    public func updateUpstream(name: String, _ new: NewUpstream, actor: String, now: Date = Date()) async throws {
        try await pool.write { db in
            guard var record = try UpstreamRecord.filter(UpstreamRecord.Columns.name == name).fetchOne(db) else {
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

    // MARK: Usage

    /// Appends usage rows in one transaction.
    public func insertUsage(_ events: [UsageEvent]) async throws {
        guard !events.isEmpty else { return }
        try await pool.write { db in try Self.writeUsage(db, events) }
    }

    /// Rows and their roll-ups, in the caller's transaction.
    static func writeUsage(_ db: Database, _ events: [UsageEvent]) throws {
        var records: [UsageRecord] = []
        records.reserveCapacity(events.count)
        // One prepared statement for the batch, arguments bound positionally (a Codable record insert per row
        // costs several times more: encoding through a container, building the SQL).
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO usage (request_id, at_ms, endpoint, tenant_id, key_id, end_user, model, model_version, upstream,
                    prompt_tokens, completion_tokens, estimated, latency_ms, ttft_ms, status, error_code, stream, retrieval_ms, cost_micros)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for event in events {
            let r = UsageRecord(event)
            try insert.execute(arguments: [
                r.requestID, r.atMs, r.endpoint, r.tenantID, r.keyID, r.endUser, r.model, r.modelVersion, r.upstream,
                r.promptTokens, r.completionTokens, r.estimated, r.latencyMs, r.ttftMs, r.status, r.errorCode, r.stream, r.retrievalMs,
                r.costMicros,
            ])
            records.append(r)
        }
        var daily: [RollupKey: RollupDelta] = [:]
        var users: [RollupKey: RollupDelta] = [:]
        accumulate(records, into: &daily, users: &users)
        try applyRollups(db, daily: daily, users: users)
    }

    /// The same, blocking the calling thread; for a final flush when no task may be awaited.
    public func insertUsageNow(_ events: [UsageEvent]) throws {
        guard !events.isEmpty else { return }
        try pool.write { db in try Self.writeUsage(db, events) }
    }

    public func usageEvents(tenantID: String? = nil, limit: Int = 1000) async throws -> [UsageEvent] {
        try await pool.read { db in
            var request = UsageRecord.order(Column("id")).limit(limit)
            if let tenantID { request = request.filter(Column("tenant_id") == tenantID) }
            return try request.fetchAll(db).map(\.domain)
        }
    }

    /// Counts usage rows matching an SQL condition; for tests and diagnostics.
    public func countUsage(where condition: String? = nil) throws -> Int {
        try pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM usage" + (condition.map { " WHERE " + $0 } ?? "")) ?? 0
        }
    }

    public func usageCount() async throws -> Int {
        try await pool.read { db in try UsageRecord.fetchCount(db) }
    }
}
