import Foundation
import GRDB
import OpenAIWire
import Testing
import TrellisCore
import TrellisStore
import TrellisStoreTestSupport

@Suite("SQLiteStore: schema and file")
struct SQLiteStoreFileTests {
    @Test("a new file is migrated, in WAL mode, and passes the integrity check")
    func fresh() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        #expect(
            try await temp.store.appliedMigrations() == [
                "v1-catalog-keys-usage", "v2-prompts-adapters", "v3-knowledge", "v4-governance", "v5-knowledge-terms", "v6-usage-users-by-model",
                "v7-usage-user-sets", "v8-usage-by-model", "v9-responses", "v10-routing", "v11-evaluation",
            ])
        #expect(try await temp.store.journalMode() == "wal")
        #expect(try await temp.store.integrityCheck() == "ok")
        #expect(FileManager.default.fileExists(atPath: temp.path))
        #expect(temp.path.hasSuffix(SQLiteStore.fileName))
        #expect(try await temp.store.catalogGeneration() >= 1)
    }

    @Test("the database directory is created when missing")
    func createsDirectory() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-store-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let store = try SQLiteStore(path: base.appendingPathComponent("nested/deeper/db.sqlite").path)
        #expect(try store.integrityCheck() == "ok")
    }

    @Test("reopening the same file keeps everything and applies no migration twice")
    func reopen() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        let tenant = try await temp.store.createTenant(name: "acme", actor: "operator")
        let (_, key) = try await temp.store.createKey(Fixtures.newKey(tenantID: tenant.id), actor: "operator")
        _ = try await temp.store.createModel(name: "assistant", tenantID: nil, description: "shared", spec: Fixtures.spec, actor: "operator")
        let generation = try await temp.store.catalogGeneration()

        let reopened = try await temp.reopen()
        #expect(
            try await reopened.appliedMigrations() == [
                "v1-catalog-keys-usage", "v2-prompts-adapters", "v3-knowledge", "v4-governance", "v5-knowledge-terms", "v6-usage-users-by-model",
                "v7-usage-user-sets", "v8-usage-by-model", "v9-responses", "v10-routing", "v11-evaluation",
            ])
        #expect(try await reopened.tenants().map(\.name) == ["acme"])
        #expect(try await reopened.catalogGeneration() == generation)
        let snapshot = try await reopened.loadSnapshot()
        #expect(snapshot.key(for: KeyDigest(of: key))?.tenantID == tenant.id)
        #expect(snapshot.sharedModel(named: "assistant")?.description == "shared")
        #expect(try await reopened.integrityCheck() == "ok")
    }
}

@Suite("SQLiteStore: tenants and keys")
struct SQLiteStoreKeyTests {
    /// A column's text, or its bytes read as UTF-8; nil for numbers and NULL.
    static func text(_ value: DatabaseValue) -> String? {
        switch value.storage {
        case .string(let s): s
        case .blob(let data): String(decoding: data, as: UTF8.self)
        default: nil
        }
    }

