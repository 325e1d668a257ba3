import Foundation
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

/// Router models over the mock upstream: which child answers by the rules, the cascade, the header, the usage rows
/// and the report by `routed_to` with the cost saved, and the refusals at publication.
@Suite struct RouterTests {
    /// Children `small` (echo, cheap), `large` (echo on a dearer upstream), `blank` (answers empty), `refuser`;
    /// and the router `assistant`.
    static func setUp(_ gw: TestGateway, _ upstream: MockUpstream, cascade: JSONValue? = nil) async throws {
        try await gw.createUpstream(
            "cheap", baseURL: upstream.baseURL, extra: ["pricing": ["models": ["*": ["input_per_1k": 1, "output_per_1k": 1]]]])
        try await gw.createUpstream(
            "dear", baseURL: upstream.baseURL, extra: ["pricing": ["models": ["*": ["input_per_1k": 10, "output_per_1k": 10]]]])
        try await gw.createModel("small", tenant: "acme", spec: ["upstream": "cheap", "model": "echo"])
        try await gw.createModel("large", tenant: "acme", spec: ["upstream": "dear", "model": "echo"])
        try await gw.createModel("blank", tenant: "acme", spec: ["upstream": "cheap", "model": "empty"])
        try await gw.createModel("refuser", tenant: "acme", spec: ["upstream": "cheap", "model": "refuse"])
        var router: JSONObject = [
            "routes": [
                ["when": ["match": "(?i)contract|合同"], "model": "refuser"],
                ["when": ["has_tools": true], "model": "large"],
                ["when": ["max_prompt_tokens": 40], "model": "small"],
                ["when": ["min_prompt_tokens": 5000], "model": "blank"],
            ],
            "default": "large",
        ]
        if let cascade { router["cascade"] = cascade }
        try await gw.createModel("assistant", tenant: "acme", spec: ["router": .object(router)])
    }

    func ask(_ gw: TestGateway, _ key: String, _ text: String, extra: JSONObject = [:]) async throws -> TestGateway.Reply {
        var body: JSONObject = ["model": "assistant", "messages": [["role": "user", "content": .string(text)]], "max_tokens": 5]
        for m in extra { body[m.key] = m.value }
        return try await gw.request(.POST, "/v1/chat/completions", key: key, json: .object(body))
    }

