import Foundation
import HTTPTypes
import Hummingbird
import OpenAIWire
import TrellisCore
import TrellisStore

/// The administration API under `/admin/v1`. The operator key may do everything; a tenant key with the
/// `manage` scope may manage its own tenant's keys and models and read shared ones. Another tenant's objects
/// answer exactly as missing ones do (404).
struct AdminController {
    let gateway: Gateway

    func register(on group: RouterGroup<TrellisRequestContext>, routes: inout RouteTable) {
        let table: [(HTTPRequest.Method, String, @Sendable (Request, TrellisRequestContext) async throws -> Response)] = [
            (.post, "tenants", createTenant),
            (.get, "tenants", listTenants),
            (.get, "tenants/{tenant}", getTenant),
            (.patch, "tenants/{tenant}", updateTenant),
            (.post, "tenants/{tenant}/keys", createKey),
            (.get, "tenants/{tenant}/keys", listKeys),
            (.delete, "keys/{id}", revokeKey),
            (.post, "upstreams", createUpstream),
            (.get, "upstreams", listUpstreams),
            (.get, "upstreams/{name}", getUpstream),
            (.post, "models", createModel),
            (.get, "models", listModels),
            (.get, "models/{name}", getModel),
            (.post, "models/{name}/versions", addVersion),
            (.put, "models/{name}/traffic", setTraffic),
            (.post, "prompts", createPrompt),
            (.get, "prompts", listPrompts),
            (.get, "prompts/{name}", getPrompt),
            (.put, "prompts/{name}/labels", setPromptLabels),
            (.post, "adapters", createAdapter),
            (.get, "adapters", listAdapters),
            (.get, "adapters/{name}", getAdapter),
            (.get, "audit", listAudit),
            (.get, "usage", usageReport),
            (.get, "datasets/export", exportDataset),
        ]
        for (method, path, handler) in table {
            group.on(RouterPath(path), method: method, use: handler)
            routes.add(method, "/admin/v1/" + path)
        }
    }

    // MARK: Authorisation

    func requireOperator(_ context: TrellisRequestContext) throws {
        guard case .operator? = context.principal else {
            throw TrellisError.permissionDenied("Only the operator key may do this.")
        }
    }

    /// The tenant a caller may manage: any for the operator; its own for a `manage` key (any other name is
    /// answered as missing).
    func managedTenant(named name: String, _ context: TrellisRequestContext) throws -> Tenant {
        let snapshot = gateway.snapshot
        switch context.principal {
        case .operator?:
            guard let tenant = snapshot.tenant(named: name) else { throw TrellisError.notFound("The tenant '\(name.prefix(64))'") }
            return tenant
        case .tenantKey(let key)?:
            guard key.tenantName == name, let tenant = snapshot.tenants[key.tenantID] else {
                throw TrellisError.notFound("The tenant '\(name.prefix(64))'")
            }
            guard key.scopes.contains(.manage) else { throw TrellisError.permissionDenied("This key does not have the 'manage' scope.") }
            return tenant
        case nil:
            throw TrellisError.missingKey
        }
    }

    func requireManageKey(_ context: TrellisRequestContext) throws -> TenantKey? {
        switch context.principal {
        case .operator?: return nil
        case .tenantKey(let key)?:
            guard key.scopes.contains(.manage) else { throw TrellisError.permissionDenied("This key does not have the 'manage' scope.") }
            return key
        case nil: throw TrellisError.missingKey
        }
    }

    // MARK: Tenants

    func tenantJSON(_ t: Tenant) -> JSONValue {
        var o: JSONObject = ["id": .string(t.id), "object": "tenant", "name": .string(t.name), "created_at": .time(t.createdAt)]
        if case .object(let settings) = t.settings.json {
            for m in settings { o[m.key] = m.value }
        }
        return .object(o)
    }

    @Sendable func createTenant(_ request: Request, context: TrellisRequestContext) async throws -> Response {
        try requireOperator(context)
        var request = request
        let body = try BodyReader(try await request.jsonBody(limit: 64 * 1024), allowed: ["name"] + TenantSettings.fields)
        let name = try body.requiredString("name", maxBytes: 63)
        guard Names.isValidTenant(name) else { throw TrellisError.invalidField("name", "must match \(Names.tenantRule)") }
        let settings = try TenantSettings.parse(body.object)
        let tenant = try await gateway.store.createTenant(name: name, settings: settings, actor: context.principal?.actor ?? "operator")
        try await gateway.reloadCatalog()
        return .json(tenantJSON(tenant), status: .created)
    }