    @Test("createTenant, then a duplicate name is a 409", arguments: StoreEngines.all)
    func duplicateTenant(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let now = Date(timeIntervalSince1970: 1_750_000_000)
        let tenant = try await temp.store.createTenant(name: "acme", actor: "operator", now: now)
        #expect(tenant.name == "acme")
        #expect(tenant.createdAt == now)
        #expect(!tenant.id.isEmpty)
        let error = await #expect(throws: TrellisError.self) {
            try await temp.store.createTenant(name: "acme", actor: "operator")
        }
        #expect(error?.status == 409)
        #expect(try await temp.store.tenants().count == 1)
        // A different name is fine, and tenants list by name.
        _ = try await temp.store.createTenant(name: "zeta", actor: "operator")
        _ = try await temp.store.createTenant(name: "beta", actor: "operator")
        #expect(try await temp.store.tenants().map(\.name) == ["acme", "beta", "zeta"])
    }

    @Test("a key is stored only as its digest: no column and no byte of the file holds the key")
    func keyStoredAsDigestOnly() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        let tenant = try await temp.store.createTenant(name: "acme", actor: "operator")
        let (info, key) = try await temp.store.createKey(Fixtures.newKey(tenantID: tenant.id), actor: "operator")
        #expect(key.hasPrefix("trk-"))
        #expect(info.prefix == String(key.prefix(APIKeys.prefixLength)))
        let secretPart = String(key.dropFirst(APIKeys.prefixLength))  // what the prefix does not reveal

        // Every column of every api_keys row, read from the file by another connection.
        let reader = try DatabaseQueue(
            path: temp.path,
            configuration: {
                var c = Configuration(); c.readonly = true; return c
            }())
        let rows = try await reader.read { db in try Row.fetchAll(db, sql: "SELECT * FROM api_keys") }
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        var sawDigest = false
        for column in row.columnNames {
            guard let text = Self.text(row[column]) else { continue }
            #expect(!text.contains(key), "column \(column) holds the key")
            #expect(!text.contains(secretPart), "column \(column) holds the key's secret part")
            if text == KeyDigest(of: key).hex { sawDigest = true }
        }
        #expect(sawDigest)

        // Nor anywhere else in the database, the WAL included (the audit log, for one).
        let auditRows = try await reader.read { db in try Row.fetchAll(db, sql: "SELECT * FROM audit_log") }
        for row in auditRows {
            for column in row.columnNames {
                if let text = Self.text(row[column]) { #expect(!text.contains(secretPart), "audit_log.\(column)") }
            }
        }
        let needle = Array(secretPart.utf8)
        for suffix in ["", "-wal", "-shm"] {
            guard let data = FileManager.default.contents(atPath: temp.path + suffix) else { continue }
            #expect(!Array(data).contains(needle), "\(SQLiteStore.fileName)\(suffix) holds the key")
        }
    }

    @Test("loadSnapshot authenticates by KeyDigest, with the key's tenant, scopes, models and limits", arguments: StoreEngines.all)
    func snapshotAuthenticates(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let tenant = try await temp.store.createTenant(name: "acme", actor: "operator")
        let new = NewKey(
            tenantID: tenant.id, name: "ci", scopes: [.inference, .manage], models: ["claims-*", "assistant"], rpm: 60, tpm: 10_000, expiresAt: nil)
        let (info, key) = try await temp.store.createKey(new, actor: "operator")
        let snapshot = try await temp.store.loadSnapshot()
        let found = try #require(snapshot.key(for: KeyDigest(of: key)))
        #expect(found.id == info.id)
        #expect(found.tenantID == tenant.id)
        #expect(found.tenantName == "acme")
        #expect(found.scopes == [.inference, .manage])
        #expect(found.models == ModelAllowlist(["claims-*", "assistant"]))
        #expect(found.rpm == 60)
        #expect(found.tpm == 10_000)
        #expect(found.prefix == info.prefix)
        // Near misses do not authenticate.
        #expect(snapshot.key(for: KeyDigest(of: key + "x")) == nil)
        #expect(snapshot.key(for: KeyDigest(of: String(key.dropLast()))) == nil)
        #expect(snapshot.key(for: KeyDigest(of: info.prefix)) == nil)
        #expect(snapshot.key(for: KeyDigest(of: APIKeys.generate().key)) == nil)
    }

    @Test("a key for a tenant that does not exist is a 404", arguments: StoreEngines.all)
    func keyForMissingTenant(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let error = await #expect(throws: TrellisError.self) {
            try await temp.store.createKey(Fixtures.newKey(tenantID: "tnt_missing"), actor: "operator")
        }
        #expect(error?.status == 404)
    }

    @Test("listing keys gives metadata in creation order", arguments: StoreEngines.all)
    func listKeys(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let acme = try await temp.store.createTenant(name: "acme", actor: "operator")
        let other = try await temp.store.createTenant(name: "other", actor: "operator")
        let t0 = Date(timeIntervalSince1970: 1_750_000_000)
        let (a, _) = try await temp.store.createKey(Fixtures.newKey(tenantID: acme.id, name: "first"), actor: "operator", now: t0)
        let (b, _) = try await temp.store.createKey(Fixtures.newKey(tenantID: acme.id, name: "second"), actor: "operator", now: t0 + 10)
        _ = try await temp.store.createKey(Fixtures.newKey(tenantID: other.id, name: "theirs"), actor: "operator", now: t0 + 5)
        let listed = try await temp.store.keys(tenantID: acme.id)
        #expect(listed.map(\.id) == [a.id, b.id])
        #expect(listed.map(\.name) == ["first", "second"])
        #expect(listed[0].scopes == [.inference, .usage])
        #expect(listed[0].models == ["*"])
        #expect(listed[0].createdAt == t0)
        #expect(try await temp.store.key(id: b.id) == b)
        #expect(try await temp.store.key(id: "key_nope") == nil)
    }

    @Test("revoking removes the key from the next snapshot and bumps the catalog generation", arguments: StoreEngines.all)
    func revoke(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let tenant = try await temp.store.createTenant(name: "acme", actor: "operator")
        let (info, key) = try await temp.store.createKey(Fixtures.newKey(tenantID: tenant.id), actor: "operator")
        let (_, keep) = try await temp.store.createKey(Fixtures.newKey(tenantID: tenant.id, name: "keep"), actor: "operator")
        let before = try await temp.store.loadSnapshot()
        #expect(before.key(for: KeyDigest(of: key)) != nil)

        let now = Date(timeIntervalSince1970: 1_760_000_000)
        let revoked = try await temp.store.revokeKey(id: info.id, actor: "operator", now: now)
        #expect(revoked.revokedAt == now)

        let after = try await temp.store.loadSnapshot()
        #expect(after.generation > before.generation)
        #expect(after.key(for: KeyDigest(of: key)) == nil)
        #expect(after.key(for: KeyDigest(of: keep)) != nil)
        #expect(after.keyCount == 1)

        // Revoking again is not an error and keeps the first time; the generation does not move.
        let again = try await temp.store.revokeKey(id: info.id, actor: "operator", now: now + 100)
        #expect(again.revokedAt == now)
        #expect(try await temp.store.catalogGeneration() == after.generation)
        // The listing still shows it, as revoked.
        #expect(try await temp.store.key(id: info.id)?.revokedAt == now)

        let error = await #expect(throws: TrellisError.self) {
            try await temp.store.revokeKey(id: "key_missing", actor: "operator")
        }
        #expect(error?.status == 404)
    }

    @Test("expired keys are left out of the snapshot", arguments: StoreEngines.all)
    func expiry(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let tenant = try await temp.store.createTenant(name: "acme", actor: "operator")
        let now = Date(timeIntervalSince1970: 1_760_000_000)
        let (_, expired) = try await temp.store.createKey(
            Fixtures.newKey(tenantID: tenant.id, name: "old", expiresAt: now - 60), actor: "operator", now: now - 3600)
        let (_, valid) = try await temp.store.createKey(Fixtures.newKey(tenantID: tenant.id, name: "new", expiresAt: now + 3600), actor: "operator", now: now)
        let (_, forever) = try await temp.store.createKey(Fixtures.newKey(tenantID: tenant.id, name: "forever"), actor: "operator", now: now)

        let snapshot = try await temp.store.loadSnapshot(now: now)
        #expect(snapshot.key(for: KeyDigest(of: expired)) == nil)
        #expect(snapshot.key(for: KeyDigest(of: valid))?.expiresAt == now + 3600)
        #expect(snapshot.key(for: KeyDigest(of: forever)) != nil)

        // Two hours later the second one has expired too.
        let later = try await temp.store.loadSnapshot(now: now + 7200)
        #expect(later.key(for: KeyDigest(of: valid)) == nil)
        #expect(later.key(for: KeyDigest(of: forever)) != nil)
    }
}

