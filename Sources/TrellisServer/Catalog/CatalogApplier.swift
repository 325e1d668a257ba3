import Foundation
import Logging
import OpenAIWire
import TrellisCore
import TrellisStore

/// A problem in a catalog file, named by file and entry.
public struct CatalogError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var entry: String
    public var problem: String

    public var description: String {
        "catalog \(file): \(entry)\(entry.isEmpty ? "" : ": ")\(problem)"
    }
}

/// Applies the declarative catalog (`catalog.dir`: YAML files of tenants, upstreams, prompts, adapters and
/// models, never secrets) through the same validation as the administration API. Idempotent: applying the
/// same files twice changes nothing. Versioned objects are never edited: a changed prompt or model spec adds
/// a version. A model's `traffic` in a file is applied as given (`latest` names the newest version); without
/// it a new version gets no traffic, as through the API. Upstreams and adapters are updated in place.
public struct CatalogApplier: Sendable {
    public struct Report: Sendable, CustomStringConvertible {
        public var changes: [String] = []
        public var unchanged = 0

        public var description: String {
            changes.isEmpty ? "catalog: \(unchanged) entries, nothing to change" : "catalog: \(changes.count) changes (\(changes.joined(separator: "; ")))"
        }
    }

    let store: any CatalogStore & KnowledgeStore
    let actor: String
    let environment: [String: String]
    /// When set, upstreams outside it are refused (the gateway passes its `egress.allow`).
    let egress: EgressPolicy?

    public init(
        store: any CatalogStore & KnowledgeStore, actor: String = "catalog",
        environment: [String: String] = ProcessInfo.processInfo.environment, egress: EgressPolicy? = nil
    ) {
        self.store = store
        self.actor = actor
        self.environment = environment
        self.egress = egress
    }

    static let kinds = ["tenants", "upstreams", "prompts", "adapters", "knowledge_bases", "models"]

    struct Entry {
        var file: String
        var label: String
        var body: JSONValue
    }

