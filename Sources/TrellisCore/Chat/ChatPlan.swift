import OpenAIWire

/// Everything needed to dispatch one chat request: which model version serves it, where it may be sent (in
/// order of preference), and the body to send.
public struct ChatPlan: Sendable {
    public var modelName: String
    public var model: IndustryModel
    public var version: Int
    public var spec: ModelSpec
    /// Deployments in weighted-random order, then fallbacks, tried in this order.
    public var targets: [ModelSpec.Target]
    /// The body to send, without `model` (set per target).
    public var body: JSONObject
    public var stream: Bool
    public var clientWantsUsage: Bool
    public var user: String?
    /// The library prompt applied, when there is one.
    public var promptName: String?
    public var promptVersion: Int?
    /// Set when a router model chose the model version that serves the request: `modelName` and `version` are
    /// then the router's, and `model`, `spec` and `targets` the child's.
    public var route: RoutedPlan?

    /// The bytes for one target. Streams always ask for usage; the relay strips it when the client did not.
    public func upstreamBody(for target: ModelSpec.Target) -> [UInt8] {
        var body = self.body
        body[ChatField.model] = .string(target.model)
        for member in target.extraBody { body[member.key] = member.value }
        if stream {
            var options = body[ChatField.streamOptions]?.objectValue ?? JSONObject()
            options[ChatField.includeUsage] = .bool(true)
            body[ChatField.streamOptions] = .object(options)
        }
        var writer = JSONWriter(reservingCapacity: 512)
        writer.write(.object(body))
        return writer.bytes
    }
}

/// Turns a parsed request into a plan, for one tenant key and one catalog snapshot. Pure: no I/O.
public enum ChatPlanner {
    public static func plan(
        _ request: ChatRequest, key: TenantKey, snapshot: CatalogSnapshot,
        random: inout some RandomNumberGenerator
    ) throws(TrellisError) -> ChatPlan {
        let (model, version) = try resolve(request.modelReference, key: key, snapshot: snapshot, stickyKey: request.user ?? key.id)
        if let router = version.spec.router {
            let child = router.choose(RouterFacts(messages: request.messages, tools: request.body[ChatField.tools]))
            return try routed(
                request, to: child, router: RouterChoice(model: model, version: version, spec: router), stickyKey: request.user ?? key.id,
                snapshot: snapshot, random: &random)
        }
        return try serve(request, model: model, version: version, snapshot: snapshot, random: &random)
    }

    /// The plan for one model version that serves requests itself (not a router): its prompt, params, adapter and
    /// targets.
    public static func serve(
        _ request: ChatRequest, model: IndustryModel, version: ModelVersion, snapshot: CatalogSnapshot,
        random: inout some RandomNumberGenerator
    ) throws(TrellisError) -> ChatPlan {
        var body = request.body
        var promptName: String?
        var promptVersion: Int?
        if let (definition, name, number) = try resolvePrompt(version.spec.prompt, model: model, snapshot: snapshot) {
            body[ChatField.messages] = .array(try definition.apply(to: request.messages, variables: request.variables))
            promptName = name
            promptVersion = number
        } else if let name = request.variables.keys.sorted().first {
            throw .invalidRequest(
                "Unknown variable '\(name.prefix(64))'; this model has no prompt template, so it takes no variables.",
                param: "variables.\(name.prefix(64))", code: "unknown_variable")
        }
        applyParams(version.spec.params, to: &body)
        // After the spec's params too: an adapter is chosen by the model's registration alone.
        body = removingAdapterSelectors(body)
        let adapter = try resolveAdapter(version.spec, model: model, snapshot: snapshot)
        return ChatPlan(
            modelName: model.name, model: model, version: version.version, spec: version.spec,
            targets: orderTargets(version.spec, adapter: adapter, random: &random), body: body, stream: request.stream,
            clientWantsUsage: request.clientWantsUsage, user: request.user, promptName: promptName, promptVersion: promptVersion)
    }

    /// The prompt a model version uses, resolved in the model's namespace (a tenant's model sees its tenant's
    /// prompts, then shared ones; a shared model sees shared ones only): a pinned version, the version a
    /// label points at now, or the latest.
    public static func resolvePrompt(
        _ ref: ModelSpec.PromptRef?, model: IndustryModel, snapshot: CatalogSnapshot
    ) throws(TrellisError) -> (PromptDefinition, String?, Int?)? {
        switch ref {
        case nil:
            return nil
        case .inline(let definition)?:
            return (definition, nil, nil)
        case .named(let name, let version, let label)?:
            guard let prompt = snapshot.prompt(named: name, tenantID: model.tenantID) else { throw misconfigured(model, "its prompt '\(name)' is missing") }
            let number: Int?
            if let version {
                number = version
            } else if let label {
                number = prompt.labels[label]
            } else {
                number = prompt.latest?.version
            }
            guard let number, let v = prompt.version(number) else { throw misconfigured(model, "its prompt '\(name)' has no such version or label") }
            return (v.definition, name, number)
        }
    }

