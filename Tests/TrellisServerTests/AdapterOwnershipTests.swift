import Foundation
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

/// Fine-tuned adapters belong to their tenant: two tenants' adapters with one name are two adapters on the
/// model server, a client cannot pick an adapter with its own body fields, and a tenant's manage key cannot
/// point its models or adapters at another tenant's weights.
@Suite struct AdapterOwnershipTests {
    static func chat(_ gw: TestGateway, key: String, _ body: JSONObject) async throws -> TestGateway.Reply {
        var b = body
        if b["messages"] == nil { b["messages"] = [["role": "user", "content": "hello"]] }
        return try await gw.request(.POST, "/v1/chat/completions", key: key, json: .object(b))
    }

    /// Tenants acme and globex, each with an inference key and a vLLM adapter named `support` (its own path),
    /// and a model `assist` over it.
    static func twoTenantsWithSupport(_ gw: TestGateway, upstream: MockUpstream) async throws -> (acme: String, globex: String) {
        try await gw.createUpstream("vllm", baseURL: upstream.baseURL, kind: "vllm")
        var keys: [String] = []
        for tenant in ["acme", "globex"] {
            try await gw.createTenant(tenant)
            let created = try await gw.admin(
                .POST, "/adapters",
                ["name": "support", "tenant": .string(tenant), "upstream": "vllm", "base_model": "qwen", "path": .string("/adapters/\(tenant)")])
            try #require(created.status == 201, "\(created.text)")
            try await gw.createModel("assist", tenant: tenant, spec: ["adapter": "support"])
            keys.append(try await gw.issueKey(tenant: tenant).key)
        }
        return (keys[0], keys[1])
    }

    @Test("two tenants' adapters with one name are loaded and served as two, each from its own path")
    func sameNameAdaptersStayApart() async throws {
        try await withMockUpstream { upstream in
            try await TestGateway.run { gw in
                let (acme, globex) = try await Self.twoTenantsWithSupport(gw, upstream: upstream)
                #expect(try await Self.chat(gw, key: acme, ["model": "assist"]).status == 200)
                let acmeServed = try #require(upstream.lastBody?["model"]?.stringValue)
                #expect(try await Self.chat(gw, key: globex, ["model": "assist"]).status == 200)
                let globexServed = try #require(upstream.lastBody?["model"]?.stringValue)
                #expect(acmeServed != globexServed)
                #expect(upstream.adapterPath(acmeServed) == "/adapters/acme")
                #expect(upstream.adapterPath(globexServed) == "/adapters/globex", "globex is served with globex's weights")
                #expect(Set(upstream.loads) == [acmeServed, globexServed])
                #expect(!acmeServed.contains("globex") && acmeServed != "support")
            }
        }
    }

    @Test("'already loaded' counts as loaded only when the server has that name from this adapter's path")
    func alreadyLoadedIsCheckedAgainstThePath() async throws {
        try await withMockUpstream { upstream in
            try await TestGateway.run { gw in
                let (acme, globex) = try await Self.twoTenantsWithSupport(gw, upstream: upstream)
                let snapshot = gw.gateway.snapshot
                let acmeID = try #require(snapshot.tenant(named: "acme")?.id)
                let globexID = try #require(snapshot.tenant(named: "globex")?.id)
                // Someone else loaded acme's served name from other weights: acme's call must not be sent there.
                let acmeName = Adapter.loadedName(tenantID: acmeID, name: "support", path: "/adapters/acme")
                upstream.preload(name: acmeName, path: "/somewhere/else")
                let refused = try await Self.chat(gw, key: acme, ["model": "assist"])
                #expect(refused.status >= 500, "\(refused.text)")
                #expect(!refused.text.contains(acmeID), "the served name (with the owner's id) is not shown")
                #expect(upstream.calls(acmeName) == 0, "no chat call went to the foreign weights")
                // Loaded before from the right path (another replica, a restart of the gateway): accepted.
                let globexName = Adapter.loadedName(tenantID: globexID, name: "support", path: "/adapters/globex")
                upstream.preload(name: globexName, path: "/adapters/globex")
                #expect(try await Self.chat(gw, key: globex, ["model": "assist"]).status == 200)
                #expect(upstream.lastBody?["model"]?.stringValue == globexName)
            }
        }
    }