    @Sendable func listTenants(_ request: Request, context: TrellisRequestContext) async throws -> Response {
        let snapshot = gateway.snapshot
        let tenants: [Tenant]
        if let key = try requireManageKey(context) {
            tenants = snapshot.tenants[key.tenantID].map { [$0] } ?? []
        } else {
            tenants = snapshot.tenants.values.sorted { $0.name < $1.name }
        }
        return .json(["object": "list", "data": .array(tenants.map(tenantJSON))])
    }

    @Sendable func getTenant(_ request: Request, context: TrellisRequestContext) async throws -> Response {
        let tenant = try managedTenant(named: context.parameters.decoded("tenant"), context)
        return .json(tenantJSON(tenant))
    }

    /// `PATCH /tenants/{tenant}`: limits, monthly quota and capture; fields left out keep their values, null
    /// clears one. Operator only: a tenant does not set its own limits.
    @Sendable func updateTenant(_ request: Request, context: TrellisRequestContext) async throws -> Response {
        try requireOperator(context)
        let tenant = try managedTenant(named: context.parameters.decoded("tenant"), context)
        var request = request
        let body = try BodyReader(try await request.jsonBody(limit: 64 * 1024), allowed: TenantSettings.fields)
        let settings = try TenantSettings.parse(body.object, base: tenant.settings)
        let updated = try await gateway.store.setTenantSettings(id: tenant.id, settings: settings, actor: context.principal?.actor ?? "operator")
        try await gateway.reloadCatalog()
        return .json(tenantJSON(updated))
    }

    // MARK: Upstreams

    func upstreamJSON(_ u: Upstream) -> JSONValue {
        let keyPresent: JSONValue
        switch gateway.credential(for: u) {
        case .none: keyPresent = .null
        case .key: keyPresent = true
        case .missing: keyPresent = false
        }
        return [
            "id": .string(u.id), "object": "upstream", "name": .string(u.name), "base_url": .string(u.baseURL), "kind": .string(u.kind.rawValue),
            "labels": .array(u.labels.map(\.rawValue).sorted().map { .string($0) }), "api_key_env": .optionalString(u.apiKeyEnv),
            "api_key_present": keyPresent,
            "timeouts": [
                "connect_ms": .int(u.timeouts.connectMs), "first_byte_ms": .int(u.timeouts.firstByteMs), "idle_ms": .int(u.timeouts.idleMs),
                "total_ms": .int(u.timeouts.totalMs),
            ],
            "created_at": .time(u.createdAt), "health": gateway.health.json(u.name), "pricing": u.pricing?.json ?? .null,
        ]
    }

    @Sendable func createUpstream(_ request: Request, context: TrellisRequestContext) async throws -> Response {
        try requireOperator(context)
        var request = request
        let body = try BodyReader(
            try await request.jsonBody(limit: 64 * 1024), allowed: Self.upstreamFields)
        let new = try Self.parseUpstream(body)
        try await EgressCache.checkRegistration(baseURL: new.baseURL, policy: gateway.config.egress)
        let upstream = try await gateway.store.createUpstream(new, actor: context.principal?.actor ?? "operator")
        try await gateway.reloadCatalog()
        return .json(upstreamJSON(upstream), status: .created)
    }

    static let upstreamFields = ["name", "base_url", "kind", "labels", "api_key_env", "timeouts", "pricing"]

