import Foundation
import OpenAIWire
import Testing
import TrellisCore
import TrellisUpstream

@testable import TrellisServer

/// The smaller tenant boundaries: a manage key cannot mint keys above the limits it lives under, `n` answers
/// are reserved as `n` answers, ratings are rate limited and unknown ids cost no write, and a request is sent
/// where the catalog it was planned on says.
@Suite struct TenantBoundaryTests {
    @Test("a manage key's new keys are clamped to the deployment's key defaults and the tenant's limits; the operator's are not")
    func manageKeyMintsWithinItsLimits() async throws {
        try await TestGateway.run(configure: {
            $0.defaultKeyLimits = Limits(requestsPerMinute: 600, tokensPerMinute: 50_000, concurrency: 64)
        }) { gw in
            try await gw.createTenant("acme")
            #expect(try await gw.admin(.PATCH, "/tenants/acme", ["rpm": 100]).status == 200)
            let manager = try await gw.issueKey(tenant: "acme", ["scopes": ["manage"]]).key
            let asked: JSONValue = ["rpm": 100_000, "tpm": 1_000_000_000, "concurrency": 100_000]
            let minted = try await gw.request(.POST, "/admin/v1/tenants/acme/keys", key: manager, json: asked)
            #expect(minted.status == 201, "\(minted.text)")
            #expect(minted.json["rpm"] == 100, "the tenant's own rpm")
            #expect(minted.json["tpm"] == 50_000, "the deployment's key default")
            #expect(minted.json["concurrency"] == 64)
            let lower = try await gw.request(.POST, "/admin/v1/tenants/acme/keys", key: manager, json: ["rpm": 10])
            #expect(lower.json["rpm"] == 10 && lower.json["tpm"] == .null, "lower limits and unset ones are kept as asked")
            let byOperator = try await gw.admin(.POST, "/tenants/acme/keys", asked)
            #expect(byOperator.json["rpm"] == 100_000 && byOperator.json["concurrency"] == 100_000, "the operator may raise a key")
        }
    }

    @Test("admission reserves n answers: n × max_tokens beyond the key's tokens per minute is refused before any call")
    func nCountsInTheReservation() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, _ in
            let key = try await gw.issueKey(tenant: "acme", ["tpm": 1_000]).key
            let one: JSONValue = ["model": "echo", "max_tokens": 200, "messages": [["role": "user", "content": "hi"]]]
            #expect(try await gw.request(.POST, "/v1/chat/completions", key: key, json: one).status == 200)
            var many = one.objectValue ?? [:]
            many["n"] = 20
            let calls = upstream.calls("echo")
            let refused = try await gw.request(.POST, "/v1/chat/completions", key: key, json: .object(many))
            #expect(refused.status == 429, "\(refused.text)")
            #expect(upstream.calls("echo") == calls, "refused before the upstream was called")
            // A max_tokens near Int.max times n must be refused, not overflow (it trapped the process).
            many["max_tokens"] = .number(JSONNumber(validatedLiteral: "9223372036854775807"))
            many["n"] = 128
            let huge = try await gw.request(.POST, "/v1/chat/completions", key: key, json: .object(many))
            #expect(huge.status == 429, "\(huge.text)")
            let unlimited = try await gw.issueKey(tenant: "acme").key
            let admitted = try await gw.request(.POST, "/v1/chat/completions", key: unlimited, json: .object(many))
            #expect(admitted.status == 200, "no token limit: admitted, and the gateway still answers: \(admitted.text)")
            #expect(try await gw.request(.GET, "/healthz").status == 200)
        }
    }

    @Test("ratings are limited per key, and an unknown request id is answered without writing the usage buffer")
    func feedbackIsLimitedAndUnknownIdsCostNoFlush() async throws {
        try await TestGateway.withStandardSetup(configure: {
            $0.feedbackPerMinute = 3
            $0.usageFlushIntervalMs = 600_000
            $0.usageBatchSize = 10_000
        }) { gw, _, key in
            try await gw.createTenant("globex")
            let globex = try await gw.issueKey(tenant: "globex").key
            let answered = try await gw.request(.POST, "/v1/chat/completions", key: key, json: ResilienceTests.chat("echo"))
            let requestID = try #require(answered.headers.first(name: "x-request-id"))
            try await waitUntil { gw.gateway.usage.pendingCount == 1 }
            let unknown = try await gw.request(.POST, "/v1/feedback", key: key, json: ["request_id": "req_unknown", "rating": 1])
            #expect(unknown.status == 404)
            let foreign = try await gw.request(.POST, "/v1/feedback", key: globex, json: ["request_id": .string(requestID), "rating": 1])
            #expect(foreign.status == 404, "another tenant's request is as unknown")
            #expect(gw.gateway.usage.pendingCount == 1, "neither lookup flushed the buffer")
            let rated = try await gw.request(.POST, "/v1/feedback", key: key, json: ["request_id": .string(requestID), "rating": 1])
            #expect(rated.status == 201, "\(rated.text)")
            _ = try await gw.request(.POST, "/v1/feedback", key: key, json: ["request_id": "req_unknown2", "rating": 1])
            let limited = try await gw.request(.POST, "/v1/feedback", key: key, json: ["request_id": "req_unknown3", "rating": 1])
            #expect(limited.status == 429, "\(limited.text)")
            #expect(limited.headers.first(name: "Retry-After") != nil)
            #expect(try await gw.request(.POST, "/v1/feedback", key: globex, json: ["request_id": "req_x", "rating": 1]).status == 404, "per key")
        }
    }

    @Test("the dispatcher sends to the upstreams of the snapshot the request was planned on, not a newer one")
    func dispatcherUsesTheRequestsSnapshot() async throws {
        try await withMockUpstream { planned in
            try await withMockUpstream { current in
                try await TestGateway.run { gw in
                    _ = try await gw.standardSetup(upstream: current)
                    let live = try #require(gw.gateway.snapshot.upstreams["mock"])
                    var then = live
                    then.baseURL = planned.baseURL
                    let snapshot = CatalogSnapshot(generation: 1, tenants: [], keys: [], upstreams: [then], models: [])
                    let body = JSONWriter.encode(["model": "echo", "messages": [["role": "user", "content": "hi"]]])
                    let answered = try await Dispatcher(gateway: gw.gateway, snapshot: snapshot).send(
                        targets: [ModelSpec.Target(upstream: "mock", model: "echo")], path: "/chat/completions", stream: false, requestID: "req_t",
                        logger: gw.gateway.logger, body: { _ in body }
                    ) { response, upstream throws(UpstreamFailure) in
                        _ = try await response.collect(upTo: 1 << 20, upstream: upstream.name)
                        return upstream.baseURL
                    }
                    #expect(answered.value == planned.baseURL)
                    #expect(planned.calls("echo") == 1 && current.calls("echo") == 0)
                }
            }
        }
    }
}
