import OpenAIWire

/// A router model's rules (SPEC `router`): which child model answers a request. Routes are tried in order and the
/// first whose conditions all hold wins, else `default`; `cascade` re-asks a larger model when a whole answer is a
/// refusal or empty. Children are other models' names (`name` or `name@version`) in the router's namespace.
public struct RouterSpec: Sendable, Equatable {
    public struct Route: Sendable, Equatable {
        public var when: Conditions
        public var model: String
    }

    /// What must hold of a request for its route to win. A route without conditions always holds.
    public struct Conditions: Sendable, Equatable {
        public var maxPromptTokens: Int?
        public var minPromptTokens: Int?
        /// Searched in the last user message.
        public var match: SafePattern?
        public var hasTools: Bool?
        public var hasImages: Bool?

        /// Whether every condition holds of `facts`. A pattern that runs out of time (its own budget, or `deadline`)
        /// does not match.
        public func hold(for facts: RouterFacts, deadline: ContinuousClock.Instant = .now + RouterSpec.matchBudget) -> Bool {
            if let maxPromptTokens, facts.promptTokens > maxPromptTokens { return false }
            if let minPromptTokens, facts.promptTokens < minPromptTokens { return false }
            if let hasTools, facts.hasTools != hasTools { return false }
            if let hasImages, facts.hasImages != hasImages { return false }
            if let match, match.search(facts.lastUserText, until: deadline) != .matched { return false }
            return true
        }
    }

    /// Why a whole answer is asked again of a larger model.
    public enum Trigger: String, Sendable, CaseIterable {
        case refusal, empty
    }

    public struct Cascade: Sendable, Equatable {
        public var escalateTo: String
        public var when: Set<Trigger>
    }

    public var routes: [Route]
    public var defaultModel: String
    public var cascade: Cascade?

    /// Every child a request may reach, in the order the spec names them.
    public var children: [String] {
        var out: [String] = []
        for name in routes.map(\.model) + [defaultModel] + (cascade.map { [$0.escalateTo] } ?? []) where !out.contains(name) {
            out.append(name)
        }
        return out
    }

    /// What all of a request's patterns may take together (each also has its own 10 ms): a router with many patterns
    /// cannot hold a request, and the connections sharing its thread, for longer.
    public static let matchBudget: Duration = .milliseconds(20)

    /// The child that answers a request with these facts.
    public func choose(_ facts: RouterFacts) -> String {
        let deadline = ContinuousClock.now + Self.matchBudget
        return routes.first { $0.when.hold(for: facts, deadline: deadline) }?.model ?? defaultModel
    }

    static let maxRoutes = 32

    /// Parses `spec.router`, refusing unknown fields and anything a request could not use.
    public static func parse(_ value: JSONValue, path: String = "spec.router") throws(TrellisError) -> RouterSpec {
        guard case .object(let o) = value else { throw .invalidField(path, "must be an object: {\"routes\", \"default\", \"cascade\"?}") }
        try refuseUnknown(o, known: ["routes", "default", "cascade"], path: path)
        guard let defaultModel = try ModelSpec.optionalString(o, "default", path: "\(path).default") else { throw .missingField("\(path).default") }
        var routes: [Route] = []
        if let list = o["routes"], !list.isNull {
            guard case .array(let items) = list, items.count <= maxRoutes else {
                throw .invalidField("\(path).routes", "must be an array of at most \(maxRoutes) routes")
            }
            for (i, item) in items.enumerated() { routes.append(try parseRoute(item, path: "\(path).routes[\(i)]")) }
        }
        var spec = RouterSpec(routes: routes, defaultModel: defaultModel)
        if let c = o["cascade"], !c.isNull { spec.cascade = try parseCascade(c, path: "\(path).cascade") }
        return spec
    }

    static func parseRoute(_ value: JSONValue, path: String) throws(TrellisError) -> Route {
        guard case .object(let o) = value else { throw .invalidField(path, "must be an object: {\"when\", \"model\"}") }
        try refuseUnknown(o, known: ["when", "model"], path: path)
        guard let model = try ModelSpec.optionalString(o, "model", path: "\(path).model") else { throw .missingField("\(path).model") }
        guard let w = o["when"], !w.isNull else { throw .missingField("\(path).when") }
        return Route(when: try parseConditions(w, path: "\(path).when"), model: model)
    }

