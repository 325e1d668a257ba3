import Hummingbird
import OpenAIWire
import TrellisCore
import TrellisStore

/// Industry models and their versions under `/admin/v1`: the operator's shared models and each tenant's own.
/// A manage key creates and changes its tenant's models and reads shared ones; another tenant's answer 404.
struct ModelsController {
    let gateway: Gateway

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("models", use: createModel)
        group.get("models", use: listModels)
        group.get("models/{name}", use: getModel)
        group.post("models/{name}/versions", use: addVersion)
        group.put("models/{name}/traffic", use: setTraffic)
    }

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
    func resolveModel(_ name: String, request: Request, context: AuthenticatedContext, forWriting: Bool) throws -> IndustryModel {
        let snapshot = gateway.snapshot
        return try context.resolveNamed(
            name, kind: "model", in: snapshot, tenantQuery: request.uri.queryParameters.get("tenant"), forWriting: forWriting,
            shared: snapshot.sharedModel(named:), owned: snapshot.tenantModel(named:tenantID:), owners: snapshot.tenantsOwningModel(named:))
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
        if let router = spec.router { try validateChildren(router, tenantID: tenantID, snapshot: snapshot) }
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

    /// A router's children must be models of its namespace that serve requests themselves (a router of routers could
    /// loop), with the versions it pins.
    static func validateChildren(_ router: RouterSpec, tenantID: String?, snapshot: CatalogSnapshot) throws {
        for child in router.children {
            let (name, pinned) = VersionSelector.parseReference(child)
            let param =
                router.routes.firstIndex { $0.model == child }.map { "spec.router.routes[\($0)].model" }
                ?? (router.defaultModel == child ? "spec.router.default" : "spec.router.cascade.escalate_to")
            guard let model = snapshot.model(named: name, tenantID: tenantID) else {
                throw TrellisError.invalidRequest("'\(child.prefix(128))' is not a model this router can reach.", param: param, code: "invalid_value")
            }
            if let pinned, model.version(pinned) == nil {
                throw TrellisError.invalidRequest("The model '\(name)' has no version \(pinned).", param: param, code: "invalid_value")
            }
            if model.versions.contains(where: { $0.spec.router != nil }) {
                throw TrellisError.invalidRequest(
                    "'\(child.prefix(128))' is a router model; a router's children answer requests themselves.", param: param, code: "invalid_value")
            }
        }
    }

    @Sendable func createModel(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let caller = try context.manageKey()
        var request = request
        let body = try BodyReader(try await request.jsonBody(limit: 1 << 20), allowed: ["name", "tenant", "description", "spec"])
        let name = try body.requiredString("name", maxBytes: 128)
        guard Names.isValidObject(name) else { throw TrellisError.invalidField("name", "must be \(Names.objectRule)") }
        let description = try body.string("description", maxBytes: 4096)
        var tenant: Tenant?
        if let tenantName = try body.string("tenant", maxBytes: 63) {
            tenant = try context.managedTenant(named: tenantName, in: gateway.snapshot)
        } else if let caller {
            tenant = gateway.snapshot.tenants[caller.tenantID]
        }
        guard let specValue = body.value("spec") else { throw TrellisError.missingField("spec") }
        let spec = try validateSpec(specValue, tenantID: tenant?.id)
        let model = try await gateway.store.createModel(
            name: name, tenantID: tenant?.id, description: description, spec: spec.json, actor: context.actor)
        try await gateway.reloadCatalog()
        guard case .object(var json) = modelJSON(model, snapshot: gateway.snapshot) else { throw TrellisError.internalError }
        json["version"] = 1
        return .json(.object(json), status: .created)
    }

    @Sendable func listModels(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let caller = try context.manageKey()
        let snapshot = gateway.snapshot
        var models: [IndustryModel]
        if let caller {
            models = snapshot.visibleModels(tenantID: caller.tenantID)
        } else if let tenantName = request.uri.queryParameters.get("tenant") {
            let tenant = try context.managedTenant(named: tenantName, in: snapshot)
            models = snapshot.allModels.filter { $0.tenantID == tenant.id }
        } else {
            models = snapshot.allModels
        }
        models.sort { ($0.name, $0.tenantID ?? "") < ($1.name, $1.tenantID ?? "") }
        return .json(["object": "list", "data": .array(models.map { modelJSON($0, snapshot: snapshot) })])
    }

    @Sendable func getModel(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let model = try resolveModel(context.parameters.decoded("name"), request: request, context: context, forWriting: false)
        return .json(modelJSON(model, snapshot: gateway.snapshot))
    }

    @Sendable func addVersion(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let model = try resolveModel(context.parameters.decoded("name"), request: request, context: context, forWriting: true)
        var request = request
        let body = try BodyReader(try await request.jsonBody(limit: 1 << 20), allowed: ["spec"])
        guard let specValue = body.value("spec") else { throw TrellisError.missingField("spec") }
        let spec = try validateSpec(specValue, tenantID: model.tenantID)
        let version = try await gateway.store.addModelVersion(modelID: model.id, spec: spec.json, actor: context.actor)
        try await gateway.reloadCatalog()
        let snapshot = gateway.snapshot
        let updated = snapshot.allModels.first { $0.id == model.id }
        return .json(
            [
                "object": "model_version", "name": .string(model.name), "version": .int(version), "spec": spec.json,
                "traffic": updated.map { modelJSON($0, snapshot: snapshot)["traffic"] ?? .null } ?? .null,
            ], status: .created)
    }

    @Sendable func setTraffic(_ request: Request, context: AuthenticatedContext) async throws -> Response {
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
        try await EvaluationGuard(gateway: gateway).check(traffic, of: model)
        try await gateway.store.setTraffic(modelID: model.id, traffic: traffic, actor: context.actor)
        try await gateway.reloadCatalog()
        guard let updated = gateway.snapshot.allModels.first(where: { $0.id == model.id }) else { throw TrellisError.internalError }
        return .json(modelJSON(updated, snapshot: gateway.snapshot))
    }

    // MARK: What a version resolves to

    /// Where a version's requests go and with what: base or adapter, prompt version, parameters.
    func resolvedJSON(_ spec: ModelSpec, model: IndustryModel, snapshot: CatalogSnapshot) -> JSONValue {
        var out = JSONObject()
        if let router = spec.router {
            out["routes_to"] = .array(router.children.map { .string($0) })
            return .object(out)
        }
        if let name = spec.adapter {
            if let adapter = snapshot.adapter(named: name, tenantID: model.tenantID) {
                let target = ChatPlanner.target(for: adapter)
                out["adapter"] = ["name": .string(name), "base_model": .string(adapter.baseModel), "method": .string(adapter.method.rawValue)]
                out["targets"] = [["upstream": .string(target.upstream), "model": .string(target.model)]]
            } else {
                out["adapter"] = ["name": .string(name), "missing": true]
            }
        } else {
            out["targets"] = .array(spec.deployments.map { ["upstream": .string($0.upstream), "model": .string($0.model), "weight": .int($0.weight)] })
        }
        if !spec.fallbacks.isEmpty {
            out["fallbacks"] = .array(spec.fallbacks.map { ["upstream": .string($0.upstream), "model": .string($0.model)] })
        }
        switch spec.prompt {
        case nil:
            out["prompt"] = .null
        case .inline?:
            out["prompt"] = ["inline": true]
        case .named(let name, let version, let label)?:
            let prompt = snapshot.prompt(named: name, tenantID: model.tenantID)
            let current: Int? = version ?? (label != nil ? label.flatMap { prompt?.labels[$0] } : prompt?.latest?.version)
            var p: JSONObject = ["name": .string(name), "version": current.map { .int($0) } ?? .null]
            if prompt == nil || current.flatMap({ prompt?.version($0) }) == nil { p["missing"] = true }
            if let label { p["label"] = .string(label) }
            if version == nil && label == nil { p["follows"] = "latest" }
            out["prompt"] = .object(p)
        }
        out["params"] = .object(spec.params)
        return .object(out)
    }
}