    @Test("another tenant's adapter path, and the gateway's served names, cannot be taken by anyone else")
    func pathsAndServedNamesAreOwned() async throws {
        try await withMockUpstream { upstream in
            try await TestGateway.run { gw in
                _ = try await Self.twoTenantsWithSupport(gw, upstream: upstream)
                try await gw.createTenant("initech")
                // The path picks the weights: acme's, written another way, for another tenant, is refused.
                let borrowed = try await gw.admin(
                    .POST, "/adapters", ["name": "mine", "tenant": "initech", "upstream": "vllm", "base_model": "qwen", "path": "/adapters/x/../acme/"])
                #expect(borrowed.status == 404, "\(borrowed.text)")
                // Served names in the gateway's own namespace are reserved for the adapters they belong to.
                let acmeID = try #require(gw.gateway.snapshot.tenant(named: "acme")?.id)
                let acmeName = Adapter.loadedName(tenantID: acmeID, name: "support", path: "/adapters/acme")
                let manager = try await gw.issueKey(tenant: "initech", ["scopes": ["manage"]]).key
                let spec = try await gw.request(
                    .POST, "/admin/v1/models", key: manager, json: ["name": "sneaky", "spec": ["upstream": "vllm", "model": .string(acmeName)]])
                #expect(spec.status == 404, "\(spec.text)")
                let guessed = try await gw.request(
                    .POST, "/admin/v1/models", key: manager, json: ["name": "early", "spec": ["upstream": "vllm", "model": "trellis.tnt_x.support.000000"]])
                #expect(guessed.status == 404, "a name for an adapter not registered yet is reserved too")
                let served = try await gw.request(
                    .POST, "/admin/v1/adapters", key: manager,
                    json: ["name": "n", "upstream": "vllm", "base_model": "qwen", "served_model": .string(acmeName)])
                #expect(served.status == 404)
                // acme's own model over its own served name is fine.
                let own = try await gw.admin(.POST, "/models", ["name": "direct", "tenant": "acme", "spec": ["upstream": "vllm", "model": .string(acmeName)]])
                #expect(own.status == 201, "\(own.text)")
            }
        }
    }