    /// The adapter a spec names, in the model's namespace.
    public static func resolveAdapter(_ spec: ModelSpec, model: IndustryModel, snapshot: CatalogSnapshot) throws(TrellisError) -> Adapter? {
        guard let name = spec.adapter else { return nil }
        guard let adapter = snapshot.adapter(named: name, tenantID: model.tenantID) else { throw misconfigured(model, "its adapter '\(name)' is missing") }
        return adapter
    }

    static func misconfigured(_ model: IndustryModel, _ detail: String) -> TrellisError {
        TrellisError(status: 500, type: "server_error", code: "model_misconfigured", message: "The model '\(model.name)' cannot be served: \(detail).")
    }

    /// Where an adapter is called, and what the request carries for it.
    public static func target(for adapter: Adapter) -> ModelSpec.Target {
        switch adapter.serving {
        case .servedModel(let served):
            return ModelSpec.Target(upstream: adapter.upstream, model: served)
        case .loraID(let id, let scale):
            let lora: JSONValue = [["id": .int(id), "scale": .double(scale)]]
            return ModelSpec.Target(upstream: adapter.upstream, model: adapter.baseModel, extraBody: ["lora": lora])
        case .path(let path):
            // Served under a name namespaced by its owner and path, never the bare name another tenant may share.
            let served = Adapter.loadedName(tenantID: adapter.tenantID, name: adapter.name, path: path)
            return ModelSpec.Target(upstream: adapter.upstream, model: served, loadAdapter: ModelSpec.AdapterLoad(name: served, path: path))
        }
    }

    /// `name` or `name@version`, as the key's tenant sees it. A model that exists but is hidden from this key
    /// fails exactly like one that does not exist.
    public static func resolve(
        _ reference: String, key: TenantKey, snapshot: CatalogSnapshot, stickyKey: String
    ) throws(TrellisError) -> (IndustryModel, ModelVersion) {
        let (name, pinned) = VersionSelector.parseReference(reference)
        guard key.models.allows(name), let model = snapshot.model(named: name, tenantID: key.tenantID) else {
            throw .modelNotFound(reference)
        }
        if let pinned {
            guard let v = model.version(pinned) else { throw .modelNotFound(reference) }
            return (model, v)
        }
        guard let v = VersionSelector.select(model, stickyKey: stickyKey) else { throw .modelNotFound(reference) }
        return (model, v)
    }

    /// Spec params fill what the caller left out; a spec's `max_tokens` is also a ceiling on the caller's
    /// `max_tokens` and `max_completion_tokens`.
    public static func applyParams(_ params: JSONObject, to body: inout JSONObject) {
        // `max_tokens` and `max_completion_tokens` are one limit under two names: a caller who gave either has
        // not left the limit out, so neither default is added (upstreams prefer `max_completion_tokens`, which
        // would otherwise override the caller's own `max_tokens`).
        let callerGaveLimit =
            body[ChatField.maxTokens].map({ !$0.isNull }) == true || body[ChatField.maxCompletionTokens].map({ !$0.isNull }) == true
        for member in params where body[member.key] == nil || body[member.key]?.isNull == true {
            if member.key == ChatField.maxTokens || member.key == ChatField.maxCompletionTokens, callerGaveLimit {
                continue
            }
            body[member.key] = member.value
        }
        let ceiling = params[ChatField.maxTokens]?.numberValue?.intValue ?? params[ChatField.maxCompletionTokens]?.numberValue?.intValue
        if let ceiling {
            for key in [ChatField.maxTokens, ChatField.maxCompletionTokens] {
                if let asked = body[key]?.numberValue?.intValue, asked > ceiling {
                    body[key] = .int(ceiling)
                }
            }
        }
    }

    /// Deployments in a weighted random order (a weight of 0 keeps a deployment for last), or the adapter's
    /// serving, then fallbacks.
    public static func orderTargets(
        _ spec: ModelSpec, adapter: Adapter? = nil, random: inout some RandomNumberGenerator
    ) -> [ModelSpec.Target] {
        var pool = adapter.map { [target(for: $0)] } ?? spec.deployments
        var ordered: [ModelSpec.Target] = []
        ordered.reserveCapacity(pool.count + spec.fallbacks.count)
        while !pool.isEmpty {
            // The last one left needs no draw, nor does a model with one deployment (with the system's generator,
            // which the gateway passes, each draw is a system call).
            if pool.count == 1 {
                ordered.append(pool.removeLast())
                break
            }
            let total = pool.reduce(0) { $0 + $1.weight }
            if total == 0 {
                ordered.append(contentsOf: pool)
                break
            }
            var point = Int.random(in: 0..<total, using: &random)
            var chosen = pool.count - 1
            for (i, t) in pool.enumerated() {
                if point < t.weight {
                    chosen = i
                    break
                }
                point -= t.weight
            }
            ordered.append(pool.remove(at: chosen))
        }
        for f in spec.fallbacks where !ordered.contains(f) { ordered.append(f) }
        return ordered
    }
}
