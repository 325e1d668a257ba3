import OpenAIWire

/// What one version of an industry model is made of. Parsed strictly from the JSON an operator posts: unknown
/// fields are refused (a typo must not silently publish a different model), and the JSON as given is kept for
/// display.
public struct ModelSpec: Sendable, Equatable {
    /// One place the model is served: an upstream and the model name it knows, plus, for adapters, fields
    /// added to the request (llama.cpp's `lora`) or a vLLM adapter to load before use.
    public struct Target: Sendable, Equatable {
        public var upstream: String
        public var model: String
        public var weight: Int
        public var extraBody: JSONObject
        public var loadAdapter: AdapterLoad?

        public init(upstream: String, model: String, weight: Int = 1, extraBody: JSONObject = JSONObject(), loadAdapter: AdapterLoad? = nil) {
            self.upstream = upstream
            self.model = model
            self.weight = weight
            self.extraBody = extraBody
            self.loadAdapter = loadAdapter
        }
    }

    /// A vLLM LoRA adapter to load (`POST /v1/load_lora_adapter`) before the first call that uses it.
    public struct AdapterLoad: Sendable, Equatable, Hashable {
        public var name: String
        public var path: String

        public init(name: String, path: String) {
            self.name = name
            self.path = path
        }
    }

    /// Where the prompt comes from: the library (a pinned version, a label to follow, or the latest
    /// version), or written inline in the spec.
    public enum PromptRef: Sendable, Equatable {
        case named(name: String, version: Int?, label: String?)
        case inline(PromptDefinition)
    }

    /// Where requests go, chosen by weight. Empty when `adapter` names the serving instead.
    public var deployments: [Target]
    /// A registered adapter whose serving replaces `upstream`/`model`.
    public var adapter: String?
    public var prompt: PromptRef?
    /// Retrieval over the tenant's knowledge bases, injected as numbered context.
    public var knowledge: KnowledgeRef?
    /// Interaction capture for this model (overrides the tenant's setting).
    public var capture: CaptureSettings?
    /// A router model's rules: it has no serving of its own and sends each request to one of its children.
    public var router: RouterSpec?

    public struct KnowledgeRef: Sendable, Equatable {
        public var bases: [String]
        public var topK: Int
        public var mode: SearchMode
        /// Chunks scoring below this are left out (the scale depends on the mode: BM25 for keyword, cosine
        /// similarity for vector, reciprocal-rank fusion for hybrid).
        public var minScore: Double?
        /// The system message that carries the context; `{{context}}` marks where the passages go.
        public var template: String?

        public init(bases: [String], topK: Int = 4, mode: SearchMode = .hybrid, minScore: Double? = nil, template: String? = nil) {
            self.bases = bases
            self.topK = topK
            self.mode = mode
            self.minScore = minScore
            self.template = template
        }
    }
    /// Tried in order when every deployment has failed.
    public var fallbacks: [Target]
    /// Defaults for fields the caller leaves out; `max_tokens` is also a ceiling.
    public var params: JSONObject
    /// The spec as posted.
    public var json: JSONValue

    public static let paramsForbidden: Set<String> = ["model", "messages", "stream", "stream_options", "variables", "n"]

    public init(
        deployments: [Target], adapter: String? = nil, prompt: PromptRef? = nil, fallbacks: [Target] = [], params: JSONObject = JSONObject(),
        json: JSONValue
    ) {
        self.deployments = deployments
        self.adapter = adapter
        self.prompt = prompt
        self.fallbacks = fallbacks
        self.params = params
        self.json = json
    }

    /// The upstreams this spec names, for reference checks.
    public var upstreamNames: Set<String> {
        Set(deployments.map(\.upstream) + fallbacks.map(\.upstream))
    }

    public static let knownFields = [
        "upstream", "model", "deployments", "adapter", "prompt", "knowledge", "capture", "fallbacks", "params", "router",
    ]

    /// What a router's spec may have beside `router`: its children bring everything else.
    static let routerFields: Set<String> = ["router", "capture"]