@Suite("SQLiteStore: models")
struct SQLiteStoreModelTests {
    @Test("createModel makes version 1 with all the traffic, and the snapshot serves it", arguments: StoreEngines.all)
    func create(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let before = try await temp.store.catalogGeneration()
        let model = try await temp.store.createModel(name: "assistant", tenantID: nil, description: "general", spec: Fixtures.spec, actor: "operator")
        #expect(model.name == "assistant")
        #expect(model.tenantID == nil)
        #expect(model.versions.map(\.version) == [1])
        #expect(model.traffic == [1: 100])
        #expect(model.versions.first?.spec.deployments == [ModelSpec.Target(upstream: "local", model: "smollm2")])
        #expect(try await temp.store.catalogGeneration() > before)

        let snapshot = try await temp.store.loadSnapshot()
        let loaded = try #require(snapshot.sharedModel(named: "assistant"))
        #expect(loaded.id == model.id)
        #expect(loaded.versions.first?.spec.json == Fixtures.spec)
    }

    @Test("a tenant model may not take a shared name (409)", arguments: StoreEngines.all)
    func tenantCannotTakeSharedName(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let acme = try await temp.store.createTenant(name: "acme", actor: "operator")
        _ = try await temp.store.createModel(name: "assistant", tenantID: nil, description: nil, spec: Fixtures.spec, actor: "operator")
        let error = await #expect(throws: TrellisError.self) {
            try await temp.store.createModel(name: "assistant", tenantID: acme.id, description: nil, spec: Fixtures.spec, actor: "operator")
        }
        #expect(error?.status == 409)
        #expect(try await temp.store.loadSnapshot().tenantModel(named: "assistant", tenantID: acme.id) == nil)
    }

    @Test("two tenants may both have `assistant`; one tenant may not have two", arguments: StoreEngines.all)
    func tenantNamespaces(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let acme = try await temp.store.createTenant(name: "acme", actor: "operator")
        let globex = try await temp.store.createTenant(name: "globex", actor: "operator")
        let a = try await temp.store.createModel(name: "assistant", tenantID: acme.id, description: nil, spec: Fixtures.spec, actor: "operator")
        let g = try await temp.store.createModel(name: "assistant", tenantID: globex.id, description: nil, spec: Fixtures.specV2, actor: "operator")
        #expect(a.id != g.id)
        let error = await #expect(throws: TrellisError.self) {
            try await temp.store.createModel(name: "assistant", tenantID: acme.id, description: nil, spec: Fixtures.spec, actor: "operator")
        }
        #expect(error?.status == 409)

        let snapshot = try await temp.store.loadSnapshot()
        #expect(snapshot.model(named: "assistant", tenantID: acme.id)?.id == a.id)
        #expect(snapshot.model(named: "assistant", tenantID: globex.id)?.id == g.id)
        #expect(snapshot.sharedModel(named: "assistant") == nil)
        #expect(snapshot.tenantsOwningModel(named: "assistant").sorted() == [acme.id, globex.id].sorted())
    }

    @Test("a duplicate shared name is a 409", arguments: StoreEngines.all)
    func duplicateShared(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        _ = try await temp.store.createModel(name: "assistant", tenantID: nil, description: nil, spec: Fixtures.spec, actor: "operator")
        let error = await #expect(throws: TrellisError.self) {
            try await temp.store.createModel(name: "assistant", tenantID: nil, description: nil, spec: Fixtures.spec, actor: "operator")
        }
        #expect(error?.status == 409)
    }

    @Test("addModelVersion numbers versions upwards and leaves traffic where it was", arguments: StoreEngines.all)
    func addVersion(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let model = try await temp.store.createModel(name: "assistant", tenantID: nil, description: nil, spec: Fixtures.spec, actor: "operator")
        let g1 = try await temp.store.catalogGeneration()
        let v2 = try await temp.store.addModelVersion(modelID: model.id, spec: Fixtures.specV2, actor: "operator")
        let v3 = try await temp.store.addModelVersion(modelID: model.id, spec: Fixtures.spec, actor: "operator")
        #expect(v2 == 2)
        #expect(v3 == 3)
        #expect(try await temp.store.catalogGeneration() > g1)

        let loaded = try #require(try await temp.store.loadSnapshot().sharedModel(named: "assistant"))
        #expect(loaded.versions.map(\.version) == [1, 2, 3])
        #expect(loaded.traffic == [1: 100])
        #expect(loaded.version(2)?.spec.params["temperature"] == 0.2)
        #expect(loaded.version(2)?.spec.deployments.first?.model == "qwen2.5")
        // Unpinned requests still get version 1.
        #expect(VersionSelector.select(loaded, stickyKey: "anyone")?.version == 1)

        let error = await #expect(throws: TrellisError.self) {
            try await temp.store.addModelVersion(modelID: "mdl_missing", spec: Fixtures.spec, actor: "operator")
        }
        #expect(error?.status == 404)
    }

    @Test("setTraffic replaces the split", arguments: StoreEngines.all)
    func setTraffic(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let model = try await temp.store.createModel(name: "assistant", tenantID: nil, description: nil, spec: Fixtures.spec, actor: "operator")
        _ = try await temp.store.addModelVersion(modelID: model.id, spec: Fixtures.specV2, actor: "operator")
        let g = try await temp.store.catalogGeneration()
        try await temp.store.setTraffic(modelID: model.id, traffic: [1: 90, 2: 10], actor: "operator")
        #expect(try await temp.store.catalogGeneration() > g)
        #expect(try await temp.store.loadSnapshot().sharedModel(named: "assistant")?.traffic == [1: 90, 2: 10])
        try await temp.store.setTraffic(modelID: model.id, traffic: [2: 100], actor: "operator")
        let loaded = try #require(try await temp.store.loadSnapshot().sharedModel(named: "assistant"))
        #expect(loaded.traffic == [2: 100])
        #expect(VersionSelector.select(loaded, stickyKey: "anyone")?.version == 2)

        let error = await #expect(throws: TrellisError.self) {
            try await temp.store.setTraffic(modelID: "mdl_missing", traffic: [1: 100], actor: "operator")
        }
        #expect(error?.status == 404)
    }

    @Test("upstreams: created, listed in the snapshot, duplicate names refused", arguments: StoreEngines.all)
    func upstreams(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let new = NewUpstream(
            name: "local", baseURL: "http://127.0.0.1:8081/v1", kind: .llamacpp, labels: [.private], apiKeyEnv: "LOCAL_KEY",
            timeouts: UpstreamTimeouts(connectMs: 1_000, firstByteMs: 2_000, idleMs: 3_000, totalMs: 4_000))
        let upstream = try await temp.store.createUpstream(new, actor: "operator")
        #expect(upstream.name == "local")
        let loaded = try #require(try await temp.store.loadSnapshot().upstreams["local"])
        #expect(loaded == upstream)
        #expect(loaded.timeouts == UpstreamTimeouts(connectMs: 1_000, firstByteMs: 2_000, idleMs: 3_000, totalMs: 4_000))
        #expect(loaded.labels == [.private])
        #expect(loaded.apiKeyEnv == "LOCAL_KEY")
        let error = await #expect(throws: TrellisError.self) { try await temp.store.createUpstream(new, actor: "operator") }
        #expect(error?.status == 409)
    }
}

