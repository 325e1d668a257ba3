import Foundation
import OpenAIWire
import Testing
import TrellisCore
import TrellisStore
import TrellisStoreTestSupport

/// The catalog's writes on every engine: the same results, audit rows and errors (status and message, so that
/// clients see the same JSON), and concurrent writers that get what one writer after the other would.
@Suite("Store: the catalog, on every engine")
struct StoreCatalogTests {
    static func definition(_ system: String) throws -> JSONValue {
        try PromptDefinition.parse(messages: [["role": "system", "content": .string(system)], ["role": "user", "content": "{{input}}"]], variables: nil)
            .json
    }

    static func adapter(name: String, tenantID: String?) -> Adapter {
        Adapter(
            id: "", name: name, tenantID: tenantID, upstream: "local", baseModel: "smollm2", serving: .loraID(3, scale: 0.5), method: .qlora,
            dataset: "claims-2025", evaluation: nil, description: "first", createdAt: Date(timeIntervalSince1970: 0))
    }

    @Test("concurrent addModelVersion calls get distinct, consecutive versions, each audited once", arguments: StoreEngines.all)
    func concurrentVersions(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let model = try await store.createModel(name: "assistant", tenantID: nil, description: nil, spec: Fixtures.spec, actor: "operator")
        let writers = 8
        let versions = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<writers {
                group.addTask { try await store.addModelVersion(modelID: model.id, spec: Fixtures.specV2, actor: "operator") }
            }
            var out: [Int] = []
            for try await version in group { out.append(version) }
            return out
        }
        #expect(versions.sorted() == Array(2...(writers + 1)))
        let loaded = try #require(try await store.loadSnapshot().sharedModel(named: "assistant"))
        #expect(loaded.versions.map(\.version) == Array(1...(writers + 1)))
        var filter = AuditFilter()
        filter.action = "model.version.create"
        let audited = try await store.auditEntries(filter: filter).compactMap {
            $0.detail.flatMap { try? JSONParser.parse($0)["version"]?.numberValue?.intValue }
        }
        #expect(audited.sorted() == versions.sorted())
    }

    @Test("concurrent writePrompt calls of one new name make one prompt with consecutive versions", arguments: StoreEngines.all)
    func concurrentPrompts(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let writers = 6
        let definitions = try (0..<writers).map { try Self.definition("Answer in style \($0).") }
        let writes = try await withThrowingTaskGroup(of: PromptWrite.self) { group in
            for definition in definitions {
                group.addTask {
                    try await store.writePrompt(name: "greeting", tenantID: nil, description: nil, definition: definition, labels: [], actor: "operator")
                }
            }
            var out: [PromptWrite] = []
            for try await write in group { out.append(write) }
            return out
        }
        #expect(writes.map(\.version).sorted() == Array(1...writers))
        #expect(writes.filter(\.created).count == writers)
        #expect(Set(writes.map(\.prompt.id)).count == 1)
        let prompt = try #require(try await store.loadSnapshot().prompt(named: "greeting", tenantID: nil))
        #expect(prompt.versions.map(\.version) == Array(1...writers))
    }

    @Test("concurrent createModel calls of one name: one is created, the others are 409s", arguments: StoreEngines.all)
    func concurrentCreates(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let outcomes = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    do {
                        _ = try await store.createModel(name: "assistant", tenantID: nil, description: nil, spec: Fixtures.spec, actor: "operator")
                        return 201
                    } catch let error as TrellisError {
                        return error.status
                    } catch {
                        return 500
                    }
                }
            }
            var out: [Int] = []
            for await status in group { out.append(status) }
            return out
        }
        #expect(outcomes.sorted() == [201, 409, 409, 409, 409, 409])
        #expect(try await store.loadSnapshot().allModels.count == 1)
    }

    @Test("writePrompt: a new version only for a new definition; labels and descriptions; setPromptLabels", arguments: StoreEngines.all)
    func prompts(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let acme = try await store.createTenant(name: "acme", actor: "operator")
        let v1 = try Self.definition("Be brief.")
        let first = try await store.writePrompt(
            name: "greeting", tenantID: nil, description: "hello", definition: v1, labels: ["prod"], actor: "operator")
        #expect(first.created)
        #expect(first.version == 1)
        #expect(first.prompt.labels == ["prod": 1])
        #expect(first.prompt.description == "hello")
        #expect(first.prompt.versions.map(\.version) == [1])

        // The same definition (keys in another order) adds nothing: no version, no audit row, same generation.
        let generation = try await store.catalogGeneration()
        let audits = try await store.auditEntries().count
        guard case .object(let object) = v1 else { throw TrellisError.internalError }
        let reordered = JSONValue.object(JSONObject(object.reversed()))
        let same = try await store.writePrompt(name: "greeting", tenantID: nil, description: nil, definition: reordered, labels: [], actor: "operator")
        #expect(!same.created)
        #expect(same.version == 1)
        #expect(try await store.catalogGeneration() == generation)
        #expect(try await store.auditEntries().count == audits)

        // A new definition is version 2; the label moves only when asked.
        let second = try await store.writePrompt(
            name: "greeting", tenantID: nil, description: nil, definition: try Self.definition("Be thorough."), labels: ["beta"], actor: "operator")
        #expect(second.created)
        #expect(second.version == 2)
        #expect(second.prompt.labels == ["prod": 1, "beta": 2])
        #expect(second.prompt.description == "hello")
        // The same definition with a new description is an update.
        let described = try await store.writePrompt(
            name: "greeting", tenantID: nil, description: "greets", definition: try Self.definition("Be thorough."), labels: [], actor: "operator")
        #expect(!described.created)
        #expect(described.prompt.description == "greets")

        let labelled = try await store.setPromptLabels(promptID: first.prompt.id, labels: ["prod": 2, "beta": nil], actor: "operator")
        #expect(labelled.labels == ["prod": 2])
        let entries = try await store.auditEntries(limit: 4)
        #expect(entries.map(\.action) == ["prompt.labels.set", "prompt.update", "prompt.version.create", "prompt.version.create"])
        #expect(entries.allSatisfy { $0.target == "prompt:greeting" })
        let detail = try JSONParser.parse(try #require(entries[0].detail))
        #expect(detail["before"] == ["beta": 2, "prod": 1])
        #expect(detail["after"] == ["prod": 2])
        // Pointing labels where they already are changes nothing.
        let g = try await store.catalogGeneration()
        _ = try await store.setPromptLabels(promptID: first.prompt.id, labels: ["prod": 2], actor: "operator")
        #expect(try await store.catalogGeneration() == g)

        let snapshot = try await store.loadSnapshot()
        let loaded = try #require(snapshot.prompt(named: "greeting", tenantID: nil))
        #expect(loaded.versions.map(\.version) == [1, 2])
        #expect(loaded.labels == ["prod": 2])

        let missing = await #expect(throws: TrellisError.self) {
            try await store.setPromptLabels(promptID: "prm_missing", labels: ["prod": 1], actor: "operator")
        }
        #expect(missing?.status == 404)
        let taken = await #expect(throws: TrellisError.self) {
            try await store.writePrompt(name: "greeting", tenantID: acme.id, description: nil, definition: v1, labels: [], actor: "operator")
        }
        #expect(taken?.status == 409)
        #expect(taken?.message == "'greeting' is the name of a shared prompt; shared names are public and cannot be reused.")
    }

    @Test("adapters: created, refused twice, updated in place", arguments: StoreEngines.all)
    func adapters(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let acme = try await store.createTenant(name: "acme", actor: "operator")
        let now = Date(timeIntervalSince1970: 1_760_000_000)
        let created = try await store.createAdapter(Self.adapter(name: "claims-lora", tenantID: acme.id), actor: "operator", now: now)
        #expect(created.id.hasPrefix("adp"))
        #expect(created.createdAt == now)
        #expect(try await store.loadSnapshot().adapter(named: "claims-lora", tenantID: acme.id) == created)

        let twice = await #expect(throws: TrellisError.self) {
            try await store.createAdapter(Self.adapter(name: "claims-lora", tenantID: acme.id), actor: "operator")
        }
        #expect(twice?.status == 409)
        #expect(twice?.message == "This tenant already has a adapter named 'claims-lora'.")

        var changed = created
        changed.serving = .servedModel("claims-ft")
        changed.method = .full
        changed.description = nil
        changed.evaluation = "{\"f1\": 0.9}"
        changed.createdAt = now + 500
        try await store.updateAdapter(changed, actor: "operator", now: now + 1000)
        let loaded = try #require(try await store.loadSnapshot().adapter(named: "claims-lora", tenantID: acme.id))
        changed.createdAt = now
        #expect(loaded == changed)
        #expect(try await store.auditEntries(limit: 2).map(\.action) == ["adapter.update", "adapter.create"])

        var unknown = changed
        unknown.id = "adp_missing"
        let missing = await #expect(throws: TrellisError.self) { try await store.updateAdapter(unknown, actor: "operator") }
        #expect(missing?.status == 404)
    }

    @Test("tenant settings, upstream updates and model descriptions: audited changes, 404s", arguments: StoreEngines.all)
    func updates(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let acme = try await store.createTenant(name: "acme", actor: "operator")
        let settings = TenantSettings(monthlyTokenQuota: 1_000_000, capture: CaptureSettings(enabled: true, retentionDays: 30))
        let g0 = try await store.catalogGeneration()
        let updated = try await store.setTenantSettings(id: acme.id, settings: settings, actor: "operator")
        #expect(updated.settings == settings)
        #expect(try await store.catalogGeneration() > g0)
        #expect(try await store.loadSnapshot().tenant(named: "acme")?.settings == settings)
        let entry = try #require(try await store.auditEntries(limit: 1).first)
        #expect(entry.action == "tenant.update")
        #expect(entry.target == "tenant:acme")
        #expect(try JSONParser.parse(try #require(entry.detail))["after"] == settings.json)
        // The same settings again change nothing.
        let g1 = try await store.catalogGeneration()
        _ = try await store.setTenantSettings(id: acme.id, settings: settings, actor: "operator")
        #expect(try await store.catalogGeneration() == g1)
        let noTenant = await #expect(throws: TrellisError.self) { try await store.setTenantSettings(id: "tnt_missing", settings: settings, actor: "operator") }
        #expect(noTenant?.status == 404)

        let first = NewUpstream(name: "local", baseURL: "http://127.0.0.1:8081/v1", kind: .llamacpp, labels: [], apiKeyEnv: nil, timeouts: .default)
        let upstream = try await store.createUpstream(first, actor: "operator")
        let second = NewUpstream(
            name: "local", baseURL: "http://127.0.0.1:9090/v1", kind: .vllm, labels: [.private], apiKeyEnv: "VLLM_KEY",
            timeouts: UpstreamTimeouts(connectMs: 1, firstByteMs: 2, idleMs: 3, totalMs: 4))
        try await store.updateUpstream(name: "local", second, actor: "operator")
        let loaded = try #require(try await store.loadSnapshot().upstreams["local"])
        #expect(loaded.id == upstream.id)
        #expect(loaded.baseURL == "http://127.0.0.1:9090/v1")
        #expect(loaded.kind == .vllm)
        #expect(loaded.labels == [.private])
        #expect(loaded.apiKeyEnv == "VLLM_KEY")
        #expect(loaded.timeouts == UpstreamTimeouts(connectMs: 1, firstByteMs: 2, idleMs: 3, totalMs: 4))
        let noUpstream = await #expect(throws: TrellisError.self) { try await store.updateUpstream(name: "nowhere", second, actor: "operator") }
        #expect(noUpstream?.status == 404)
        let taken = await #expect(throws: TrellisError.self) { try await store.createUpstream(first, actor: "operator") }
        #expect(taken?.message == "An upstream named 'local' already exists.")

        let model = try await store.createModel(name: "claims", tenantID: acme.id, description: "old", spec: Fixtures.spec, actor: "operator")
        try await store.setModelDescription(modelID: model.id, description: nil, actor: "operator")
        #expect(try await store.loadSnapshot().model(named: "claims", tenantID: acme.id)?.description == nil)
        let last = try #require(try await store.auditEntries(limit: 1).first)
        #expect([last.action, last.target, last.tenantID] == ["model.update", "model:claims", acme.id])
        let noModel = await #expect(throws: TrellisError.self) {
            try await store.setModelDescription(modelID: "mdl_missing", description: nil, actor: "operator")
        }
        #expect(noModel?.status == 404)
        #expect(noModel?.message == TrellisError.notFound("The model").message)
    }

    @Test("audit filters: exact action, action family, actor, target, time range, paging", arguments: StoreEngines.all)
    func auditFilters(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let t0 = Date(timeIntervalSince1970: 1_760_000_000)
        let acme = try await store.createTenant(name: "acme", actor: "operator", now: t0)
        let model = try await store.createModel(name: "claims", tenantID: acme.id, description: nil, spec: Fixtures.spec, actor: "key:trk-a", now: t0 + 10)
        _ = try await store.addModelVersion(modelID: model.id, spec: Fixtures.specV2, actor: "key:trk-a", now: t0 + 20)
        try await store.setTraffic(modelID: model.id, traffic: [2: 100], actor: "operator", now: t0 + 30)
        _ = try await store.createKey(Fixtures.newKey(tenantID: acme.id), actor: "operator", now: t0 + 40)

        func actions(_ configure: (inout AuditFilter) -> Void, limit: Int = 100, before: Int64? = nil) async throws -> [String] {
            var filter = AuditFilter()
            configure(&filter)
            return try await store.auditEntries(tenantID: nil, limit: limit, beforeID: before, filter: filter).map(\.action)
        }
        #expect(try await actions { $0.action = "model.create" } == ["model.create"])
        #expect(try await actions { $0.action = "model.*" } == ["model.traffic.set", "model.version.create", "model.create"])
        #expect(try await actions { $0.action = "MODEL.*" } == ["model.traffic.set", "model.version.create", "model.create"])
        #expect(try await actions { $0.action = "model" } == [])
        #expect(try await actions { $0.actor = "key:trk-a" } == ["model.version.create", "model.create"])
        #expect(try await actions { $0.target = "tenant:acme" } == ["tenant.create"])
        #expect(
            try await actions {
                $0.from = t0 + 10; $0.to = t0 + 30
            } == ["model.version.create", "model.create"])
        #expect(try await actions({ $0.action = "model.*" }, limit: 1) == ["model.traffic.set"])
        let all = try await store.auditEntries()
        #expect(try await actions({ $0.action = "model.*" }, before: all[1].id) == ["model.version.create", "model.create"])
        // A filter no stored row can match (a NUL character) is an empty page, not a failure.
        #expect(try await actions { $0.actor = "key:\u{0}" } == [])
        #expect(try await actions { $0.action = "model.\u{0}*" } == [])
    }

    @Test("the same refusals, word for word", arguments: StoreEngines.all)
    func refusals(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let store = temp.store
        let acme = try await store.createTenant(name: "acme", actor: "operator")
        _ = try await store.createModel(name: "assistant", tenantID: nil, description: nil, spec: Fixtures.spec, actor: "operator")
        _ = try await store.createModel(name: "claims", tenantID: acme.id, description: nil, spec: Fixtures.spec, actor: "operator")
        let cases: [(String, @Sendable () async throws -> Void)] = [
            ("A tenant named 'acme' already exists.", { _ = try await store.createTenant(name: "acme", actor: "operator") }),
            (
                "A shared model named 'assistant' already exists.",
                { _ = try await store.createModel(name: "assistant", tenantID: nil, description: nil, spec: Fixtures.spec, actor: "operator") }
            ),
            (
                "'assistant' is the name of a shared model; shared names are public and cannot be reused.",
                { _ = try await store.createModel(name: "assistant", tenantID: acme.id, description: nil, spec: Fixtures.spec, actor: "operator") }
            ),
            (
                "This tenant already has a model named 'claims'.",
                { _ = try await store.createModel(name: "claims", tenantID: acme.id, description: nil, spec: Fixtures.spec, actor: "operator") }
            ),
        ]
        for (message, attempt) in cases {
            let error = await #expect(throws: TrellisError.self) { try await attempt() }
            #expect(error?.status == 409)
            #expect(error?.message == message)
        }
        for (expected, attempt) in [
            (TrellisError.notFound("The tenant"), { @Sendable in _ = try await store.createKey(Fixtures.newKey(tenantID: "tnt_missing"), actor: "operator") }),
            (TrellisError.notFound("The key"), { @Sendable in _ = try await store.revokeKey(id: "key_missing", actor: "operator") }),
            (TrellisError.notFound("The model"), { @Sendable in try await store.setTraffic(modelID: "mdl_missing", traffic: [1: 100], actor: "operator") }),
        ] {
            let error = await #expect(throws: TrellisError.self) { try await attempt() }
            #expect(error?.status == expected.status)
            #expect(error?.message == expected.message)
            #expect(error?.code == expected.code)
        }
    }
}