    /// Reads an upstream registration (the API's body or a catalog entry).
    static func parseUpstream(_ body: BodyReader) throws -> NewUpstream {
        let name = try body.requiredString("name", maxBytes: 128)
        guard Names.isValidObject(name) else { throw TrellisError.invalidField("name", "must be \(Names.objectRule)") }
        let baseURL = try UpstreamURL.validate(try body.requiredString("base_url", maxBytes: 2048))
        let kindText = try body.string("kind", maxBytes: 32) ?? "openai"
        guard let kind = UpstreamKind(rawValue: kindText) else {
            throw TrellisError.invalidField("kind", "must be one of openai, vllm, llamacpp, ollama")
        }
        var labels: Set<UpstreamLabel> = []
        for (i, l) in (try body.strings("labels", maxCount: 4, maxBytes: 32) ?? []).enumerated() {
            guard let label = UpstreamLabel(rawValue: l) else { throw TrellisError.invalidField("labels[\(i)]", "must be 'private' or 'external'") }
            labels.insert(label)
        }
        if labels.contains(.private) && labels.contains(.external) {
            throw TrellisError.invalidField("labels", "cannot be both private and external")
        }
        if labels.isEmpty { labels = [.private] }
        let apiKeyEnv = try body.string("api_key_env", maxBytes: 128)
        if let env = apiKeyEnv, !Self.isEnvironmentName(env) {
            throw TrellisError.invalidField("api_key_env", "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*); put the key itself in that variable")
        }
        var timeouts = UpstreamTimeouts.default
        if let t = try body.object("timeouts") {
            let reader = try BodyReader(.object(t), allowed: ["connect_ms", "first_byte_ms", "idle_ms", "total_ms"], path: "timeouts")
            func ms(_ key: String) throws -> Int? {
                do { return try reader.int(key, in: 1...86_400_000) } catch {
                    throw TrellisError.invalidField("timeouts.\(key)", "must be an integer from 1 to 86400000")
                }
            }
            timeouts.connectMs = try ms("connect_ms") ?? timeouts.connectMs
            timeouts.firstByteMs = try ms("first_byte_ms") ?? timeouts.firstByteMs
            timeouts.idleMs = try ms("idle_ms") ?? timeouts.idleMs
            timeouts.totalMs = try ms("total_ms") ?? timeouts.totalMs
        }
        var pricing: Pricing?
        if let p = body.value("pricing") { pricing = try Pricing.parse(p) }
        return NewUpstream(name: name, baseURL: baseURL, kind: kind, labels: labels, apiKeyEnv: apiKeyEnv, timeouts: timeouts, pricing: pricing)
    }

    static func isEnvironmentName(_ s: String) -> Bool {
        guard let first = s.utf8.first, first == 0x5F || (first >= 0x41 && first <= 0x5A) || (first >= 0x61 && first <= 0x7A) else { return false }
        return s.utf8.allSatisfy { $0 == 0x5F || ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }
    }

    @Sendable func listUpstreams(_ request: Request, context: TrellisRequestContext) async throws -> Response {
        try requireOperator(context)
        let upstreams = gateway.snapshot.upstreams.values.sorted { $0.name < $1.name }
        return .json(["object": "list", "data": .array(upstreams.map(upstreamJSON))])
    }

    @Sendable func getUpstream(_ request: Request, context: TrellisRequestContext) async throws -> Response {
        try requireOperator(context)
        let name = context.parameters.decoded("name")
        guard let upstream = gateway.snapshot.upstreams[name] else { throw TrellisError.notFound("The upstream '\(name.prefix(64))'") }
        return .json(upstreamJSON(upstream))
    }

    // MARK: Models

    func modelJSON(_ m: IndustryModel, snapshot: CatalogSnapshot) -> JSONValue {
        var traffic = JSONObject()
        for (version, weight) in m.traffic.sorted(by: { $0.key < $1.key }) { traffic.appendUnchecked(String(version), .int(weight)) }
        return [
            "id": .string(m.id), "object": "model", "name": .string(m.name),
            "tenant": .optionalString(m.tenantID.flatMap { snapshot.tenants[$0]?.name }),
            "description": .optionalString(m.description), "created_at": .time(m.createdAt),
            "latest_version": .int(m.latestVersion),
            "versions": .array(
                m.versions.map {
                    [
                        "version": .int($0.version), "spec": $0.spec.json, "resolved": resolvedJSON($0.spec, model: m, snapshot: snapshot),
                        "created_at": .time($0.createdAt),
                    ]
                }),
            "traffic": .object(traffic),
        ]
    }

