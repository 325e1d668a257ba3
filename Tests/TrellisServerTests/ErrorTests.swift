import Foundation
import OpenAIWire
import Testing

@testable import TrellisServer

@Suite struct ErrorTests {
    func expectOpenAIShape(_ reply: TestGateway.Reply, _ label: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
        let error = reply.json["error"]
        #expect(error?["message"]?.stringValue?.isEmpty == false, "\(label): message", sourceLocation: sourceLocation)
        #expect(error?["type"]?.stringValue != nil, "\(label): type", sourceLocation: sourceLocation)
        #expect(error?.objectValue?.keys.contains("param") == true, "\(label): param", sourceLocation: sourceLocation)
        #expect(error?.objectValue?.keys.contains("code") == true, "\(label): code", sourceLocation: sourceLocation)
        #expect(reply.headers.first(name: "content-type") == "application/json", "\(label)", sourceLocation: sourceLocation)
    }

    @Test func badRequestBodiesAre400WithAClearMessage() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            let json = [("Content-Type", "application/json")]
            let cases: [(String, [UInt8])] = [
                ("not json", Array("{model: echo}".utf8)),
                ("truncated", Array(#"{"model":"echo","messages":["#.utf8)),
                ("invalid utf-8", [0x7B, 0x22, 0x6D, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D]),
                ("duplicate keys", Array(#"{"model":"echo","model":"other","messages":[]}"#.utf8)),
                ("deep nesting", Array((String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)).utf8)),
                ("array body", Array("[1,2]".utf8)),
                ("missing messages", Array(#"{"model":"echo"}"#.utf8)),
                ("empty messages", Array(#"{"model":"echo","messages":[]}"#.utf8)),
                ("missing model", Array(#"{"messages":[{"role":"user","content":"x"}]}"#.utf8)),
                ("bad role", Array(#"{"model":"echo","messages":[{"role":"wizard","content":"x"}]}"#.utf8)),
                ("stream not bool", Array(#"{"model":"echo","stream":"yes","messages":[{"role":"user","content":"x"}]}"#.utf8)),
                ("negative max_tokens", Array(#"{"model":"echo","max_tokens":-1,"messages":[{"role":"user","content":"x"}]}"#.utf8)),
                ("huge max_tokens", Array(#"{"model":"echo","max_tokens":1e400,"messages":[{"role":"user","content":"x"}]}"#.utf8)),
                ("variables not strings", Array(#"{"model":"echo","variables":{"a":1},"messages":[{"role":"user","content":"x"}]}"#.utf8)),
                ("empty body", []),
            ]
            for (label, body) in cases {
                let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, rawBody: body, headers: json)
                #expect(reply.status == 400, "\(label): \(reply.text)")
                expectOpenAIShape(reply, label)
            }
            let missing = try await gw.request(.POST, "/v1/chat/completions", key: key, rawBody: Array(#"{"model":"echo"}"#.utf8), headers: json)
            #expect(missing.json["error"]?["param"]?.stringValue == "messages")
            #expect(upstream.requests.isEmpty, "no invalid request reached the upstream")
        }
    }

    @Test func sizeContentTypeMethodAndRouteErrors() async throws {
        try await TestGateway.withStandardSetup(configure: { $0.maxBodyBytes = 4096 }) { gw, _, key in
            let big = try await gw.request(
                .POST, "/v1/chat/completions", key: key,
                json: ["model": "echo", "messages": [["role": "user", "content": .string(String(repeating: "a", count: 10_000))]]])
            #expect(big.status == 413)
            expectOpenAIShape(big, "413")
            let form = try await gw.request(
                .POST, "/v1/chat/completions", key: key, rawBody: Array("a=b".utf8), headers: [("Content-Type", "application/x-www-form-urlencoded")])
            #expect(form.status == 415)
            expectOpenAIShape(form, "415")
            let wrongMethod = try await gw.request(.GET, "/v1/chat/completions", key: key)
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.headers.first(name: "allow") == "POST")
            expectOpenAIShape(wrongMethod, "405")
            let adminMethod = try await gw.admin(.PATCH, "/upstreams")
            #expect(adminMethod.status == 405)
            let unknown = try await gw.request(.GET, "/v2/whatever")
            #expect(unknown.status == 404)
            expectOpenAIShape(unknown, "404")
            let traversal = try await gw.admin(.GET, "/tenants/..%2F..%2Fetc%2Fpasswd")
            #expect(traversal.status == 404)
        }
    }

    @Test func upstreamFailuresAreNormalisedWithoutLeakingInternals() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            func call(_ model: String) async throws -> TestGateway.Reply {
                try await gw.request(
                    .POST, "/v1/chat/completions", key: key, json: ["model": .string(model), "messages": [["role": "user", "content": "x"]]])
            }
            let server = try await call("fail-500")
            #expect(server.status == 502)
            #expect(!server.text.contains("/srv/secret"), "stack traces and paths from the model server are not relayed")
            expectOpenAIShape(server, "500")
            let context = try await call("fail-400")
            #expect(context.status == 400 && context.errorCode == "context_length_exceeded")
            #expect(context.json["error"]?["message"]?.stringValue?.contains("maximum context length") == true)
            let vllm = try await call("vllm-400")
            #expect(vllm.status == 400)
            #expect(vllm.json["error"]?["message"]?.stringValue == "temperature must be non-negative")
            #expect(vllm.json["error"]?["code"]?.stringValue == "400", "vLLM's integer code becomes a string")
            let auth = try await call("fail-401")
            #expect(auth.status == 502 && auth.errorCode == "upstream_auth_failed")
            #expect(!auth.text.contains("sk-abc"))

            // Nothing listens on this port: connection refused.
            try await gw.createUpstream("dead", baseURL: "http://127.0.0.1:9/v1")
            try await gw.createModel("dead-model", spec: ["upstream": "dead", "model": "m"])
            let refused = try await call("dead-model")
            #expect(refused.status == 502 && refused.errorCode == "upstream_unavailable")
            #expect(!refused.text.contains("127.0.0.1:9"), "upstream addresses are not shown to tenants")
        }
    }

    @Test func fallbacksServeWhenTheFirstUpstreamFails() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await gw.createUpstream("dead", baseURL: "http://127.0.0.1:9/v1")
            try await gw.createModel(
                "resilient", spec: ["model": "echo", "deployments": [["upstream": "dead"]], "fallbacks": [["upstream": "mock"]]])
            let reply = try await gw.request(
                .POST, "/v1/chat/completions", key: key, json: ["model": "resilient", "messages": [["role": "user", "content": "x"]]])
            #expect(reply.status == 200)
            await gw.flushUsage()
            #expect(try await gw.gateway.store.usageEvents().last?.upstream == "mock")
            let health = try await gw.admin(.GET, "/upstreams/dead")
            #expect(health.json["health"]?["failures"]?.numberValue?.intValue == 1)
            // A request error (400) is not retried elsewhere.
            try await gw.createModel(
                "refuses", spec: ["model": "fail-400", "deployments": [["upstream": "mock"]], "fallbacks": [["upstream": "mock", "model": "echo"]]])
            let before = upstream.requests.count
            let refused = try await gw.request(
                .POST, "/v1/chat/completions", key: key, json: ["model": "refuses", "messages": [["role": "user", "content": "x"]]])
            #expect(refused.status == 400)
            #expect(upstream.requests.count == before + 1)
        }
    }

    @Test func upstreamCredentialsComeFromTheEnvironmentAndAreNeverShown() async throws {
        try await TestGateway.withStandardSetup(environment: ["MOCK_API_KEY": "sk-live-secret-value"]) { gw, upstream, key in
            try await gw.createUpstream("keyed", baseURL: upstream.baseURL, extra: ["api_key_env": "MOCK_API_KEY"])
            try await gw.createUpstream("unkeyed", baseURL: upstream.baseURL, extra: ["api_key_env": "NOT_SET_ANYWHERE"])
            try await gw.createModel("keyed-model", spec: ["upstream": "keyed", "model": "echo"])
            try await gw.createModel("unkeyed-model", spec: ["upstream": "unkeyed", "model": "echo"])
            let reply = try await gw.request(
                .POST, "/v1/chat/completions", key: key, json: ["model": "keyed-model", "messages": [["role": "user", "content": "x"]]])
            #expect(reply.status == 200)
            #expect(upstream.requests.last?.headers[.authorization] == "Bearer sk-live-secret-value")
            let shown = try await gw.admin(.GET, "/upstreams/keyed")
            #expect(shown.json["api_key_present"] == true)
            #expect(!shown.text.contains("sk-live-secret-value"))
            let missing = try await gw.request(
                .POST, "/v1/chat/completions", key: key, json: ["model": "unkeyed-model", "messages": [["role": "user", "content": "x"]]])
            #expect(missing.status == 502)
            #expect(try await gw.admin(.GET, "/upstreams/unkeyed").json["api_key_present"] == false)
            let inURL = try await gw.admin(.POST, "/upstreams", ["name": "bad", "base_url": "http://user:pass@10.0.0.1/v1"])
            #expect(inURL.status == 400 && inURL.json["error"]?["param"]?.stringValue == "base_url")
        }
    }
}