@Suite("SQLiteStore: usage and audit")
struct SQLiteStoreUsageAuditTests {
    /// A usage row; `full: false` leaves every optional field nil (and follows a full one in the round trip, so a
    /// value left over from the row before would show).
    static func event(_ i: Int, endUser: String?, tenantID: String = "tnt_a", full: Bool = true) -> UsageEvent {
        var event = UsageEvent(
            requestID: "req_\(i)", at: Date(timeIntervalSince1970: 1_760_000_000.125 + Double(i)), endpoint: "/v1/chat/completions",
            tenantID: tenantID, keyID: "key_1", endUser: endUser, model: "assistant", modelVersion: full ? 2 : nil,
            upstream: full ? "local" : nil, promptTokens: 10 + i, completionTokens: 20 + i, estimated: !full, latencyMs: 123.5,
            ttftMs: full ? 45.25 : nil, status: full ? 200 : 502, errorCode: full ? nil : "upstream_error", stream: full,
            retrievalMs: full ? 7.75 : nil)
        event.costMicros = full ? 1_234 + i : 0
        event.routedTo = full ? "assistant@2" : nil
        event.baselineCostMicros = full ? 5_678 : nil
        return event
    }

    @Test("usage rows round trip, nil fields and Chinese end-user names included", arguments: StoreEngines.all)
    func usageRoundTrip(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let events = [
            Self.event(0, endUser: "王小明"), Self.event(1, endUser: nil, full: false), Self.event(2, endUser: "użytkownik 😀"),
            Self.event(3, endUser: "other", tenantID: "tnt_b"),
        ]
        try await temp.store.insertUsage(events)
        try await temp.store.insertUsage([])  // nothing to do, no error
        let read = try await temp.store.usageEvents()
        #expect(read.count == events.count)
        #expect(try await temp.store.usageCount() == events.count)
        for (got, want) in zip(read, events) {
            // Times are kept to the millisecond.
            #expect(abs(got.at.timeIntervalSince1970 - want.at.timeIntervalSince1970) < 0.001)
            var gotSameTime = got
            gotSameTime.at = want.at
            #expect(gotSameTime == want)
        }
        #expect(read[0].endUser == "王小明")
        #expect(read[1].endUser == nil)
        #expect(read[1].modelVersion == nil)
        #expect(read[1].upstream == nil)
        #expect(read[1].ttftMs == nil)
        #expect(read[1].errorCode == "upstream_error")
        #expect(read[1].estimated)
        #expect(read[1].retrievalMs == nil)
        #expect(read[1].routedTo == nil)
        #expect(read[1].baselineCostMicros == nil)
        #expect(read[2].routedTo == "assistant@2")
        #expect(read[2].retrievalMs == 7.75)
        #expect(read[2].costMicros == 1_236)

        #expect(try await temp.store.usageEvents(tenantID: "tnt_b").map(\.requestID) == ["req_3"])
        #expect(try await temp.store.usageEvents(limit: 2).map(\.requestID) == ["req_0", "req_1"])
    }