    /// Finds the model a caller names, following the contract's namespace rules.
    func resolveModel(_ name: String, request: Request, context: TrellisRequestContext, forWriting: Bool) throws -> IndustryModel {
        let snapshot = gateway.snapshot
        switch context.principal {
        case .operator?:
            if let tenantName = request.uri.queryParameters.get("tenant") {
                guard let tenant = snapshot.tenant(named: tenantName), let m = snapshot.tenantModel(named: name, tenantID: tenant.id) else {
                    throw TrellisError.notFound("The model '\(name.prefix(128))'")
                }
                return m
            }
            if let shared = snapshot.sharedModel(named: name) { return shared }
            let owners = snapshot.tenantsOwningModel(named: name)
            if owners.count == 1, let m = snapshot.tenantModel(named: name, tenantID: owners[0]) { return m }
            if owners.count > 1 {
                throw TrellisError.conflict("Several tenants have a model named '\(name.prefix(128))'; add '?tenant=NAME'.")
            }
            throw TrellisError.notFound("The model '\(name.prefix(128))'")
        case .tenantKey(let key)?:
            guard key.scopes.contains(.manage) else { throw TrellisError.permissionDenied("This key does not have the 'manage' scope.") }
            if let own = snapshot.tenantModel(named: name, tenantID: key.tenantID) { return own }
            if let shared = snapshot.sharedModel(named: name) {
                if forWriting { throw TrellisError.permissionDenied("Shared models are managed by the operator.") }
                return shared
            }
            throw TrellisError.notFound("The model '\(name.prefix(128))'")
        case nil:
            throw TrellisError.missingKey
        }
    }

    /// Parses a spec and checks what it refers to, in the namespace of the model's tenant (nil: shared).
    func validateSpec(_ value: JSONValue, tenantID: String?) throws -> ModelSpec {
        try Self.validateSpec(value, tenantID: tenantID, snapshot: gateway.snapshot)
    }

    static func validateSpec(_ value: JSONValue, tenantID: String?, snapshot: CatalogSnapshot) throws -> ModelSpec {
        let spec = try ModelSpec.parse(value)
        for (i, target) in (spec.deployments + spec.fallbacks).enumerated() where snapshot.upstreams[target.upstream] == nil {
            let param =
                spec.json["upstream"] != nil && i == 0
                ? "spec.upstream" : (i < spec.deployments.count ? "spec.deployments[\(i)].upstream" : "spec.fallbacks[\(i - spec.deployments.count)].upstream")
            throw TrellisError.invalidRequest("'\(target.upstream.prefix(128))' is not a registered upstream.", param: param, code: "invalid_value")
        }
        // A tenant's fine-tuned weights are reached through its own adapters only: another tenant's served
        // model does not exist for this spec, and no params may pick an adapter on the side.
        for target in spec.deployments + spec.fallbacks
        where snapshot.servedModelBelongsToAnotherTenant(target.model, upstream: target.upstream, tenantID: tenantID)
            || snapshot.isReservedServedName(target.model, upstream: target.upstream, tenantID: tenantID)
        {
            throw TrellisError.notFound("The model '\(target.model.prefix(128))' on upstream '\(target.upstream.prefix(128))'")
        }
        if let field = spec.params.first(where: { ChatPlanner.adapterSelectingFields.contains($0.key) })?.key {
            throw TrellisError.invalidRequest(
                "'spec.params.\(field)' would pick an adapter on the model server; register the adapter and name it with 'spec.adapter'.",
                param: "spec.params.\(field)", code: "invalid_value")
        }
        if let name = spec.adapter, snapshot.adapter(named: name, tenantID: tenantID) == nil {
            throw TrellisError.invalidRequest("'\(name.prefix(128))' is not a registered adapter.", param: "spec.adapter", code: "invalid_value")
        }
        if let knowledge = spec.knowledge {
            guard let tenantID else {
                throw TrellisError.invalidRequest(
                    "Knowledge bases belong to a tenant: a model that uses them must belong to that tenant too.", param: "spec.knowledge", code: "invalid_value"
                )
            }
            for (i, name) in knowledge.bases.enumerated() where snapshot.knowledgeBase(named: name, tenantID: tenantID) == nil {
                throw TrellisError.invalidRequest(
                    "'\(name.prefix(128))' is not one of this tenant's knowledge bases.", param: "spec.knowledge.bases[\(i)]", code: "invalid_value")
            }
        }
        if case .named(let name, let version, let label)? = spec.prompt {
            guard let prompt = snapshot.prompt(named: name, tenantID: tenantID) else {
                throw TrellisError.invalidRequest("'\(name.prefix(128))' is not a prompt in the library.", param: "spec.prompt.name", code: "invalid_value")
            }
            if let version, prompt.version(version) == nil {
                throw TrellisError.invalidRequest("The prompt '\(name)' has no version \(version).", param: "spec.prompt.version", code: "invalid_value")
            }
            if let label, prompt.labels[label] == nil {
                throw TrellisError.invalidRequest("The prompt '\(name)' has no label '\(label.prefix(64))'.", param: "spec.prompt.label", code: "invalid_value")
            }
        }
        return spec
    }