    public static func parse(_ value: JSONValue) throws(TrellisError) -> ModelSpec {
        guard case .object(let object) = value else {
            throw .invalidField("spec", "must be an object")
        }
        for key in object.keys where !knownFields.contains(key) {
            throw .invalidRequest(
                "Unknown field 'spec.\(key.prefix(64))'; a spec has \(knownFields.joined(separator: ", ")).", param: "spec.\(key.prefix(64))",
                code: "unknown_parameter")
        }
        if let r = object["router"], !r.isNull {
            return try parseRouter(r, object: object, json: value)
        }
        let baseModel = try optionalString(object, "model", path: "spec.model")
        var deployments: [Target] = []
        if let upstream = try optionalString(object, "upstream", path: "spec.upstream") {
            guard let model = baseModel else { throw .missingField("spec.model") }
            deployments.append(Target(upstream: upstream, model: model))
        }
        if let list = object["deployments"] {
            if !deployments.isEmpty {
                throw .invalidRequest("Give either 'spec.upstream' or 'spec.deployments', not both.", param: "spec.deployments")
            }
            deployments = try parseTargets(list, path: "spec.deployments", defaultModel: baseModel, weighted: true)
            if deployments.isEmpty { throw .invalidField("spec.deployments", "must not be empty") }
        }
        let adapter = try optionalString(object, "adapter", path: "spec.adapter")
        if adapter != nil, !deployments.isEmpty || baseModel != nil {
            throw .invalidRequest(
                "'spec.adapter' names where the model is served; leave out 'upstream', 'model' and 'deployments'.", param: "spec.adapter")
        }
        if deployments.isEmpty && adapter == nil {
            throw .invalidRequest(
                "A spec needs 'upstream' and 'model' (or 'deployments', or 'adapter').", param: "spec.upstream", code: "missing_required_parameter")
        }
        var prompt: PromptRef?
        if let p = object["prompt"], !p.isNull {
            prompt = try parsePrompt(p)
        }
        var knowledge: KnowledgeRef?
        if let k = object["knowledge"], !k.isNull {
            knowledge = try parseKnowledge(k)
        }
        var fallbacks: [Target] = []
        if let list = object["fallbacks"] {
            fallbacks = try parseTargets(list, path: "spec.fallbacks", defaultModel: baseModel, weighted: false)
        }
        var params = JSONObject()
        if let p = object["params"] {
            guard case .object(let po) = p else { throw .invalidField("spec.params", "must be an object") }
            try validateParams(po)
            params = po
        }
        var spec = ModelSpec(deployments: deployments, adapter: adapter, prompt: prompt, fallbacks: fallbacks, params: params, json: value)
        spec.knowledge = knowledge
        if let c = object["capture"], !c.isNull {
            spec.capture = try CaptureSettings.parse(c, path: "spec.capture")
        }
        return spec
    }

    /// A router's spec: `router`, and `capture` for the interactions it answers.
    static func parseRouter(_ router: JSONValue, object: JSONObject, json: JSONValue) throws(TrellisError) -> ModelSpec {
        for key in object.keys where !routerFields.contains(key) {
            throw .invalidRequest(
                "A router model has no '\(key.prefix(64))' of its own: its children bring their serving, prompt and knowledge; give 'router' (and 'capture').",
                param: "spec.\(key.prefix(64))", code: "invalid_value")
        }
        var spec = ModelSpec(deployments: [], json: json)
        spec.router = try RouterSpec.parse(router)
        if let c = object["capture"], !c.isNull {
            spec.capture = try CaptureSettings.parse(c, path: "spec.capture")
        }
        return spec
    }