    @Test("every change writes an audit row naming the actor", arguments: StoreEngines.all)
    func audit(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let tenant = try await temp.store.createTenant(name: "acme", actor: "operator")
        let (key, _) = try await temp.store.createKey(Fixtures.newKey(tenantID: tenant.id), actor: "key:trk-abcdefgh")
        _ = try await temp.store.revokeKey(id: key.id, actor: "operator")
        _ = try await temp.store.createUpstream(
            NewUpstream(name: "local", baseURL: "http://127.0.0.1:8081/v1", kind: .llamacpp, labels: [], apiKeyEnv: nil, timeouts: .default),
            actor: "operator")
        let model = try await temp.store.createModel(name: "claims", tenantID: tenant.id, description: nil, spec: Fixtures.spec, actor: "key:trk-manager1")
        _ = try await temp.store.addModelVersion(modelID: model.id, spec: Fixtures.specV2, actor: "key:trk-manager1")
        try await temp.store.setTraffic(modelID: model.id, traffic: [1: 50, 2: 50], actor: "operator")

        let entries = try await temp.store.auditEntries()
        // Newest first.
        #expect(
            entries.map(\.action) == [
                "model.traffic.set", "model.version.create", "model.create", "upstream.create", "key.revoke", "key.create", "tenant.create",
            ])
        #expect(
            entries.map(\.actor) == ["operator", "key:trk-manager1", "key:trk-manager1", "operator", "operator", "key:trk-abcdefgh", "operator"])
        #expect(entries.map(\.id) == entries.map(\.id).sorted(by: >))
        #expect(entries.first { $0.action == "tenant.create" }?.target == "tenant:acme")
        #expect(entries.first { $0.action == "key.create" }?.target == "key:\(key.id)")
        #expect(entries.first { $0.action == "model.create" }?.tenantID == tenant.id)
        #expect(entries.first { $0.action == "upstream.create" }?.tenantID == nil)

        // The traffic change records the split before and after.
        let traffic = try #require(entries.first?.detail)
        let detail = try JSONParser.parse(traffic)
        #expect(detail["before"] == ["1": 100])
        #expect(detail["after"] == ["1": 50, "2": 50])

        // Filters: by tenant, with a limit, and paging before an id.
        let acmeOnly = try await temp.store.auditEntries(tenantID: tenant.id)
        #expect(acmeOnly.allSatisfy { $0.tenantID == tenant.id })
        #expect(acmeOnly.count == 6)
        #expect(try await temp.store.auditEntries(limit: 2).count == 2)
        let page = try await temp.store.auditEntries(limit: 100, beforeID: entries[2].id)
        #expect(page.map(\.id) == Array(entries.dropFirst(3)).map(\.id))
    }

    @Test("a refused change writes no audit row and does not move the generation", arguments: StoreEngines.all)
    func refusedChangeNotAudited(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        _ = try await temp.store.createTenant(name: "acme", actor: "operator")
        let count = try await temp.store.auditEntries().count
        let generation = try await temp.store.catalogGeneration()
        _ = await #expect(throws: TrellisError.self) { try await temp.store.createTenant(name: "acme", actor: "operator") }
        #expect(try await temp.store.auditEntries().count == count)
        #expect(try await temp.store.catalogGeneration() == generation)
    }
}