    @Sendable func createModel(_ request: Request, context: TrellisRequestContext) async throws -> Response {
        let caller = try requireManageKey(context)
        var request = request
        let body = try BodyReader(try await request.jsonBody(limit: 1 << 20), allowed: ["name", "tenant", "description", "spec"])
        let name = try body.requiredString("name", maxBytes: 128)
        guard Names.isValidObject(name) else { throw TrellisError.invalidField("name", "must be \(Names.objectRule)") }
        let description = try body.string("description", maxBytes: 4096)
        var tenant: Tenant?
        if let tenantName = try body.string("tenant", maxBytes: 63) {
            tenant = try managedTenant(named: tenantName, context)
        } else if let caller {
            tenant = gateway.snapshot.tenants[caller.tenantID]
        }
        guard let specValue = body.value("spec") else { throw TrellisError.missingField("spec") }
        let spec = try validateSpec(specValue, tenantID: tenant?.id)
        let model = try await gateway.store.createModel(
            name: name, tenantID: tenant?.id, description: description, spec: spec.json, actor: context.principal?.actor ?? "operator")
        try await gateway.reloadCatalog()
        guard case .object(var json) = modelJSON(model, snapshot: gateway.snapshot) else { throw TrellisError.internalError }
        json["version"] = 1
        return .json(.object(json), status: .created)
    }

    @Sendable func listModels(_ request: Request, context: TrellisRequestContext) async throws -> Response {
        let caller = try requireManageKey(context)
        let snapshot = gateway.snapshot
        var models: [IndustryModel]
        if let caller {
            models = snapshot.visibleModels(tenantID: caller.tenantID)
        } else if let tenantName = request.uri.queryParameters.get("tenant") {
            guard let tenant = snapshot.tenant(named: tenantName) else { throw TrellisError.notFound("The tenant '\(tenantName.prefix(64))'") }
            models = snapshot.allModels.filter { $0.tenantID == tenant.id }
        } else {
            models = snapshot.allModels
        }
        models.sort { ($0.name, $0.tenantID ?? "") < ($1.name, $1.tenantID ?? "") }
        return .json(["object": "list", "data": .array(models.map { modelJSON($0, snapshot: snapshot) })])
    }

    @Sendable func getModel(_ request: Request, context: TrellisRequestContext) async throws -> Response {
        let model = try resolveModel(context.parameters.decoded("name"), request: request, context: context, forWriting: false)
        return .json(modelJSON(model, snapshot: gateway.snapshot))
    }

    @Sendable func addVersion(_ request: Request, context: TrellisRequestContext) async throws -> Response {
        let model = try resolveModel(context.parameters.decoded("name"), request: request, context: context, forWriting: true)
        var request = request
        let body = try BodyReader(try await request.jsonBody(limit: 1 << 20), allowed: ["spec"])
        guard let specValue = body.value("spec") else { throw TrellisError.missingField("spec") }
        let spec = try validateSpec(specValue, tenantID: model.tenantID)
        let version = try await gateway.store.addModelVersion(modelID: model.id, spec: spec.json, actor: context.principal?.actor ?? "operator")
        try await gateway.reloadCatalog()
        let snapshot = gateway.snapshot
        let updated = snapshot.allModels.first { $0.id == model.id }
        return .json(
            [
                "object": "model_version", "name": .string(model.name), "version": .int(version), "spec": spec.json,
                "traffic": updated.map { modelJSON($0, snapshot: snapshot)["traffic"] ?? .null } ?? .null,
            ], status: .created)
    }

