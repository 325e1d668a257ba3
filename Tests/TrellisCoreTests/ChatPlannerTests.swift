import OpenAIWire
import Testing
import TrellisCore

private func object(_ text: String) throws -> JSONObject {
    try #require(try JSONParser.parse(text).objectValue)
}

private func applied(params: String, body: String) throws -> JSONObject {
    var b = try object(body)
    ChatPlanner.applyParams(try object(params), to: &b)
    return b
}

private func resolveError(_ reference: String, key: TenantKey, snapshot: CatalogSnapshot) -> TrellisError? {
    do {
        _ = try ChatPlanner.resolve(reference, key: key, snapshot: snapshot, stickyKey: "u")
        return nil
    } catch {
        return error
    }
}

@Suite("ChatPlanner.applyParams")
struct ApplyParamsTests {
    @Test("defaults fill only the fields the caller omitted")
    func defaultsFillOmitted() throws {
        let body = try applied(params: #"{"temperature":0.2,"top_p":0.9,"stop":["END"]}"#, body: #"{"model":"m","temperature":1}"#)
        #expect(body["temperature"] == 1)
        #expect(body["top_p"] == 0.9)
        #expect(body["stop"] == ["END"])
        #expect(body["model"] == "m")
    }

    @Test("the caller's value wins even when it is false, zero or empty")
    func falsyCallerValues() throws {
        let body = try applied(params: #"{"temperature":0.7,"logprobs":true,"stop":["x"]}"#, body: #"{"temperature":0,"logprobs":false,"stop":[]}"#)
        #expect(body["temperature"] == 0)
        #expect(body["logprobs"] == false)
        #expect(body["stop"] == [])
    }

    @Test("a field the caller set to null counts as omitted")
    func nullIsOmitted() throws {
        let body = try applied(params: #"{"temperature":0.2}"#, body: #"{"temperature":null}"#)
        #expect(body["temperature"] == 0.2)
    }

    @Test("no params: the body is unchanged")
    func noParams() throws {
        let original = try object(#"{"model":"m","max_tokens":99999,"temperature":5}"#)
        var body = original
        ChatPlanner.applyParams(JSONObject(), to: &body)
        #expect(body == original)
    }

    @Test("max_tokens in params is the default when the caller gave no limit")
    func defaultMaxTokens() throws {
        let body = try applied(params: #"{"max_tokens":512}"#, body: #"{"model":"m"}"#)
        #expect(body["max_tokens"] == 512)
        #expect(body["max_completion_tokens"] == nil)
    }

    @Test("the max_tokens ceiling clamps the caller's max_tokens")
    func ceilingClampsMaxTokens() throws {
        #expect(try applied(params: #"{"max_tokens":512}"#, body: #"{"max_tokens":4096}"#)["max_tokens"] == 512)
        #expect(try applied(params: #"{"max_tokens":512}"#, body: #"{"max_tokens":100}"#)["max_tokens"] == 100)
        #expect(try applied(params: #"{"max_tokens":512}"#, body: #"{"max_tokens":512}"#)["max_tokens"] == 512)
        #expect(try applied(params: #"{"max_tokens":512}"#, body: #"{"max_tokens":1e4}"#)["max_tokens"] == 512)
    }

    @Test("the max_tokens ceiling clamps max_completion_tokens too, without adding max_tokens")
    func ceilingClampsMaxCompletionTokens() throws {
        let clamped = try applied(params: #"{"max_tokens":512}"#, body: #"{"max_completion_tokens":4096}"#)
        #expect(clamped["max_completion_tokens"] == 512)
        #expect(clamped["max_tokens"] == nil)
        let kept = try applied(params: #"{"max_tokens":512}"#, body: #"{"max_completion_tokens":100}"#)
        #expect(kept["max_completion_tokens"] == 100)
        #expect(kept["max_tokens"] == nil)
    }

    @Test("both caller limits are clamped when both are given")
    func bothClamped() throws {
        let body = try applied(params: #"{"max_tokens":256}"#, body: #"{"max_tokens":1000,"max_completion_tokens":2000}"#)
        #expect(body["max_tokens"] == 256)
        #expect(body["max_completion_tokens"] == 256)
    }

    @Test("max_completion_tokens in params is a ceiling when params have no max_tokens")
    func completionCeiling() throws {
        let body = try applied(params: #"{"max_completion_tokens":300}"#, body: #"{"max_completion_tokens":1000}"#)
        #expect(body["max_completion_tokens"] == 300)
    }

    @Test("a default max_completion_tokens is not added when the caller limited max_tokens")
    func noDefaultCompletionLimitOverCallersMaxTokens() throws {
        // Upstreams read max_completion_tokens before max_tokens (vLLM, OpenAI), so adding one would replace the
        // caller's own, lower limit.
        let body = try applied(params: #"{"max_completion_tokens":300}"#, body: #"{"max_tokens":100}"#)
        #expect(body["max_tokens"] == 100)
        #expect(body["max_completion_tokens"] == nil)
        // And the caller's max_tokens is still clamped by that ceiling.
        let high = try applied(params: #"{"max_completion_tokens":300}"#, body: #"{"max_tokens":1000}"#)
        #expect(high["max_tokens"] == 300)
        #expect(high["max_completion_tokens"] == nil)
    }

    @Test("a caller without any limit gets every limit default the spec sets, whatever their order")
    func bothDefaults() throws {
        for params in [#"{"max_tokens":512,"max_completion_tokens":256}"#, #"{"max_completion_tokens":256,"max_tokens":512}"#] {
            let body = try applied(params: params, body: #"{"model":"m"}"#)
            #expect(body["max_tokens"] != nil, "\(params)")
            #expect(body["max_completion_tokens"] != nil, "\(params)")
        }
    }

    @Test("the caller's field order is kept; defaults are appended")
    func order() throws {
        let body = try applied(params: #"{"temperature":0.2,"max_tokens":50}"#, body: #"{"model":"m","max_tokens":100,"messages":[]}"#)
        #expect(body.keys == ["model", "max_tokens", "messages", "temperature"])
    }
}

@Suite("ChatPlanner.resolve")
struct ResolveTests {
    let shared: IndustryModel
    let acmeAssistant: IndustryModel
    let acmePrivate: IndustryModel
    let snapshot: CatalogSnapshot

    init() throws {
        shared = try Fixtures.model("assistant", spec: Fixtures.spec(model: "shared-base"))
        acmeAssistant = try Fixtures.model("assistant", tenantID: "tnt_acme", versions: [1, 2], traffic: [1: 100], spec: Fixtures.spec(model: "acme-base"))
        acmePrivate = try Fixtures.model("claims", tenantID: "tnt_acme")
        snapshot = CatalogSnapshot(
            generation: 1, tenants: [Fixtures.tenant("acme"), Fixtures.tenant("globex")], keys: [], upstreams: [],
            models: [shared, acmeAssistant, acmePrivate])
    }

    @Test("a tenant's own model shadows the shared one of the same name")
    func shadowing() throws {
        let (model, _) = try ChatPlanner.resolve("assistant", key: Fixtures.key(tenant: "acme"), snapshot: snapshot, stickyKey: "u")
        #expect(model.id == acmeAssistant.id)
        let (other, _) = try ChatPlanner.resolve("assistant", key: Fixtures.key(tenant: "globex"), snapshot: snapshot, stickyKey: "u")
        #expect(other.id == shared.id)
    }

    @Test("another tenant's model fails exactly like a model that does not exist")
    func foreignModel() throws {
        let globex = Fixtures.key(tenant: "globex")
        let foreign = try #require(resolveError("claims", key: globex, snapshot: snapshot))
        let withoutIt = CatalogSnapshot(generation: 1, tenants: [], keys: [], upstreams: [], models: [shared])
        let missing = try #require(resolveError("claims", key: globex, snapshot: withoutIt))
        #expect(foreign == missing)
        #expect(foreign == TrellisError.modelNotFound("claims"))
        #expect(foreign.status == 404)
        #expect(foreign.code == "model_not_found")
        // Pinned, too.
        #expect(resolveError("claims@1", key: globex, snapshot: snapshot) == resolveError("claims@1", key: globex, snapshot: withoutIt))
        // The owner resolves it.
        #expect(resolveError("claims", key: Fixtures.key(tenant: "acme"), snapshot: snapshot) == nil)
    }

    @Test("a model the key's allowlist excludes fails like a missing one")
    func allowlist() throws {
        let limited = Fixtures.key(tenant: "acme", models: ["claims*"])
        #expect(resolveError("claims", key: limited, snapshot: snapshot) == nil)
        #expect(resolveError("claims@1", key: limited, snapshot: snapshot) == nil)
        let hidden = try #require(resolveError("assistant", key: limited, snapshot: snapshot))
        #expect(hidden == TrellisError.modelNotFound("assistant"))
        #expect(hidden == resolveError("assistant", key: limited, snapshot: CatalogSnapshot.empty))
        #expect(resolveError("assistant@2", key: limited, snapshot: snapshot) == TrellisError.modelNotFound("assistant@2"))
    }

    @Test("a pinned version is served even when the split gives it no traffic")
    func pinned() throws {
        let acme = Fixtures.key(tenant: "acme")
        for i in 0..<50 {
            let (_, version) = try ChatPlanner.resolve("assistant@2", key: acme, snapshot: snapshot, stickyKey: "user-\(i)")
            #expect(version.version == 2)
            let (_, unpinned) = try ChatPlanner.resolve("assistant", key: acme, snapshot: snapshot, stickyKey: "user-\(i)")
            #expect(unpinned.version == 1)
        }
    }

    @Test("an unknown pinned version is 404 model_not_found, naming the reference")
    func unknownPinned() throws {
        let error = try #require(resolveError("assistant@9", key: Fixtures.key(tenant: "acme"), snapshot: snapshot))
        #expect(error == TrellisError.modelNotFound("assistant@9"))
        #expect(error.message.contains("assistant@9"))
    }

    @Test("a tenant's pinned version does not fall through to the shared model's versions")
    func pinnedNoFallThrough() throws {
        // globex sees the shared assistant (one version); v2 exists only in acme's model.
        #expect(resolveError("assistant@2", key: Fixtures.key(tenant: "globex"), snapshot: snapshot) == TrellisError.modelNotFound("assistant@2"))
    }

    @Test("malformed pins are names that do not exist")
    func malformedPins() {
        let acme = Fixtures.key(tenant: "acme")
        for reference in ["assistant@0", "assistant@-1", "assistant@x", "assistant@"] {
            #expect(resolveError(reference, key: acme, snapshot: snapshot) == TrellisError.modelNotFound(reference))
        }
    }
}

@Suite("ChatPlanner.orderTargets")
struct OrderTargetsTests {
    @Test("fallbacks come after every deployment, in their order")
    func fallbacksLast() throws {
        let spec = try Fixtures.spec(
            try JSONParser.parse(
                #"{"model":"m","deployments":[{"upstream":"a","weight":5},{"upstream":"b","weight":1},{"upstream":"c","weight":0}],"fallbacks":[{"upstream":"f1"},{"upstream":"f2"}]}"#
            ))
        var rng = SeededGenerator(seed: 1)
        for _ in 0..<200 {
            let order = ChatPlanner.orderTargets(spec, random: &rng).map(\.upstream)
            #expect(order.count == 5)
            #expect(Set(order.prefix(3)) == ["a", "b", "c"])
            #expect(order[2] == "c")  // weight 0: after the weighted ones
            #expect(Array(order.suffix(2)) == ["f1", "f2"])
        }
    }

    @Test("the first target follows the weights (75/25 within ±3 points)")
    func weights() throws {
        let spec = try Fixtures.spec(try JSONParser.parse(#"{"model":"m","deployments":[{"upstream":"a","weight":3},{"upstream":"b","weight":1}]}"#))
        var rng = SeededGenerator(seed: 2024)
        let n = 20_000
        var firstA = 0
        for _ in 0..<n where ChatPlanner.orderTargets(spec, random: &rng).first?.upstream == "a" { firstA += 1 }
        let share = Double(firstA) / Double(n)
        #expect((0.72...0.78).contains(share), "\(share)")
    }

    @Test("three weights: each target's share of first place matches its weight")
    func threeWeights() throws {
        let spec = try Fixtures.spec(
            try JSONParser.parse(#"{"model":"m","deployments":[{"upstream":"a","weight":6},{"upstream":"b","weight":3},{"upstream":"c","weight":1}]}"#))
        var rng = SeededGenerator(seed: 7)
        let n = 20_000
        var firsts: [String: Int] = [:]
        for _ in 0..<n { firsts[ChatPlanner.orderTargets(spec, random: &rng)[0].upstream, default: 0] += 1 }
        #expect((0.57...0.63).contains(Double(firsts["a", default: 0]) / Double(n)), "\(firsts)")
        #expect((0.27...0.33).contains(Double(firsts["b", default: 0]) / Double(n)), "\(firsts)")
        #expect((0.08...0.12).contains(Double(firsts["c", default: 0]) / Double(n)), "\(firsts)")
    }

    @Test("a draw only where there is a choice: none for one deployment, one for two, none for the last left")
    func drawsOnlyForAChoice() throws {
        let one = try Fixtures.spec(try JSONParser.parse(#"{"model":"m","deployments":[{"upstream":"a","weight":3}],"fallbacks":[{"upstream":"f"}]}"#))
        var rng = CountingGenerator()
        #expect(ChatPlanner.orderTargets(one, random: &rng).map(\.upstream) == ["a", "f"])
        #expect(rng.draws == 0)
        let two = try Fixtures.spec(try JSONParser.parse(#"{"model":"m","deployments":[{"upstream":"a","weight":3},{"upstream":"b","weight":1}]}"#))
        #expect(Set(ChatPlanner.orderTargets(two, random: &rng).map(\.upstream)) == ["a", "b"])
        #expect(rng.draws == 1)
    }

    @Test("every deployment appears exactly once")
    func permutation() throws {
        let spec = try Fixtures.spec(
            try JSONParser.parse(
                #"{"model":"m","deployments":[{"upstream":"a"},{"upstream":"b"},{"upstream":"c"},{"upstream":"d","weight":0}]}"#))
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<100 {
            let order = ChatPlanner.orderTargets(spec, random: &rng).map(\.upstream)
            #expect(order.sorted() == ["a", "b", "c", "d"])
        }
    }
}

@Suite("ChatPlanner.plan and upstreamBody")
struct PlanTests {
    func plan(_ body: String, params: String? = nil, fallbacks: Bool = false, prompt: String? = nil) throws -> ChatPlan {
        var specJSON: JSONObject = ["upstream": "local", "model": "smollm2"]
        if let params { specJSON["params"] = try JSONParser.parse(params) }
        if let prompt { specJSON["prompt"] = try JSONParser.parse(prompt) }
        if fallbacks { specJSON["fallbacks"] = [["upstream": "cloud", "model": "gpt"]] }
        let model = try Fixtures.model("assistant", spec: Fixtures.spec(.object(specJSON)))
        let snapshot = CatalogSnapshot(generation: 1, tenants: [Fixtures.tenant("acme")], keys: [], upstreams: [], models: [model])
        let request = try ChatRequest.parse(try JSONParser.parse(body))
        var rng = SeededGenerator(seed: 1)
        return try ChatPlanner.plan(request, key: Fixtures.key(tenant: "acme"), snapshot: snapshot, random: &rng)
    }

    func sent(_ plan: ChatPlan, target: Int = 0) throws -> JSONObject {
        try #require(try JSONParser.parse(plan.upstreamBody(for: plan.targets[target])).objectValue)
    }

    @Test("a plan carries the model, version, targets, params and the request's flags")
    func plan() throws {
        let p = try plan(
            #"{"model":"assistant","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"user":"u1"}"#,
            params: #"{"temperature":0.3}"#, fallbacks: true)
        #expect(p.modelName == "assistant")
        #expect(p.version == 1)
        #expect(p.targets.map(\.upstream) == ["local", "cloud"])
        #expect(p.body["temperature"] == 0.3)
        #expect(p.stream)
        #expect(p.clientWantsUsage)
        #expect(p.user == "u1")
    }

    @Test("the upstream body names the target's model and keeps everything else")
    func upstreamModel() throws {
        let p = try plan(#"{"model":"assistant","messages":[{"role":"user","content":"hi"}],"seed":18446744073709551616,"tools":[]}"#, fallbacks: true)
        let first = try sent(p)
        #expect(first["model"] == "smollm2-v1")
        #expect(first.keys == ["model", "messages", "seed", "tools"])
        #expect(first["seed"]?.numberValue?.literal == "18446744073709551616")
        #expect(first["stream_options"] == nil)
        #expect(try sent(p, target: 1)["model"] == "gpt")
    }

    @Test("a streamed request always asks the upstream for usage, keeping the client's other stream_options")
    func streamOptions() throws {
        let p = try plan(
            #"{"model":"assistant","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":false,"continuous_usage_stats":true}}"#
        )
        let body = try sent(p)
        #expect(body["stream"] == true)
        let options = try #require(body["stream_options"]?.objectValue)
        #expect(options["include_usage"] == true)
        #expect(options["continuous_usage_stats"] == true)
        #expect(!p.clientWantsUsage)
    }

    @Test("a streamed request without stream_options gets one")
    func streamOptionsAdded() throws {
        let p = try plan(#"{"model":"assistant","messages":[{"role":"user","content":"hi"}],"stream":true}"#)
        #expect(try sent(p)["stream_options"] == ["include_usage": true])
    }

    @Test("a non-streamed request's stream_options are passed on unchanged")
    func noStream() throws {
        let p = try plan(#"{"model":"assistant","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":false}}"#)
        #expect(try sent(p)["stream_options"] == ["include_usage": false])
    }

    @Test("the upstream body never carries the client's variables; they fill the prompt")
    func noVariables() throws {
        let p = try plan(
            #"{"model":"assistant","messages":[{"role":"user","content":"hi"}],"variables":{"a":"b"}}"#,
            prompt: #"{"messages":[{"role":"system","content":"a is {{a}}"}],"variables":{"a":{}}}"#)
        #expect(try sent(p)["variables"] == nil)
        #expect(try sent(p)["messages"]?.arrayValue?.first?["content"] == "a is b")
    }

    @Test("variables for a model without a prompt are refused, naming the variable")
    func variablesWithoutPrompt() throws {
        do {
            _ = try plan(#"{"model":"assistant","messages":[{"role":"user","content":"hi"}],"variables":{"a":"b"}}"#)
            Issue.record("expected a 400")
        } catch let error as TrellisError {
            #expect(error.status == 400 && error.param == "variables.a")
        }
    }

    @Test("spec params reach the upstream body, with the ceiling applied")
    func paramsInBody() throws {
        let p = try plan(#"{"model":"assistant","messages":[{"role":"user","content":"hi"}],"max_tokens":9000}"#, params: #"{"max_tokens":512,"top_p":0.5}"#)
        let body = try sent(p)
        #expect(body["max_tokens"] == 512)
        #expect(body["top_p"] == 0.5)
    }
}

/// A generator that counts its draws (a seeded one underneath).
struct CountingGenerator: RandomNumberGenerator {
    private var base = SeededGenerator(seed: 11)
    private(set) var draws = 0

    mutating func next() -> UInt64 {
        draws += 1
        return base.next()
    }
}