    /// Reads every `*.yaml`/`*.yml` file of `directory` (in name order) and applies them.
    public func apply(directory: String) async throws -> Report {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch {
            throw CatalogError(file: directory, entry: "", problem: "cannot read the directory")
        }
        var entries: [String: [Entry]] = [:]
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CatalogError(file: file, entry: "", problem: "cannot read the file")
            }
            let document: JSONValue
            do {
                document = try YAMLJSON.parse(text, environment: environment)
            } catch {
                throw CatalogError(file: file, entry: "", problem: "\(error)")
            }
            guard case .object(let root) = document else {
                throw CatalogError(file: file, entry: "", problem: "the top level must be a mapping of \(Self.kinds.joined(separator: ", "))")
            }
            for member in root {
                guard Self.kinds.contains(member.key) else {
                    throw CatalogError(file: file, entry: member.key, problem: "unknown section; a catalog file has \(Self.kinds.joined(separator: ", "))")
                }
                guard case .array(let items) = member.value else {
                    if member.value.isNull { continue }
                    throw CatalogError(file: file, entry: member.key, problem: "must be a list")
                }
                for (i, item) in items.enumerated() {
                    let name = item["name"]?.stringValue.map { " (\($0))" } ?? ""
                    entries[member.key, default: []].append(Entry(file: file, label: "\(member.key)[\(i)]\(name)", body: item))
                }
            }
        }
        var report = Report()
        for kind in Self.kinds {
            for entry in entries[kind] ?? [] {
                // Twice at most: another gateway applying the same catalog to the same database may create the
                // entry between this one's read and write (a 409); read again, and it is unchanged or an update.
                for round in 1...2 {
                    let snapshot = try await store.loadSnapshot()
                    do {
                        if let change = try await apply(kind: kind, entry.body, snapshot: snapshot) {
                            report.changes.append("\(kind.dropLast()) \(entry.body["name"]?.stringValue ?? "?"): \(change)")
                        } else {
                            report.unchanged += 1
                        }
                        break
                    } catch let error as TrellisError where error.status == 409 && round == 1 {
                        continue
                    } catch let error as TrellisError where !StoreFailure.isUnavailable(error) {
                        // (A store out of reach is not the file's fault: that error goes up as it is, to be waited out.)
                        throw CatalogError(file: entry.file, entry: entry.label, problem: (error.param.map { "\($0): " } ?? "") + error.message)
                    }
                }
            }
        }
        return report
    }

    func tenantID(_ body: BodyReader, snapshot: CatalogSnapshot) throws -> String? {
        guard let name = try body.string("tenant", maxBytes: 63) else { return nil }
        guard let tenant = snapshot.tenant(named: name) else {
            throw TrellisError.invalidRequest("The tenant '\(name)' does not exist; declare it under 'tenants'.", param: "tenant", code: "invalid_value")
        }
        return tenant.id
    }

    /// Applies one entry; returns what changed, or nil when nothing did.
    func apply(kind: String, _ value: JSONValue, snapshot: CatalogSnapshot) async throws -> String? {
        switch kind {
        case "tenants":
            let body = try BodyReader(value, allowed: ["name"] + TenantSettings.fields)
            let name = try body.requiredString("name", maxBytes: 63)
            guard Names.isValidTenant(name) else { throw TrellisError.invalidField("name", "must match \(Names.tenantRule)") }
            if let existing = snapshot.tenant(named: name) {
                let settings = try TenantSettings.parse(body.object, base: existing.settings)
                if settings == existing.settings { return nil }
                _ = try await store.setTenantSettings(id: existing.id, settings: settings, actor: actor)
                return "settings"
            }
            _ = try await store.createTenant(name: name, settings: try TenantSettings.parse(body.object), actor: actor)
            return "created"

        case "upstreams":
            let new = try UpstreamsController.parseUpstream(try BodyReader(value, allowed: UpstreamsController.upstreamFields))
            if let egress, snapshot.upstreams[new.name]?.baseURL != new.baseURL {
                try await EgressCache.checkRegistration(baseURL: new.baseURL, policy: egress)
            }
            guard let existing = snapshot.upstreams[new.name] else {
                _ = try await store.createUpstream(new, actor: actor)
                return "created"
            }
            if existing.baseURL == new.baseURL && existing.kind == new.kind && existing.labels == new.labels && existing.apiKeyEnv == new.apiKeyEnv
                && existing.timeouts == new.timeouts
            {
                return nil
            }
            try await store.updateUpstream(name: new.name, new, actor: actor)
            return "updated"

        case "prompts":
            let body = try BodyReader(value, allowed: ["name", "tenant", "description", "messages", "variables", "labels"])
            let tenant = try tenantID(body, snapshot: snapshot)
            let input = try LibraryController.parsePrompt(body)
            let write = try await store.writePrompt(
                name: input.name, tenantID: tenant, description: input.description, definition: input.definition.json, labels: input.labels,
                actor: actor)
            if write.created { return "version \(write.version)" }
            let existing = tenant.map { snapshot.tenantPrompt(named: input.name, tenantID: $0) } ?? snapshot.sharedPrompt(named: input.name)
            return existing?.labels == write.prompt.labels ? nil : "labels"

        case "adapters":
            let body = try BodyReader(value, allowed: LibraryController.adapterFields)
            let tenant = try tenantID(body, snapshot: snapshot)
            var adapter = try LibraryController.parseAdapter(body, tenantID: tenant, snapshot: snapshot)
            let existing = tenant.map { snapshot.tenantAdapter(named: adapter.name, tenantID: $0) } ?? snapshot.sharedAdapter(named: adapter.name)
            guard let existing else {
                _ = try await store.createAdapter(adapter, actor: actor)
                return "created"
            }
            adapter.id = existing.id
            adapter.createdAt = existing.createdAt
            if adapter == existing { return nil }
            try await store.updateAdapter(adapter, actor: actor)
            return "updated"

        case "knowledge_bases":
            let body = try BodyReader(value, allowed: ["name", "tenant", "description", "embedding", "chunk_size", "chunk_overlap"])
            let name = try body.requiredString("name", maxBytes: 128)
            guard Names.isValidObject(name) else { throw TrellisError.invalidField("name", "must be \(Names.objectRule)") }
            guard let tenant = try tenantID(body, snapshot: snapshot) else { throw TrellisError.missingField("tenant") }
            var embedding: KnowledgeBase.Embedding?
            if let e = try body.object("embedding") {
                let reader = try BodyReader(.object(e), allowed: ["upstream", "model"], path: "embedding")
                let upstream = try reader.requiredString("upstream", maxBytes: 128)
                guard snapshot.upstreams[upstream] != nil else {
                    throw TrellisError.invalidRequest("'\(upstream)' is not a registered upstream.", param: "embedding.upstream", code: "invalid_value")
                }
                embedding = .init(upstream: upstream, model: try reader.requiredString("model", maxBytes: 256))
            }
            let size = try body.int("chunk_size", in: 32...8192) ?? Chunker.defaultSize
            let overlap = try body.int("chunk_overlap", in: 0...4096) ?? min(Chunker.defaultOverlap, size / 4)
            let description = try body.string("description", maxBytes: 4096)
            guard let existing = snapshot.knowledgeBase(named: name, tenantID: tenant) else {
                _ = try await store.createKnowledgeBase(
                    name: name, tenantID: tenant, description: description, embedding: embedding, chunkSize: size, chunkOverlap: overlap, actor: actor)
                return "created"
            }
            if existing.embedding != embedding || existing.chunkSize != size || existing.chunkOverlap != overlap {
                throw TrellisError.invalidRequest(
                    "The embedding model and chunking of an existing knowledge base cannot change (its documents would have to be indexed again); create a new knowledge base.",
                    param: "embedding", code: "invalid_value")
            }
            if let description, description != existing.description {
                try await store.setKnowledgeBaseDescription(id: existing.id, description: description, actor: actor)
                return "description"
            }
            return nil

        case "models":
            let body = try BodyReader(value, allowed: ["name", "tenant", "description", "spec", "traffic"])
            let name = try body.requiredString("name", maxBytes: 128)
            guard Names.isValidObject(name) else { throw TrellisError.invalidField("name", "must be \(Names.objectRule)") }
            let tenant = try tenantID(body, snapshot: snapshot)
            guard let specValue = body.value("spec") else { throw TrellisError.missingField("spec") }
            let spec = try ModelsController.validateSpec(specValue, tenantID: tenant, snapshot: snapshot)
            let existing = tenant.map { snapshot.tenantModel(named: name, tenantID: $0) } ?? snapshot.sharedModel(named: name)
            var changes: [String] = []
            var model: IndustryModel
            if let existing {
                model = existing
                if let description = try body.string("description", maxBytes: 4096), description != existing.description {
                    try await store.setModelDescription(modelID: existing.id, description: description, actor: actor)
                    changes.append("description")
                }
                if existing.versions.last.map({ JSONWriter.string($0.spec.json.canonical) }) != JSONWriter.string(spec.json.canonical) {
                    let version = try await store.addModelVersion(modelID: existing.id, spec: spec.json, actor: actor)
                    changes.append("version \(version)")
                    model.versions.append(ModelVersion(version: version, spec: spec, createdAt: Date()))
                }
            } else {
                model = try await store.createModel(
                    name: name, tenantID: tenant, description: try body.string("description", maxBytes: 4096), spec: spec.json, actor: actor)
                changes.append("created")
            }
            if let traffic = try body.object("traffic") {
                var weights: [Int: Int] = [:]
                for member in traffic {
                    let version = member.key == "latest" ? model.latestVersion : Int(member.key)
                    guard let version, model.version(version) != nil else {
                        throw TrellisError.invalidRequest(
                            "traffic: version '\(member.key)' does not exist.", param: "traffic.\(member.key)", code: "invalid_value")
                    }
                    guard let weight = member.value.numberValue?.intValue, weight >= 0 else {
                        throw TrellisError.invalidField("traffic.\(member.key)", "must be a non-negative weight")
                    }
                    weights[version, default: 0] += weight
                }
                guard weights.values.reduce(0, +) > 0 else { throw TrellisError.invalidField("traffic", "needs a positive weight") }
                if weights != model.traffic {
                    try await store.setTraffic(modelID: model.id, traffic: weights, actor: actor)
                    changes.append("traffic")
                }
            }
            return changes.isEmpty ? nil : changes.joined(separator: ", ")

        default:
            return nil
        }
    }
}