    @Sendable func setTraffic(_ request: Request, context: TrellisRequestContext) async throws -> Response {
        let model = try resolveModel(context.parameters.decoded("name"), request: request, context: context, forWriting: true)
        var request = request
        let value = try await request.jsonBody(limit: 64 * 1024)
        guard case .object(let object) = value, !object.isEmpty else {
            throw TrellisError.invalidRequest("Send the weights as an object of version → weight, e.g. {\"1\": 90, \"2\": 10}.")
        }
        var traffic: [Int: Int] = [:]
        for member in object {
            guard let version = Int(member.key), model.version(version) != nil else {
                throw TrellisError.invalidRequest("Version '\(member.key.prefix(16))' does not exist for this model.", param: member.key, code: "invalid_value")
            }
            guard let weight = member.value.numberValue?.intValue, weight >= 0, weight <= 1_000_000 else {
                throw TrellisError.invalidField(member.key, "must be a weight from 0 to 1000000")
            }
            traffic[version] = weight
        }
        guard traffic.values.reduce(0, +) > 0 else { throw TrellisError.invalidRequest("At least one version needs a positive weight.") }
        try await gateway.store.setTraffic(modelID: model.id, traffic: traffic, actor: context.principal?.actor ?? "operator")
        try await gateway.reloadCatalog()
        guard let updated = gateway.snapshot.allModels.first(where: { $0.id == model.id }) else { throw TrellisError.internalError }
        return .json(modelJSON(updated, snapshot: gateway.snapshot))
    }

    // MARK: Audit

    @Sendable func listAudit(_ request: Request, context: TrellisRequestContext) async throws -> Response {
        let caller = try requireManageKey(context)
        let query = request.uri.queryParameters
        var limit = 100
        if let text = query.get("limit") {
            guard let n = Int(text), (1...1000).contains(n) else { throw TrellisError.invalidField("limit", "must be an integer from 1 to 1000") }
            limit = n
        }
        var before: Int64?
        if let text = query.get("before") {
            guard let n = Int64(text), n > 0 else { throw TrellisError.invalidField("before", "must be a positive audit entry id") }
            before = n
        }
        var tenantID = caller?.tenantID
        if caller == nil, let tenantName = query.get("tenant") {
            guard let tenant = gateway.snapshot.tenant(named: tenantName) else { throw TrellisError.notFound("The tenant '\(tenantName.prefix(64))'") }
            tenantID = tenant.id
        }
        var filter = SQLiteStore.AuditFilter()
        filter.action = query.get("action").map { String($0) }
        filter.actor = query.get("actor").map { String($0) }
        filter.target = query.get("target").map { String($0) }
        if let from = query.get("from") {
            guard let date = Timestamps.parse(.string(String(from))) else { throw TrellisError.invalidField("from", "must be an RFC 3339 time") }
            filter.from = date
        }
        if let to = query.get("to") {
            guard let date = Timestamps.parse(.string(String(to))) else { throw TrellisError.invalidField("to", "must be an RFC 3339 time") }
            filter.to = date
        }
        let entries = try await gateway.store.auditEntries(tenantID: tenantID, limit: limit + 1, beforeID: before, filter: filter)
        let page = entries.prefix(limit)
        let snapshot = gateway.snapshot
        let data: [JSONValue] = page.map { e in
            [
                "id": .int(Int(e.id)), "at": .time(e.at), "actor": .string(e.actor),
                "tenant": .optionalString(e.tenantID.flatMap { snapshot.tenants[$0]?.name }), "action": .string(e.action),
                "target": .string(e.target), "detail": e.detail.flatMap { try? JSONParser.parse($0) } ?? .null,
            ]
        }
        return .json(["object": "list", "data": .array(data), "has_more": .bool(entries.count > limit)])
    }
}

enum UpstreamURL {
    /// An upstream base URL: http or https, a host, no credentials, query or fragment; trailing slashes dropped.
    static func validate(_ text: String) throws -> String {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else {
            throw TrellisError.invalidField("base_url", "must be an http or https URL with a host, such as http://10.0.0.5:8000/v1")
        }
        if components.user != nil || components.password != nil {
            throw TrellisError.invalidField("base_url", "must not contain credentials; name an environment variable in 'api_key_env'")
        }
        if components.query != nil || components.fragment != nil {
            throw TrellisError.invalidField("base_url", "must not have a query or fragment")
        }
        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}
