import Foundation
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

/// Prompts, adapters and versions, checked by what reaches an upstream that records every request.
@Suite struct IndustryModelTests {
    static let claimsPrompt: JSONValue = [
        "name": "claims-system",
        "variables": ["policy_type": ["default": "车险"], "channel": [:]],
        "messages": [
            ["role": "system", "content": "你是理赔助手，险种：{{policy_type}}，渠道：{{ channel }}。"],
            ["role": "user", "content": "问题：车被追尾了？"],
            ["role": "assistant", "content": "请准备驾驶证和事故认定书。"],
            ["role": "user", "content": "问题：{{input}}"],
        ],
    ]

    func chat(_ gw: TestGateway, key: String, _ body: JSONObject) async throws -> TestGateway.Reply {
        var b = body
        if b["messages"] == nil { b["messages"] = [["role": "user", "content": "hello"]] }
        return try await gw.request(.POST, "/v1/chat/completions", key: key, json: .object(b))
    }

    @Test func promptTemplateFewShotAndVariablesArriveExactly() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            let created = try await gw.admin(.POST, "/prompts", Self.claimsPrompt)
            #expect(created.status == 201 && created.json["version"]?.numberValue?.intValue == 1)
            try await gw.createModel(
                "claims", spec: ["upstream": "mock", "model": "echo", "prompt": ["name": "claims-system", "version": 1]])
            let reply = try await chat(
                gw, key: key,
                [
                    "model": "claims", "variables": ["channel": "微信 {{policy_type}}"],
                    "messages": [["role": "system", "content": "Caller rules."], ["role": "user", "content": "手机丢了能赔吗？"]],
                ])
            #expect(reply.status == 200, "\(reply.text)")
            let sent = try #require(upstream.lastBody?["messages"]?.arrayValue)
            let roles = sent.compactMap { $0["role"]?.stringValue }
            let contents = sent.compactMap { $0["content"]?.stringValue }
            #expect(roles == ["system", "system", "user", "assistant", "user"])
            // Template system first, then the caller's, then the few-shot turns, then the caller's turn
            // through the input template. The value's braces are not expanded again.
            #expect(contents[0] == "你是理赔助手，险种：车险，渠道：微信 {{policy_type}}。")
            #expect(contents[1] == "Caller rules.")
            #expect(contents[2] == "问题：车被追尾了？")
            #expect(contents[4] == "问题：手机丢了能赔吗？")
            #expect(upstream.lastBody?["variables"] == nil, "variables never reach the upstream")
        }
    }

    @Test func variableErrorsNameTheVariable() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            _ = try await gw.admin(.POST, "/prompts", Self.claimsPrompt)
            try await gw.createModel("claims", spec: ["upstream": "mock", "model": "echo", "prompt": ["name": "claims-system"]])
            let missing = try await chat(gw, key: key, ["model": "claims"])
            #expect(missing.status == 400)
            #expect(missing.json["error"]?["param"]?.stringValue == "variables.channel")
            #expect(missing.json["error"]?["message"]?.stringValue?.contains("channel") == true)
            let undeclared = try await chat(gw, key: key, ["model": "claims", "variables": ["channel": "web", "color": "red"]])
            #expect(undeclared.status == 400 && undeclared.json["error"]?["param"]?.stringValue == "variables.color")
            let plain = try await chat(gw, key: key, ["model": "echo", "variables": ["x": "y"]])
            #expect(plain.status == 400 && plain.errorCode == "unknown_variable", "a model without a prompt takes no variables")
            #expect(upstream.requests.isEmpty)
        }
    }

    @Test func promptDefinitionsAreValidatedAndVersionsAreImmutable() async throws {
        try await TestGateway.run { gw in
            let undeclared = try await gw.admin(.POST, "/prompts", ["name": "p", "messages": [["role": "system", "content": "Hi {{name}}"]]])
            #expect(undeclared.status == 400 && undeclared.json["error"]?["param"]?.stringValue == "variables")
            let inputNotLast = try await gw.admin(
                .POST, "/prompts", ["name": "p", "messages": [["role": "user", "content": "{{input}}"], ["role": "system", "content": "x"]]])
            #expect(inputNotLast.status == 400)
            let declaredInput = try await gw.admin(
                .POST, "/prompts", ["name": "p", "variables": ["input": [:]], "messages": [["role": "system", "content": "x"]]])
            #expect(declaredInput.status == 400 && declaredInput.json["error"]?["param"]?.stringValue == "variables.input")

            let v1 = try await gw.admin(.POST, "/prompts", ["name": "p", "messages": [["role": "system", "content": "one"]], "labels": ["production"]])
            #expect(v1.status == 201)
            let same = try await gw.admin(.POST, "/prompts", ["name": "p", "messages": [["role": "system", "content": "one"]]])
            #expect(same.status == 200 && same.json["version"]?.numberValue?.intValue == 1 && same.json["created"] == false)
            let v2 = try await gw.admin(.POST, "/prompts", ["name": "p", "messages": [["role": "system", "content": "two"]], "labels": ["staging"]])
            #expect(v2.status == 201 && v2.json["version"]?.numberValue?.intValue == 2)
            let shown = try await gw.admin(.GET, "/prompts/p")
            #expect(shown.json["labels"] == ["production": 1, "staging": 2])
            #expect(shown.json["versions"]?.arrayValue?.first?["messages"]?.arrayValue?.first?["content"]?.stringValue == "one")
            #expect(try await gw.admin(.PUT, "/prompts/p/labels", ["production": 7]).status == 400)
        }
    }

    @Test func repostsCompareContentNotFormatting() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            let first: JSONValue = [
                "name": "p", "variables": ["a": ["default": "1"], "b": ["default": "2"]],
                "messages": [
                    ["role": "system", "content": "{{a}}{{b}}"], ["role": "user", "name": "example_user", "content": "hi"],
                    ["role": "assistant", "content": "hello"],
                ],
            ]
            #expect(try await gw.admin(.POST, "/prompts", first).status == 201)
            let reordered: JSONValue = [
                "name": "p", "messages": first["messages"] ?? .null, "variables": ["b": ["default": "2"], "a": ["default": "1"]],
            ]
            let same = try await gw.admin(.POST, "/prompts", reordered)
            #expect(same.status == 200 && same.json["version"]?.numberValue?.intValue == 1, "key order is not a new version")
            let generation = gw.gateway.snapshot.generation
            var described = reordered.objectValue ?? [:]
            described["description"] = "now with a description"
            #expect(try await gw.admin(.POST, "/prompts", .object(described)).status == 200)
            #expect(gw.gateway.snapshot.generation > generation, "a description change is a catalog change other replicas must see")
            try await gw.createModel("named", spec: ["upstream": "mock", "model": "echo", "prompt": ["name": "p"]])
            _ = try await chat(gw, key: key, ["model": "named"])
            let sent = try #require(upstream.lastBody?["messages"]?.arrayValue)
            #expect(sent[1]["name"]?.stringValue == "example_user", "a few-shot speaker's name is kept")
            // Only the operator may have a vLLM server load an adapter from a path.
            try await gw.createUpstream("vllm", baseURL: upstream.baseURL, kind: "vllm")
            let manager = try await gw.issueKey(tenant: "acme", ["scopes": ["manage"]])
            let byTenant = try await gw.request(
                .POST, "/admin/v1/adapters", key: manager.key, json: ["name": "x", "upstream": "vllm", "base_model": "b", "path": "/etc/passwd"])
            #expect(byTenant.status == 403)
        }
    }

    @Test func modelsFollowPromptLabelsAndPinnedVersionsStay() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            _ = try await gw.admin(.POST, "/prompts", ["name": "tone", "messages": [["role": "system", "content": "v1"]], "labels": ["production"]])
            _ = try await gw.admin(.POST, "/prompts", ["name": "tone", "messages": [["role": "system", "content": "v2"]]])
            try await gw.createModel("follower", spec: ["upstream": "mock", "model": "echo", "prompt": ["name": "tone", "label": "production"]])
            try await gw.createModel("pinned", spec: ["upstream": "mock", "model": "echo", "prompt": ["name": "tone", "version": 1]])
            try await gw.createModel("latest", spec: ["upstream": "mock", "model": "echo", "prompt": ["name": "tone"]])
            func systemSent(_ model: String) async throws -> String? {
                _ = try await chat(gw, key: key, ["model": .string(model)])
                return upstream.lastBody?["messages"]?.arrayValue?.first?["content"]?.stringValue
            }
            #expect(try await systemSent("follower") == "v1")
            #expect(try await systemSent("latest") == "v2")
            let moved = try await gw.admin(.PUT, "/prompts/tone/labels", ["production": 2])
            #expect(moved.status == 200)
            #expect(try await systemSent("follower") == "v2", "the label moved, the model followed")
            #expect(try await systemSent("pinned") == "v1")
            #expect(try await gw.admin(.PUT, "/prompts/tone/labels", ["production": .null]).status == 409, "a followed label cannot be removed")
            let detail = try await gw.admin(.GET, "/models/follower")
            #expect(detail.json["versions"]?.arrayValue?.first?["resolved"]?["prompt"]?["version"]?.numberValue?.intValue == 2)
            let badRef = try await gw.admin(
                .POST, "/models", ["name": "x", "spec": ["upstream": "mock", "model": "echo", "prompt": ["name": "tone", "label": "nope"]]])
            #expect(badRef.status == 400 && badRef.json["error"]?["param"]?.stringValue == "spec.prompt.label")
        }
    }

    @Test func adaptersAreServedTheWayTheirUpstreamNeeds() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await gw.createUpstream("llama", baseURL: upstream.baseURL, kind: "llamacpp")
            try await gw.createUpstream("vllm", baseURL: upstream.baseURL, kind: "vllm")
            let served = try await gw.admin(
                .POST, "/adapters",
                [
                    "name": "claims-served", "upstream": "mock", "base_model": "base", "served_model": "echo-lora", "method": "qlora",
                    "dataset": "claims-v3", "evaluation": "win-rate 61%",
                ])
            #expect(served.status == 201)
            #expect(served.json["dataset"]?.stringValue == "claims-v3" && served.json["method"]?.stringValue == "qlora")
            #expect(
                try await gw.admin(.POST, "/adapters", ["name": "by-id", "upstream": "llama", "base_model": "smollm2", "lora_id": 2, "lora_scale": 0.5])
                    .status == 201)
            #expect(
                try await gw.admin(.POST, "/adapters", ["name": "lora-claims", "upstream": "vllm", "base_model": "qwen", "path": "/models/claims"]).status
                    == 201)
            // Serving modes must fit the upstream kind, and exactly one is given.
            #expect(try await gw.admin(.POST, "/adapters", ["name": "bad1", "upstream": "mock", "base_model": "b", "lora_id": 1]).status == 400)
            #expect(try await gw.admin(.POST, "/adapters", ["name": "bad2", "upstream": "llama", "base_model": "b", "path": "/x"]).status == 400)
            #expect(try await gw.admin(.POST, "/adapters", ["name": "bad3", "upstream": "mock", "base_model": "b"]).status == 400)

            try await gw.createModel("ft-served", spec: ["adapter": "claims-served"])
            try await gw.createModel("ft-id", spec: ["adapter": "by-id", "params": ["temperature": 0]])
            try await gw.createModel("ft-vllm", spec: ["adapter": "lora-claims"])
            #expect(try await gw.admin(.POST, "/models", ["name": "both", "spec": ["adapter": "by-id", "upstream": "mock", "model": "x"]]).status == 400)

            _ = try await chat(gw, key: key, ["model": "ft-served"])
            #expect(upstream.lastBody?["model"]?.stringValue == "echo-lora")
            _ = try await chat(gw, key: key, ["model": "ft-id"])
            #expect(upstream.lastBody?["model"]?.stringValue == "smollm2")
            #expect(upstream.lastBody?["lora"] == [["id": 2, "scale": 0.5]])

            // vLLM: loaded once before first use, not again while it stays loaded...
            for _ in 0..<3 {
                let reply = try await chat(gw, key: key, ["model": "ft-vllm"])
                #expect(reply.status == 200, "\(reply.text)")
            }
            // Served under a name namespaced by owner (shared here) and path, not the bare adapter name.
            let servedName = Adapter.loadedName(tenantID: nil, name: "lora-claims", path: "/models/claims")
            #expect(upstream.loads == [servedName])
            #expect(upstream.lastBody?["model"]?.stringValue == servedName)
            #expect(upstream.adapterPath(servedName) == "/models/claims")
            // ...and again after the server forgets it (a restart answers 404 for the adapter).
            upstream.forgetAdapters()
            let again = try await chat(gw, key: key, ["model": "ft-vllm"])
            #expect(again.status == 200)
            #expect(upstream.loads == [servedName, servedName])
            let listed = try await gw.admin(.GET, "/adapters")
            #expect(listed.json["data"]?.arrayValue?.count == 3)
        }
    }

    @Test func trafficSplitsAreStickyPerUser() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            _ = try await gw.admin(.POST, "/models/echo/versions", ["spec": ["upstream": "mock", "model": "no-usage"]])
            _ = try await gw.admin(.PUT, "/models/echo/traffic", ["1": 50, "2": 50])
            var seen: [String: Set<String>] = [:]
            for user in 0..<20 {
                for _ in 0..<3 {
                    let reply = try await chat(gw, key: key, ["model": "echo", "user": .string("user-\(user)")])
                    seen["user-\(user)", default: []].insert(reply.headers.first(name: "x-trellis-model-version") ?? "?")
                }
            }
            #expect(seen.values.allSatisfy { $0.count == 1 }, "one user sees one version")
            let versions = Set(seen.values.flatMap { $0 })
            #expect(versions == ["1", "2"], "with 20 users both halves of a 50/50 split are drawn")
            await gw.flushUsage()
            let rows = try await gw.gateway.store.usageEvents()
            #expect(Set(rows.compactMap(\.modelVersion)) == [1, 2], "usage rows record the version that served")
        }
    }

    @Test func declarativeCatalogIsIdempotentAndAddsVersions() async throws {
        let directory = TestGateway.makeDataDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withMockUpstream { upstream in
            func write(_ temperature: String) throws {
                let yaml = """
                    tenants:
                      - name: claims-dept
                    upstreams:
                      - name: mock
                        base_url: \(upstream.baseURL)
                        kind: openai
                    prompts:
                      - name: claims-system
                        tenant: claims-dept
                        labels: [production]
                        variables: {policy_type: {default: 车险}}
                        messages:
                          - {role: system, content: "险种：{{policy_type}}"}
                          - {role: user, content: "问题：{{input}}"}
                    models:
                      - name: claims-assistant
                        tenant: claims-dept
                        spec:
                          upstream: mock
                          model: echo
                          prompt: {name: claims-system, label: production}
                          params: {temperature: \(temperature)}
                        traffic: {latest: 100}
                    """
                try yaml.write(toFile: directory + "/catalog.yaml", atomically: true, encoding: .utf8)
            }
            try write("0")
            try await TestGateway.run(configure: { $0.catalogDir = directory }) { gw in
                let model = try await gw.admin(.GET, "/models/claims-assistant?tenant=claims-dept")
                #expect(model.json["latest_version"]?.numberValue?.intValue == 1)
                let store = gw.gateway.store
                let again = try await CatalogApplier(store: store).apply(directory: directory)
                #expect(again.changes.isEmpty, "applying twice changes nothing: \(again.changes)")
                try write("0.7")
                let changed = try await CatalogApplier(store: store).apply(directory: directory)
                #expect(changed.changes.count == 1)
                try await gw.gateway.reloadCatalog()
                let after = try await gw.admin(.GET, "/models/claims-assistant?tenant=claims-dept")
                #expect(after.json["latest_version"]?.numberValue?.intValue == 2)
                #expect(after.json["traffic"] == ["2": 100])
                #expect(after.json["versions"]?.arrayValue?.first?["spec"]?["params"]?["temperature"]?.numberValue?.literal == "0", "version 1 is unchanged")
                let key = try await gw.issueKey(tenant: "claims-dept").key
                _ = try await chat(gw, key: key, ["model": "claims-assistant", "messages": [["role": "user", "content": "手机丢了"]]])
                #expect(upstream.lastBody?["messages"]?.arrayValue?.last?["content"]?.stringValue == "问题：手机丢了")
                #expect(upstream.lastBody?["temperature"]?.numberValue?.doubleValue == 0.7)
            }
            try "models:\n  - name: broken\n    spec: {upstream: nowhere, model: x}\n".write(
                toFile: directory + "/zz-broken.yaml", atomically: true, encoding: .utf8)
            await #expect(throws: CatalogError.self) {
                try await TestGateway.run(dataDir: directory + "/data", configure: { $0.catalogDir = directory }) { _ in }
            }
        }
    }
}