    @Test("a client's own adapter-selecting fields never reach the upstream; the gateway's lora does")
    func clientAdapterFieldsAreStripped() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await gw.createUpstream("llama", baseURL: upstream.baseURL, kind: "llamacpp")
            #expect(try await gw.admin(.POST, "/adapters", ["name": "by-id", "upstream": "llama", "base_model": "smollm2", "lora_id": 2]).status == 201)
            try await gw.createModel("ft-id", spec: ["adapter": "by-id"])
            let hostile: JSONObject = [
                "lora": [["id": 7, "scale": 1.0]], "lora_path": "/etc/other", "adapter_id": "globex-support", "lora_request": ["lora_int_id": 7],
                "temperature": 0.5,
            ]
            var body = hostile
            body["model"] = "echo"
            #expect(try await Self.chat(gw, key: key, body).status == 200)
            let sent = try #require(upstream.lastBody?.objectValue)
            for field in ["lora", "lora_path", "adapter_id", "lora_request"] { #expect(sent[field] == nil, "\(field) was stripped") }
            #expect(sent["temperature"] == 0.5, "other fields pass through")
            body["model"] = "ft-id"
            #expect(try await Self.chat(gw, key: key, body).status == 200)
            #expect(upstream.lastBody?["lora"] == [["id": 2, "scale": 1.0]], "only the registered adapter's lora")
            // Embeddings too.
            try await gw.createModel("embedder", spec: ["upstream": "mock", "model": "embed-small"])
            let embedded = try await gw.request(
                .POST, "/v1/embeddings", key: key, json: ["model": "embedder", "input": "hi", "lora": [["id": 7, "scale": 1.0]], "adapter_id": "x"])
            #expect(embedded.status == 200, "\(embedded.text)")
            let embedBody = try #require(upstream.requests.last { $0.path.hasSuffix("/embeddings") }?.body.objectValue)
            #expect(embedBody["lora"] == nil && embedBody["adapter_id"] == nil)
        }
    }

    @Test("a manage key cannot register an adapter or model over another tenant's served model or LoRA id")
    func manageKeyCannotBorrowWeights() async throws {
        try await withMockUpstream { upstream in
            try await TestGateway.run { gw in
                try await gw.createUpstream("mock", baseURL: upstream.baseURL)
                try await gw.createUpstream("llama", baseURL: upstream.baseURL, kind: "llamacpp")
                try await gw.createTenant("acme")
                try await gw.createTenant("globex")
                let acme = try await gw.issueKey(tenant: "acme", ["scopes": ["manage"]]).key
                let globex = try await gw.issueKey(tenant: "globex", ["scopes": ["manage"]]).key
                func post(_ key: String, _ path: String, _ json: JSONValue) async throws -> TestGateway.Reply {
                    try await gw.request(.POST, "/admin/v1" + path, key: key, json: json)
                }
                #expect(
                    try await post(acme, "/adapters", ["name": "claims", "upstream": "mock", "base_model": "b", "served_model": "acme-claims-ft"]).status == 201
                )
                #expect(try await post(acme, "/adapters", ["name": "by-id", "upstream": "llama", "base_model": "b", "lora_id": 3]).status == 201)
                let served = try await post(globex, "/adapters", ["name": "mine", "upstream": "mock", "base_model": "b", "served_model": "acme-claims-ft"])
                #expect(served.status == 404, "\(served.text)")
                #expect(served.json["error"]?["code"]?.stringValue == "not_found")
                #expect(!served.text.contains("acme\""), "the owner is not named")
                #expect(try await post(globex, "/adapters", ["name": "mine", "upstream": "llama", "base_model": "b", "lora_id": 3]).status == 404)
                let model = try await post(globex, "/models", ["name": "borrow", "spec": ["upstream": "mock", "model": "acme-claims-ft"]])
                #expect(model.status == 404, "\(model.text)")
                let fallback = try await post(
                    globex, "/models",
                    ["name": "borrow2", "spec": ["upstream": "mock", "model": "echo", "fallbacks": [["upstream": "mock", "model": "acme-claims-ft"]]]])
                #expect(fallback.status == 404, "\(fallback.text)")
                let params = try await post(
                    globex, "/models", ["name": "sideways", "spec": ["upstream": "llama", "model": "b", "params": ["lora": [["id": 3, "scale": 1]]]]])
                #expect(params.status == 400 && params.json["error"]?["param"]?.stringValue == "spec.params.lora", "\(params.text)")
                // A base model is no one's: an adapter over it (served as its own base, or a model a shared
                // industry model uses) claims nothing, so other tenants keep using it.
                try await gw.createModel("shared-base", spec: ["upstream": "mock", "model": "qwen-base"])
                #expect(
                    try await post(acme, "/adapters", ["name": "grab", "upstream": "mock", "base_model": "b", "served_model": "qwen-base"]).status == 201)
                #expect(
                    try await post(acme, "/adapters", ["name": "same", "upstream": "mock", "base_model": "llama-base", "served_model": "llama-base"]).status
                        == 201)
                #expect(try await post(globex, "/models", ["name": "on-base", "spec": ["upstream": "mock", "model": "qwen-base"]]).status == 201)
                #expect(try await post(globex, "/models", ["name": "on-llama", "spec": ["upstream": "mock", "model": "llama-base"]]).status == 201)
                // The owner itself, and another LoRA id, are fine.
                #expect(try await post(acme, "/models", ["name": "own", "spec": ["upstream": "mock", "model": "acme-claims-ft"]]).status == 201)
                #expect(try await post(globex, "/adapters", ["name": "other", "upstream": "llama", "base_model": "b", "lora_id": 4]).status == 201)
            }
        }
    }
}