    static func parseConditions(_ value: JSONValue, path: String) throws(TrellisError) -> Conditions {
        guard case .object(let o) = value else { throw .invalidField(path, "must be an object of conditions") }
        try refuseUnknown(o, known: ["max_prompt_tokens", "min_prompt_tokens", "match", "has_tools", "has_images"], path: path)
        var c = Conditions()
        c.maxPromptTokens = try tokens(o["max_prompt_tokens"], path: "\(path).max_prompt_tokens")
        c.minPromptTokens = try tokens(o["min_prompt_tokens"], path: "\(path).min_prompt_tokens")
        if let pattern = try ModelSpec.optionalString(o, "match", path: "\(path).match") {
            c.match = try SafePattern(pattern, path: "\(path).match", budget: .milliseconds(10))
        }
        c.hasTools = try flag(o["has_tools"], path: "\(path).has_tools")
        c.hasImages = try flag(o["has_images"], path: "\(path).has_images")
        if let low = c.minPromptTokens, let high = c.maxPromptTokens, low > high {
            throw .invalidField("\(path).min_prompt_tokens", "must not be above max_prompt_tokens")
        }
        return c
    }

    static func parseCascade(_ value: JSONValue, path: String) throws(TrellisError) -> Cascade {
        guard case .object(let o) = value else { throw .invalidField(path, "must be an object: {\"escalate_to\", \"when\"}") }
        try refuseUnknown(o, known: ["escalate_to", "when"], path: path)
        guard let target = try ModelSpec.optionalString(o, "escalate_to", path: "\(path).escalate_to") else { throw .missingField("\(path).escalate_to") }
        var triggers = Set(Trigger.allCases)
        if let w = o["when"], !w.isNull {
            guard case .array(let items) = w, !items.isEmpty else { throw .invalidField("\(path).when", "must be a non-empty array of \"refusal\", \"empty\"") }
            triggers = []
            for (i, item) in items.enumerated() {
                guard case .string(let name) = item, let trigger = Trigger(rawValue: name) else {
                    throw .invalidField("\(path).when[\(i)]", "must be \"refusal\" or \"empty\"")
                }
                triggers.insert(trigger)
            }
        }
        return Cascade(escalateTo: target, when: triggers)
    }

    static func tokens(_ value: JSONValue?, path: String) throws(TrellisError) -> Int? {
        guard let value, !value.isNull else { return nil }
        guard let n = value.numberValue?.intValue, n >= 0, n <= 10_000_000 else { throw .invalidField(path, "must be an integer from 0 to 10000000") }
        return n
    }

    static func flag(_ value: JSONValue?, path: String) throws(TrellisError) -> Bool? {
        guard let value, !value.isNull else { return nil }
        guard case .bool(let b) = value else { throw .invalidField(path, "must be true or false") }
        return b
    }

    static func refuseUnknown(_ o: JSONObject, known: Set<String>, path: String) throws(TrellisError) {
        for key in o.keys where !known.contains(key) {
            throw .invalidRequest(
                "Unknown field '\(path).\(key.prefix(64))'; it takes \(known.sorted().joined(separator: ", ")).", param: "\(path).\(key.prefix(64))",
                code: "unknown_parameter")
        }
    }
}

/// What a router looks at in a request: the gateway's prompt-token estimate, the last user message's text, and
/// whether tools or images are present.
public struct RouterFacts: Sendable, Equatable {
    public var promptTokens: Int
    public var lastUserText: String
    public var hasTools: Bool
    public var hasImages: Bool

    public init(promptTokens: Int, lastUserText: String, hasTools: Bool, hasImages: Bool) {
        self.promptTokens = promptTokens
        self.lastUserText = lastUserText
        self.hasTools = hasTools
        self.hasImages = hasImages
    }

    /// How much of the last user message a router's patterns search: its beginning.
    public static let maxMatchedCharacters = 16_384

    /// The facts of a chat request's messages and tools.
    public init(messages: [JSONValue], tools: JSONValue?) {
        promptTokens = TokenEstimator.estimate(messages: messages)
        var last = ""
        var images = false
        for message in messages {
            let content = message["content"]
            if case .array(let parts)? = content {
                for part in parts where ["image_url", "input_image", "image"].contains(part["type"]?.stringValue ?? "") { images = true }
            }
            if message["role"]?.stringValue == "user" { last = Self.text(of: content) }
        }
        lastUserText = String(last.prefix(Self.maxMatchedCharacters))
        hasImages = images
        if case .array(let list)? = tools { hasTools = !list.isEmpty } else { hasTools = false }
    }

    /// A message content's text: the string, or its text parts joined by line breaks.
    public static func text(of content: JSONValue?) -> String {
        switch content {
        case .string(let s)?: return s
        case .array(let parts)?: return parts.compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
        default: return ""
        }
    }
}