    @Test func routesByPatternToolsAndSizeElseTheDefault() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await Self.setUp(gw, upstream)
            let short = try await ask(gw, key, "hello")
            #expect(short.status == 200 && short.headers.first(name: "x-trellis-routed-to") == "small@1", "\(short.text)")
            #expect(short.json["model"] == "assistant", "the client sees the model it called")
            let contract = try await ask(gw, key, "请审阅这份合同")
            #expect(contract.headers.first(name: "x-trellis-routed-to") == "refuser@1")
            let tools: JSONValue = [["type": "function", "function": ["name": "f", "parameters": ["type": "object"]]]]
            let withTools = try await ask(gw, key, "hello", extra: ["tools": tools])
            #expect(withTools.headers.first(name: "x-trellis-routed-to") == "large@1")
            let long = try await ask(gw, key, String(repeating: "a long question about the policy ", count: 20))
            #expect(long.headers.first(name: "x-trellis-routed-to") == "large@1", "over 40 tokens and under 5000: the default")
            // The upstream saw the child's served model, once per request.
            #expect(upstream.calls("echo") == 3 && upstream.calls("refuse") == 1)
            // Streams are routed too.
            let stream = try await gw.stream(
                "/v1/chat/completions", key: key, json: ["model": "assistant", "stream": true, "messages": [["role": "user", "content": "hi"]]])
            #expect(stream.headers.first(name: "x-trellis-routed-to") == "small@1")
            _ = try await readEvents(stream)
        }
    }

    @Test func theCascadeAsksTheLargerModelAgainAfterAnEmptyAnswerOrARefusal() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await Self.setUp(gw, upstream, cascade: ["escalate_to": "large", "when": ["refusal", "empty"]])
            let refused = try await ask(gw, key, "review this contract")
            #expect(refused.status == 200)
            #expect(refused.headers.first(name: "x-trellis-routed-to") == "large@1", "the escalated child answered")
            #expect(refused.json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "echo:review this contract")
            let huge = try await ask(gw, key, String(repeating: "词", count: 6000))
            #expect(huge.headers.first(name: "x-trellis-routed-to") == "large@1" && upstream.calls("empty") == 1)
            // Streams are never cascaded: the first child's stream is the answer.
            let stream = try await gw.stream(
                "/v1/chat/completions", key: key, json: ["model": "assistant", "stream": true, "messages": [["role": "user", "content": "合同"]]])
            #expect(stream.headers.first(name: "x-trellis-routed-to") == "refuser@1")
            _ = try await readEvents(stream)
            // The Responses API rides the same cascade.
            let response = try await gw.request(.POST, "/v1/responses", key: key, json: ["model": "assistant", "input": "contract please"])
            #expect(response.status == 200 && response.headers.first(name: "x-trellis-routed-to") == "large@1", "\(response.text)")
            #expect(response.json["output"]?.arrayValue?.first?["content"]?.arrayValue?.first?["text"]?.stringValue == "echo:contract please")

            await gw.flushUsage()
            let rows = try await gw.admin(.GET, "/usage?group_by=model,routed_to")
            let data = rows.json["data"]?.arrayValue ?? []
            func row(_ child: String) -> JSONValue? { data.first { $0["model"] == "assistant" && $0["routed_to"]?.stringValue == child } }
            // One row per client request, naming the child that answered: the three escalated requests are large's,
            // each carrying both calls' tokens (the mock reports max_tokens as used: 5 per chat call, 3 per call of
            // the response, which sets none); the stream is the refuser's.
            #expect(row("refuser@1")?["requests"]?.numberValue?.intValue == 1, "\(rows.text)")
            #expect(row("blank@1") == nil)
            let large = try #require(row("large@1"))
            #expect(large["requests"]?.numberValue?.intValue == 3)
            #expect(large["completion_tokens"]?.numberValue?.intValue == 2 * (5 + 5) + (3 + 3), "\(large)")
            // Both calls' cost, against the default's price for the answering call only: a cascade costs more.
            #expect((large["cost_saved"]?.numberValue?.doubleValue ?? 0) < 0, "\(large)")
        }
    }

    @Test func whenTheEscalationCannotBeMadeTheFirstAnswerStands() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await Self.setUp(gw, upstream, cascade: ["escalate_to": "large", "when": ["refusal"]])
            // large becomes a router itself: asking it again is a misconfiguration, not the caller's error.
            let v2 = try await gw.admin(.POST, "/models/large/versions?tenant=acme", ["spec": ["router": ["default": "small"]]])
            #expect(v2.status == 201)
            #expect(try await gw.admin(.PUT, "/models/large/traffic?tenant=acme", ["2": 1]).status == 200)
            let reply = try await ask(gw, key, "a contract question")
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.headers.first(name: "x-trellis-routed-to") == "refuser@1")
            #expect(reply.json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue?.hasPrefix("I'm sorry") == true)
            await gw.flushUsage()
            let rows = try await gw.admin(.GET, "/usage?group_by=model,routed_to")
            let refuser = rows.json["data"]?.arrayValue?.first { $0["routed_to"]?.stringValue == "refuser@1" }
            #expect(refuser?["requests"]?.numberValue?.intValue == 1 && refuser?["completion_tokens"]?.numberValue?.intValue == 5, "\(rows.text)")
        }
    }

    @Test func usageByRoutedToShowsWhereTrafficWentAndTheCostSaved() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await Self.setUp(gw, upstream)
            for text in ["hi", "hello", "hey"] { #expect(try await ask(gw, key, text).status == 200) }
            #expect(try await ask(gw, key, String(repeating: "a long question about the policy ", count: 20)).status == 200)
            await gw.flushUsage()
            let report = try await gw.admin(.GET, "/usage?group_by=model,routed_to")
            #expect(report.status == 200, "\(report.text)")
            let data = report.json["data"]?.arrayValue ?? []
            let small = try #require(data.first { $0["routed_to"]?.stringValue == "small@1" })
            let large = try #require(data.first { $0["routed_to"]?.stringValue == "large@1" })
            #expect(small["model"] == "assistant" && small["requests"]?.numberValue?.intValue == 3)
            #expect(large["requests"]?.numberValue?.intValue == 1)
            // The same tokens at the default's price (10 per 1k) against the cheap child's (1 per 1k): 9 per 1k saved.
            let smallCost = try #require(small["cost"]?.numberValue?.doubleValue)
            let saved = try #require(small["cost_saved"]?.numberValue?.doubleValue)
            #expect(smallCost > 0 && abs(saved - smallCost * 9) < 1e-6, "\(small)")
            #expect(large["cost_saved"]?.numberValue?.doubleValue == 0, "the default saves nothing")
            let plain = data.first { $0["model"] == "echo" }
            #expect(plain == nil || plain?["routed_to"] == .null)
        }
    }

    @Test func aRouterIsCheckedWhenPublishedAndAtRequestTime() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await Self.setUp(gw, upstream)
            func create(_ name: String, _ spec: JSONValue) async throws -> TestGateway.Reply {
                try await gw.admin(.POST, "/models", ["name": .string(name), "tenant": "acme", "spec": spec])
            }
            let missing = try await create("r1", ["router": ["default": "nowhere"]])
            #expect(missing.status == 400 && missing.json["error"]?["param"] == "spec.router.default", "\(missing.text)")
            let nested = try await create("r2", ["router": ["routes": [["when": ["has_images": true], "model": "assistant"]], "default": "small"]])
            #expect(nested.status == 400 && nested.json["error"]?["param"] == "spec.router.routes[0].model")
            let pinned = try await create("r3", ["router": ["default": "small@7"]])
            #expect(pinned.status == 400 && pinned.json["error"]?["param"] == "spec.router.default")
            let mixed = try await create("r4", ["router": ["default": "small"], "upstream": "cheap", "model": "echo"])
            #expect(mixed.status == 400 && mixed.json["error"]?["param"] == "spec.upstream")
            let badPattern = try await create("r5", ["router": ["routes": [["when": ["match": "(unclosed"], "model": "small"]], "default": "small"]])
            #expect(badPattern.status == 400 && badPattern.json["error"]?["param"] == "spec.router.routes[0].when.match")
            let unknown = try await create("r6", ["router": ["routes": [["when": ["max_tokens": 3], "model": "small"]], "default": "small"]])
            #expect(unknown.status == 400 && unknown.errorCode == "unknown_parameter")
            // Another tenant's model is not a child this router can reach.
            try await gw.createTenant("globex")
            try await gw.createModel("theirs", tenant: "globex", spec: ["upstream": "cheap", "model": "echo"])
            let foreign = try await create("r7", ["router": ["default": "theirs"]])
            #expect(foreign.status == 400 && foreign.json["error"]?["param"] == "spec.router.default")
            // Embeddings are not a router's to answer.
            let embed = try await gw.request(.POST, "/v1/embeddings", key: key, json: ["model": "assistant", "input": "x"])
            #expect(embed.status == 400 && embed.json["error"]?["param"] == "model")
            // A child that becomes a router after publication leaves the router misconfigured: a clear 500.
            let v2 = try await gw.admin(.POST, "/models/small/versions?tenant=acme", ["spec": ["router": ["default": "large"]]])
            #expect(v2.status == 201, "\(v2.text)")
            #expect(try await gw.admin(.PUT, "/models/small/traffic?tenant=acme", ["2": 1]).status == 200)
            let orphan = try await ask(gw, key, "hi")
            #expect(orphan.status == 500 && orphan.errorCode == "model_misconfigured", "\(orphan.text)")
        }
    }

    @Test func aKeyLimitedToTheRouterReachesItsChildren() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, _ in
            try await Self.setUp(gw, upstream)
            let limited = try await gw.issueKey(tenant: "acme", ["models": ["assistant"]]).key
            let routed = try await ask(gw, limited, "hi")
            #expect(routed.status == 200 && routed.headers.first(name: "x-trellis-routed-to") == "small@1")
            let direct = try await gw.request(
                .POST, "/v1/chat/completions", key: limited, json: ["model": "small", "messages": [["role": "user", "content": "hi"]]])
            #expect(direct.status == 404, "the children themselves stay outside the key's allowlist")
        }
    }
}