    static func parseKnowledge(_ value: JSONValue) throws(TrellisError) -> KnowledgeRef {
        guard case .object(let o) = value else { throw .invalidField("spec.knowledge", "must be an object: {\"bases\": [...], \"top_k\", \"mode\"}") }
        for key in o.keys where !["bases", "top_k", "mode", "min_score", "template"].contains(key) {
            throw .invalidRequest("Unknown field 'spec.knowledge.\(key.prefix(64))'.", param: "spec.knowledge.\(key.prefix(64))", code: "unknown_parameter")
        }
        guard case .array(let items)? = o["bases"], !items.isEmpty, items.count <= 16 else {
            throw .invalidField("spec.knowledge.bases", "must be an array of 1 to 16 knowledge base names")
        }
        var bases: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let name) = item, !name.isEmpty else { throw .invalidField("spec.knowledge.bases[\(i)]", "must be a name") }
            if !bases.contains(name) { bases.append(name) }
        }
        var ref = KnowledgeRef(bases: bases)
        if let k = o["top_k"], !k.isNull {
            guard let n = k.numberValue?.intValue, (1...50).contains(n) else { throw .invalidField("spec.knowledge.top_k", "must be an integer from 1 to 50") }
            ref.topK = n
        }
        if let m = o["mode"], !m.isNull {
            guard case .string(let text) = m, let mode = SearchMode(rawValue: text) else {
                throw .invalidField("spec.knowledge.mode", "must be keyword, vector or hybrid")
            }
            ref.mode = mode
        }
        if let m = o["min_score"], !m.isNull {
            guard let d = m.numberValue?.doubleValue, d.isFinite else { throw .invalidField("spec.knowledge.min_score", "must be a number") }
            ref.minScore = d
        }
        if let t = o["template"], !t.isNull {
            guard case .string(let text) = t, text.contains("{{context}}"), text.utf8.count <= 20_000 else {
                throw .invalidField("spec.knowledge.template", "must be a string containing {{context}}")
            }
            ref.template = text
        }
        return ref
    }

    static func parsePrompt(_ value: JSONValue) throws(TrellisError) -> PromptRef {
        guard case .object(let o) = value else {
            throw .invalidField("spec.prompt", "must be an object: {\"name\", \"version\" or \"label\"}, or {\"messages\", \"variables\"}")
        }
        if o["messages"] != nil {
            for key in o.keys where key != "messages" && key != "variables" {
                throw .invalidRequest(
                    "Unknown field 'spec.prompt.\(key.prefix(64))' in an inline prompt.", param: "spec.prompt.\(key.prefix(64))", code: "unknown_parameter")
            }
            return .inline(try PromptDefinition.parse(messages: o["messages"], variables: o["variables"], path: "spec.prompt"))
        }
        for key in o.keys where !["name", "version", "label"].contains(key) {
            throw .invalidRequest("Unknown field 'spec.prompt.\(key.prefix(64))'.", param: "spec.prompt.\(key.prefix(64))", code: "unknown_parameter")
        }
        guard let name = try optionalString(o, "name", path: "spec.prompt.name") else { throw .missingField("spec.prompt.name") }
        var version: Int?
        if let v = o["version"], !v.isNull {
            guard let n = v.numberValue?.intValue, n > 0 else { throw .invalidField("spec.prompt.version", "must be a positive integer") }
            version = n
        }
        let label = try optionalString(o, "label", path: "spec.prompt.label")
        if version != nil && label != nil {
            throw .invalidRequest("Give 'spec.prompt.version' or 'spec.prompt.label', not both.", param: "spec.prompt.label")
        }
        return .named(name: name, version: version, label: label)
    }

    static func optionalString(_ object: JSONObject, _ key: String, path: String) throws(TrellisError) -> String? {
        guard let v = object[key], !v.isNull else { return nil }
        guard case .string(let s) = v, !s.isEmpty else { throw .invalidField(path, "must be a non-empty string") }
        guard s.utf8.count <= 256 else { throw .invalidField(path, "must be at most 256 bytes") }
        return s
    }

    static func parseTargets(_ value: JSONValue, path: String, defaultModel: String?, weighted: Bool) throws(TrellisError) -> [Target] {
        guard case .array(let items) = value else { throw .invalidField(path, "must be an array") }
        guard items.count <= 32 else { throw .invalidField(path, "must have at most 32 entries") }
        var out: [Target] = []
        for (i, item) in items.enumerated() {
            let itemPath = "\(path)[\(i)]"
            guard case .object(let o) = item else { throw .invalidField(itemPath, "must be an object") }
            for key in o.keys where !["upstream", "model", "weight"].contains(key) || (!weighted && key == "weight") {
                throw .invalidRequest("Unknown field '\(itemPath).\(key.prefix(64))'.", param: "\(itemPath).\(key.prefix(64))", code: "unknown_parameter")
            }
            guard let upstream = try optionalString(o, "upstream", path: "\(itemPath).upstream") else {
                throw .missingField("\(itemPath).upstream")
            }
            guard let model = try optionalString(o, "model", path: "\(itemPath).model") ?? defaultModel else {
                throw .missingField("\(itemPath).model")
            }
            var weight = 1
            if let w = o["weight"] {
                guard let n = w.numberValue?.intValue, n >= 0, n <= 1_000_000 else {
                    throw .invalidField("\(itemPath).weight", "must be an integer from 0 to 1000000")
                }
                weight = n
            }
            out.append(Target(upstream: upstream, model: model, weight: weight))
        }
        return out
    }

    static func validateParams(_ params: JSONObject) throws(TrellisError) {
        for member in params {
            let path = "spec.params.\(member.key.prefix(64))"
            if paramsForbidden.contains(member.key) {
                throw .invalidRequest("'\(path)' cannot be set in a spec.", param: path)
            }
            switch member.key {
            case "max_tokens", "max_completion_tokens":
                guard let n = member.value.numberValue?.intValue, n > 0 else { throw .invalidField(path, "must be a positive integer") }
            case "temperature":
                guard let d = member.value.numberValue?.doubleValue, d >= 0, d <= 2 else { throw .invalidField(path, "must be a number from 0 to 2") }
            case "top_p":
                guard let d = member.value.numberValue?.doubleValue, d >= 0, d <= 1 else { throw .invalidField(path, "must be a number from 0 to 1") }
            default:
                break
            }
        }
    }
}
