import Foundation
import HTTPTypes
import Hummingbird
import OpenAIWire
import TrellisCore
import TrellisStore

/// The library under `/admin/v1`: prompts (versioned, with labels) and adapters (fine-tuned weights on an
/// upstream). Shared ones are the operator's; a manage key writes its tenant's and reads shared ones.
struct LibraryController {
    let gateway: Gateway

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("prompts", use: createPrompt)
        group.get("prompts", use: listPrompts)
        group.get("prompts/{name}", use: getPrompt)
        group.put("prompts/{name}/labels", use: setPromptLabels)
        group.post("adapters", use: createAdapter)
        group.get("adapters", use: listAdapters)
        group.get("adapters/{name}", use: getAdapter)
    }

    func tenantName(_ id: String?) -> JSONValue {
        .optionalString(id.flatMap { gateway.snapshot.tenants[$0]?.name })
    }

    // MARK: Prompts

    func promptJSON(_ p: Prompt) -> JSONValue {
        var labels = JSONObject()
        for (label, version) in p.labels.sorted(by: { $0.key < $1.key }) { labels.appendUnchecked(label, .int(version)) }
        return [
            "id": .string(p.id), "object": "prompt", "name": .string(p.name), "tenant": tenantName(p.tenantID),
            "description": .optionalString(p.description), "created_at": .time(p.createdAt), "latest_version": .int(p.latest?.version ?? 0),
            "labels": .object(labels),
            "versions": .array(
                p.versions.map { v in
                    [
                        "version": .int(v.version), "messages": v.definition.json["messages"] ?? .null,
                        "variables": v.definition.json["variables"] ?? .object(JSONObject()), "created_at": .time(v.createdAt),
                    ]
                }),
        ]
    }

    struct PromptInput {
        var name: String
        var description: String?
        var definition: PromptDefinition
        var labels: [String]
    }

    static func parsePrompt(_ body: BodyReader) throws -> PromptInput {
        let name = try body.requiredString("name", maxBytes: 128)
        guard Names.isValidObject(name) else { throw TrellisError.invalidField("name", "must be \(Names.objectRule)") }
        let definition = try PromptDefinition.parse(messages: body.value("messages"), variables: body.value("variables"))
        let labels = try body.strings("labels", maxCount: 16, maxBytes: 64) ?? []
        for (i, label) in labels.enumerated() where !Prompt.isValidLabel(label) {
            throw TrellisError.invalidField("labels[\(i)]", "must be letters, digits, '-', '_' or '.', and not a number")
        }
        return PromptInput(name: name, description: try body.string("description", maxBytes: 4096), definition: definition, labels: labels)
    }

    @Sendable func createPrompt(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var request = request
        let body = try BodyReader(
            try await request.jsonBody(limit: 1 << 20), allowed: ["name", "tenant", "description", "messages", "variables", "labels"])
        let tenant = try context.owningTenant(body, in: gateway.snapshot)
        let input = try Self.parsePrompt(body)
        let write = try await gateway.store.writePrompt(
            name: input.name, tenantID: tenant?.id, description: input.description, definition: input.definition.json, labels: input.labels,
            actor: context.actor)
        try await gateway.reloadCatalog()
        guard case .object(var json) = promptJSON(write.prompt) else { throw TrellisError.internalError }
        json["version"] = .int(write.version)
        json["created"] = .bool(write.created)
        return .json(.object(json), status: write.created ? .created : .ok)
    }

    @Sendable func listPrompts(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let caller = try context.manageKey()
        let snapshot = gateway.snapshot
        var prompts = caller.map { snapshot.visiblePrompts(tenantID: $0.tenantID) } ?? snapshot.allPrompts
        if caller == nil, let tenantName = request.uri.queryParameters.get("tenant") {
            let tenant = try context.managedTenant(named: tenantName, in: snapshot)
            prompts = prompts.filter { $0.tenantID == tenant.id }
        }
        return .json(["object": "list", "data": .array(prompts.map(promptJSON))])
    }

    func resolvePromptNamed(_ request: Request, _ context: AuthenticatedContext, forWriting: Bool) throws -> Prompt {
        let snapshot = gateway.snapshot
        return try context.resolveNamed(
            context.parameters.decoded("name"), kind: "prompt", in: snapshot, tenantQuery: request.uri.queryParameters.get("tenant"),
            forWriting: forWriting,
            shared: snapshot.sharedPrompt(named:), owned: snapshot.tenantPrompt(named:tenantID:), owners: snapshot.tenantsOwningPrompt(named:))
    }

    @Sendable func getPrompt(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        .json(promptJSON(try resolvePromptNamed(request, context, forWriting: false)))
    }

    /// `PUT /prompts/{name}/labels` with `{"production": 3, "staging": null}`: moves or removes labels.
    @Sendable func setPromptLabels(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let prompt = try resolvePromptNamed(request, context, forWriting: true)
        var request = request
        guard case .object(let object) = try await request.jsonBody(limit: 64 * 1024), !object.isEmpty else {
            throw TrellisError.invalidRequest("Send the labels as an object of label → version, e.g. {\"production\": 3}; null removes a label.")
        }
        var labels: [String: Int?] = [:]
        for member in object {
            guard Prompt.isValidLabel(member.key) else {
                throw TrellisError.invalidField(String(member.key.prefix(64)), "is not a valid label (letters, digits, '-', '_', '.'; not a number)")
            }
            if member.value.isNull {
                labels[member.key] = .some(nil)
                continue
            }
            guard let v = member.value.numberValue?.intValue, prompt.version(v) != nil else {
                throw TrellisError.invalidRequest(
                    "Version '\(member.value.numberValue?.literal ?? "?")' does not exist for this prompt.", param: member.key, code: "invalid_value")
            }
            labels[member.key] = v
        }
        // A label a model follows cannot be removed from under it.
        for (label, version) in labels where version == nil {
            for model in gateway.snapshot.allModels {
                for v in model.versions {
                    if case .named(let name, nil, label?)? = v.spec.prompt, name == prompt.name,
                        gateway.snapshot.prompt(named: name, tenantID: model.tenantID)?.id == prompt.id
                    {
                        throw TrellisError.conflict(
                            "Model '\(model.name)' version \(v.version) follows the label '\(label)'; point it elsewhere instead of removing it.")
                    }
                }
            }
        }
        let updated = try await gateway.store.setPromptLabels(promptID: prompt.id, labels: labels, actor: context.actor)
        try await gateway.reloadCatalog()
        return .json(promptJSON(updated))
    }

    // MARK: Adapters

    func adapterJSON(_ a: Adapter) -> JSONValue {
        var serving: JSONObject = [:]
        switch a.serving {
        case .servedModel(let m): serving = ["mode": "served_model", "served_model": .string(m)]
        case .loraID(let id, let scale): serving = ["mode": "lora_id", "lora_id": .int(id), "lora_scale": .double(scale)]
        case .path(let path): serving = ["mode": "path", "path": .string(path)]
        }
        return [
            "id": .string(a.id), "object": "adapter", "name": .string(a.name), "tenant": tenantName(a.tenantID), "upstream": .string(a.upstream),
            "base_model": .string(a.baseModel), "serving": .object(serving), "method": .string(a.method.rawValue),
            "dataset": .optionalString(a.dataset), "evaluation": .optionalString(a.evaluation), "description": .optionalString(a.description),
            "created_at": .time(a.createdAt),
        ]
    }

    static let adapterFields = [
        "name", "tenant", "upstream", "base_model", "served_model", "lora_id", "lora_scale", "path", "method", "dataset", "evaluation", "description",
    ]

    /// Reads an adapter registration and checks it against the upstream it names.
    static func parseAdapter(_ body: BodyReader, tenantID: String?, snapshot: CatalogSnapshot) throws -> Adapter {
        let name = try body.requiredString("name", maxBytes: 128)
        guard Names.isValidObject(name) else { throw TrellisError.invalidField("name", "must be \(Names.objectRule)") }
        let upstreamName = try body.requiredString("upstream", maxBytes: 128)
        guard let upstream = snapshot.upstreams[upstreamName] else {
            throw TrellisError.invalidRequest("'\(upstreamName.prefix(128))' is not a registered upstream.", param: "upstream", code: "invalid_value")
        }
        let baseModel = try body.requiredString("base_model", maxBytes: 256)
        let served = try body.string("served_model", maxBytes: 256)
        let loraID = try body.int("lora_id", in: 0...1_000_000)
        let path = try body.string("path", maxBytes: 4096)
        let modes = [served != nil, loraID != nil, path != nil].filter { $0 }.count
        guard modes == 1 else {
            throw TrellisError.invalidRequest(
                "Say how the upstream serves the adapter with exactly one of 'served_model', 'lora_id' (llama.cpp) or 'path' (vLLM).",
                param: "served_model", code: "invalid_value")
        }
        let serving: AdapterServing
        if let served {
            guard !served.isEmpty else { throw TrellisError.invalidField("served_model", "must not be empty") }
            serving = .servedModel(served)
        } else if let loraID {
            guard upstream.kind == .llamacpp else {
                throw TrellisError.invalidRequest(
                    "'lora_id' needs an upstream of kind llamacpp (llama.cpp's server takes a per-request lora).", param: "lora_id", code: "invalid_value")
            }
            var scale = 1.0
            if let s = body.value("lora_scale") {
                guard let d = s.numberValue?.doubleValue, d.isFinite, d >= 0, d <= 10 else {
                    throw TrellisError.invalidField("lora_scale", "must be a number from 0 to 10")
                }
                scale = d
            }
            serving = .loraID(loraID, scale: scale)
        } else if let path {
            guard upstream.kind == .vllm else {
                throw TrellisError.invalidRequest(
                    "'path' needs an upstream of kind vllm (loaded with /v1/load_lora_adapter).", param: "path", code: "invalid_value")
            }
            guard !path.isEmpty else { throw TrellisError.invalidField("path", "must not be empty") }
            serving = .path(path)
        } else {
            throw TrellisError.internalError
        }
        if body.has("lora_scale"), loraID == nil { throw TrellisError.invalidField("lora_scale", "applies only with 'lora_id'") }
        // Another tenant's fine-tuned weights do not exist for this owner: not by served name, not by LoRA id.
        switch serving {
        case .servedModel(let m) where snapshot.servedModelBelongsToAnotherTenant(m, upstream: upstreamName, tenantID: tenantID):
            throw TrellisError.notFound("The served model '\(m.prefix(128))' on upstream '\(upstreamName.prefix(128))'")
        case .loraID(let id, _) where snapshot.loraIDBelongsToAnotherTenant(id, upstream: upstreamName, tenantID: tenantID):
            throw TrellisError.notFound("The LoRA id \(id) on upstream '\(upstreamName.prefix(128))'")
        case .servedModel(let m) where snapshot.isReservedServedName(m, upstream: upstreamName, tenantID: tenantID):
            throw TrellisError.notFound("The served model '\(m.prefix(128))' on upstream '\(upstreamName.prefix(128))'")
        case .path(let p) where snapshot.adapterPathBelongsToAnotherTenant(p, upstream: upstreamName, tenantID: tenantID):
            throw TrellisError.notFound("The adapter path '\(p.prefix(256))' on upstream '\(upstreamName.prefix(128))'")
        default:
            break
        }
        let methodText = try body.string("method", maxBytes: 16) ?? "lora"
        guard let method = AdapterMethod(rawValue: methodText) else { throw TrellisError.invalidField("method", "must be one of lora, qlora, adapter, full") }
        return Adapter(
            id: "", name: name, tenantID: tenantID, upstream: upstreamName, baseModel: baseModel, serving: serving, method: method,
            dataset: try body.string("dataset", maxBytes: 2048), evaluation: try body.string("evaluation", maxBytes: 8192),
            description: try body.string("description", maxBytes: 4096), createdAt: Date())
    }

    @Sendable func createAdapter(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var request = request
        let body = try BodyReader(try await request.jsonBody(limit: 64 * 1024), allowed: Self.adapterFields)
        let tenant = try context.owningTenant(body, in: gateway.snapshot)
        let adapter = try Self.parseAdapter(body, tenantID: tenant?.id, snapshot: gateway.snapshot)
        if case .path = adapter.serving, case .tenantKey = context.principal {
            // Loading makes the model server read a file of its own: that is the operator's decision.
            throw TrellisError.permissionDenied("Only the operator key may register adapters that a vLLM server loads from a path.")
        }
        let created = try await gateway.store.createAdapter(adapter, actor: context.actor)
        try await gateway.reloadCatalog()
        return .json(adapterJSON(created), status: .created)
    }

    @Sendable func listAdapters(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let caller = try context.manageKey()
        let snapshot = gateway.snapshot
        let adapters = caller.map { snapshot.visibleAdapters(tenantID: $0.tenantID) } ?? snapshot.allAdapters
        return .json(["object": "list", "data": .array(adapters.map(adapterJSON))])
    }

    @Sendable func getAdapter(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let snapshot = gateway.snapshot
        let adapter = try context.resolveNamed(
            context.parameters.decoded("name"), kind: "adapter", in: snapshot, tenantQuery: request.uri.queryParameters.get("tenant"),
            forWriting: false,
            shared: snapshot.sharedAdapter(named:), owned: snapshot.tenantAdapter(named:tenantID:), owners: snapshot.tenantsOwningAdapter(named:))
        return .json(adapterJSON(adapter))
    }
}
