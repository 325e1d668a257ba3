import AsyncHTTPClient
import Foundation
import NIOCore
import OpenAIWire
import Synchronization
import Testing
import TrellisCore
import TrellisStore

@testable import TrellisServer

/// A clock the test moves by hand: the rate limiter's buckets refill only when the test says a minute passed.
final class FakeClock: Sendable {
    private let seconds = Mutex(1_000.0)
    var now: @Sendable () -> Double { { self.seconds.withLock { $0 } } }
    func advance(_ by: Double) { seconds.withLock { $0 += by } }
}

/// Rate limits, quotas, usage analytics, feedback, interaction capture, dataset export and the audit trail,
/// end to end through the HTTP API against the mock upstream.
@Suite struct GovernanceTests {
    static func chat(_ model: String, _ text: String = "x", user: String? = nil, maxTokens: Int? = nil, stream: Bool = false) -> JSONValue {
        var body: JSONObject = ["model": .string(model), "messages": [["role": "user", "content": .string(text)]]]
        if let user { body["user"] = .string(user) }
        if let maxTokens { body["max_tokens"] = .int(maxTokens) }
        if stream {
            body["stream"] = true
            body["stream_options"] = ["include_usage": true]
        }
        return .object(body)
    }

    static func requestID(_ reply: TestGateway.Reply) -> String { reply.headers.first(name: "x-request-id") ?? "" }

    /// Sends a chat request.
    static func send(_ gw: TestGateway, key: String, _ body: JSONValue) async throws -> TestGateway.Reply {
        try await gw.request(.POST, "/v1/chat/completions", key: key, json: body)
    }

    // MARK: Rate limits

    @Test func keyRPMRefusesTheFourthRequestWithHeadersThatNameTheLimit() async throws {
        let clock = FakeClock()
        try await TestGateway.withStandardSetup(clock: clock.now) { gw, upstream, _ in
            let limited = try await gw.issueKey(tenant: "acme", ["rpm": 3])
            let free = try await gw.issueKey(tenant: "acme")
            for i in 0..<3 {
                let ok = try await Self.send(gw, key: limited.key, Self.chat("echo"))
                #expect(ok.status == 200)
                #expect(ok.headers.first(name: "x-ratelimit-limit-requests") == "3")
                #expect(ok.headers.first(name: "x-ratelimit-remaining-requests") == String(2 - i))
                #expect(ok.headers.first(name: "x-ratelimit-reset-requests") == ["20s", "40s", "1m0s"][i])
            }
            let refused = try await Self.send(gw, key: limited.key, Self.chat("echo"))
            #expect(refused.status == 429)
            #expect(refused.errorCode == "rate_limit_exceeded")
            #expect(refused.json["error"]?["type"]?.stringValue == "rate_limit_error")
            let message = refused.json["error"]?["message"]?.stringValue ?? ""
            #expect(message.contains("key requests per minute"), "the message names the limit: \(message)")
            #expect(refused.headers.first(name: "retry-after") == "20", "one request refills in 20 s")
            #expect(refused.headers.first(name: "x-ratelimit-limit-requests") == "3")
            #expect(refused.headers.first(name: "x-ratelimit-remaining-requests") == "0")
            #expect(refused.headers.first(name: "x-ratelimit-reset-requests") == "1m0s")
            #expect(upstream.requests.count == 3, "the refused request never reached the model")
            // Another key of the same tenant has no limit of its own.
            #expect(try await Self.send(gw, key: free.key, Self.chat("echo")).status == 200)
            // 19 s later, still refused; a minute later, the burst is back.
            clock.advance(19)
            #expect(try await Self.send(gw, key: limited.key, Self.chat("echo")).status == 429)
            clock.advance(41)
            for _ in 0..<3 { #expect(try await Self.send(gw, key: limited.key, Self.chat("echo")).status == 200) }
            #expect(try await Self.send(gw, key: limited.key, Self.chat("echo")).status == 429)
        }
    }

    @Test func tenantLimitsSetByPatchApplyAcrossKeysAndNotToOtherTenants() async throws {
        let clock = FakeClock()
        try await TestGateway.withStandardSetup(clock: clock.now) { gw, _, first in
            let second = try await gw.issueKey(tenant: "acme").key
            try await gw.createTenant("beta")
            let other = try await gw.issueKey(tenant: "beta").key
            let patched = try await gw.admin(.PATCH, "/tenants/acme", ["rpm": 3, "tpm": 10_000])
            #expect(patched.status == 200, "\(patched.text)")
            #expect(patched.json["rpm"] == 3 && patched.json["tpm"] == 10_000 && patched.json["concurrency"] == .null)
            #expect(try await gw.admin(.GET, "/tenants/acme").json["rpm"] == 3, "the settings are kept")
            #expect(try await Self.send(gw, key: first, Self.chat("echo")).status == 200)
            #expect(try await Self.send(gw, key: second, Self.chat("echo")).status == 200)
            #expect(try await Self.send(gw, key: first, Self.chat("echo")).status == 200)
            let refused = try await Self.send(gw, key: second, Self.chat("echo"))
            #expect(refused.status == 429)
            #expect(refused.json["error"]?["message"]?.stringValue?.contains("tenant requests per minute") == true, "\(refused.text)")
            #expect(refused.headers.first(name: "x-ratelimit-limit-requests") == "3")
            // The other tenant is not affected.
            for _ in 0..<5 { #expect(try await Self.send(gw, key: other, Self.chat("echo")).status == 200) }
            // Fields left out keep their values; null clears one.
            let cleared = try await gw.admin(.PATCH, "/tenants/acme", ["rpm": .null])
            #expect(cleared.json["rpm"] == .null && cleared.json["tpm"] == 10_000)
            #expect(try await Self.send(gw, key: second, Self.chat("echo")).status == 200)
            // Bad values are refused, and only the operator may change a tenant's limits.
            #expect(try await gw.admin(.PATCH, "/tenants/acme", ["rpm": 0]).status == 400)
            #expect(try await gw.admin(.PATCH, "/tenants/acme", ["rpm": "many"]).status == 400)
            #expect(try await gw.admin(.PATCH, "/tenants/acme", ["burst": 3]).status == 400)
            #expect(try await gw.admin(.PATCH, "/tenants/nope", ["rpm": 3]).status == 404)
            let manager = try await gw.issueKey(tenant: "acme", ["scopes": ["manage"]]).key
            #expect(try await gw.request(.PATCH, "/admin/v1/tenants/acme", key: manager, json: ["rpm": 1_000_000]).status == 403)
        }
    }

    @Test func tpmReservesMaxTokensAndSettlesOnActualUse() async throws {
        let clock = FakeClock()
        try await TestGateway.withStandardSetup(clock: clock.now) { gw, upstream, _ in
            let key = try await gw.issueKey(tenant: "acme", ["tpm": 100]).key
            // Prompt estimate 7 ("x" in one user message) + max_tokens 50 = 57 reserved; the mock reports 7 + 50.
            let first = try await Self.send(gw, key: key, Self.chat("echo", maxTokens: 50))
            #expect(first.status == 200)
            #expect(first.headers.first(name: "x-ratelimit-limit-tokens") == "100")
            #expect(first.headers.first(name: "x-ratelimit-remaining-tokens") == "43")
            #expect(first.headers.first(name: "x-ratelimit-reset-tokens") == "35s")
            // 57 more do not fit in the 43 left.
            let refused = try await Self.send(gw, key: key, Self.chat("echo", maxTokens: 50))
            #expect(refused.status == 429)
            #expect(refused.json["error"]?["message"]?.stringValue?.contains("key tokens per minute") == true)
            #expect(refused.headers.first(name: "x-ratelimit-remaining-tokens") == "43")
            // 7 + 36 = 43 does.
            #expect(try await Self.send(gw, key: key, Self.chat("echo", maxTokens: 36)).status == 200)
            #expect(try await Self.send(gw, key: key, Self.chat("echo", maxTokens: 1)).status == 429)
            // More than the whole tpm can never fit.
            let tooBig = try await Self.send(gw, key: key, Self.chat("echo", maxTokens: 500))
            #expect(tooBig.status == 429 && tooBig.json["error"]?["message"]?.stringValue?.contains("max_tokens") == true)
            // A minute later the bucket is full again.
            clock.advance(60)
            #expect(try await Self.send(gw, key: key, Self.chat("echo", maxTokens: 93)).status == 200)
            #expect(upstream.requests.count == 3)
        }
    }

    @Test func aStreamCutShortSettlesOnWhatItUsed() async throws {
        let clock = FakeClock()
        try await TestGateway.withStandardSetup(clock: clock.now) { gw, upstream, _ in
            let issued = try await gw.issueKey(tenant: "acme", ["tpm": 200])
            // A stream reserving 7 + 150 = 157 that sends its first chunk and then only comments (so what it
            // used does not depend on how fast the test runs); the client leaves after that chunk.
            try await gw.createModel("quiet-stream", spec: ["upstream": "mock", "model": "quiet-stream"])
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let request = gw.postJSON("/v1/chat/completions", key: issued.key, json: Self.chat("quiet-stream", maxTokens: 150, stream: true))
            let response = try await client.execute(request, timeout: .seconds(30))
            #expect(response.status == .ok)
            #expect(response.headers.first(name: "x-ratelimit-remaining-tokens") == "43")
            var iterator = response.body.makeAsyncIterator()
            // Read until the first content chunk has arrived.
            while let buffer = try await iterator.next() {
                if String(buffer: buffer).contains("first") { break }
            }
            #expect(await upstream.waitFor("quiet-stream:started"))
            // While it runs, its reservation holds: 57 do not fit.
            #expect(try await Self.send(gw, key: issued.key, Self.chat("echo", maxTokens: 50)).status == 429)
            try await client.shutdown()
            #expect(await upstream.waitFor("cancelled:quiet-stream"))
            try await waitUntil { gw.gateway.limiter.inFlight(keyID: issued.id) == 0 }
            await gw.flushUsage()
            let row = try #require(try await gw.gateway.store.usageEvents().first { $0.status == 499 })
            let used = row.promptTokens + row.completionTokens
            #expect(used >= 7 && used < 50, "a few tokens were used before the client left: \(used)")
            // Only what was used stays taken: 157 fit again if used ≤ 43.
            #expect(try await Self.send(gw, key: issued.key, Self.chat("echo", maxTokens: 150)).status == 200)
        }
    }

    @Test func concurrencyCapRefusesWhileARequestHangsAndFreesTheSlotWhenItEnds() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, _ in
            let issued = try await gw.issueKey(tenant: "acme", ["concurrency": 1])
            #expect(try await gw.admin(.GET, "/tenants/acme/keys").json["data"]?.arrayValue?.contains { $0["concurrency"] == 1 } == true)
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let request = gw.postJSON("/v1/chat/completions", key: issued.key, json: Self.chat("hang"))
            let pending = Task { try await client.execute(request, timeout: .seconds(60)) }
            #expect(await upstream.waitFor("hanging"))
            #expect(gw.gateway.limiter.inFlight(keyID: issued.id) == 1)
            let refused = try await Self.send(gw, key: issued.key, Self.chat("echo"))
            #expect(refused.status == 429)
            #expect(refused.errorCode == "rate_limit_exceeded")
            #expect(refused.json["error"]?["message"]?.stringValue?.contains("key concurrent requests") == true, "\(refused.text)")
            #expect(refused.headers.first(name: "retry-after") == "1")
            // The hanging client goes away: its slot comes back.
            pending.cancel()
            _ = try? await pending.value
            try await client.shutdown()
            #expect(await upstream.waitFor("cancelled:hang"))
            try await waitUntil { gw.gateway.limiter.inFlight(keyID: issued.id) == 0 }
            #expect(try await Self.send(gw, key: issued.key, Self.chat("echo")).status == 200)
            #expect(try await Self.send(gw, key: issued.key, Self.chat("echo")).status == 200, "a finished request frees its slot")
        }
    }

    @Test func monthlyQuotaIsInsufficientQuotaAndSurvivesARestart() async throws {
        let dataDir = TestGateway.makeDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        try await withMockUpstream { upstream in
            var acmeID = ""
            try await TestGateway.run(dataDir: dataDir) { gw in
                let key = try await gw.standardSetup(upstream: upstream)
                try await gw.createTenant("beta")
                let patched = try await gw.admin(.PATCH, "/tenants/acme", ["monthly_token_quota": 55])
                #expect(patched.json["monthly_token_quota"] == 55)
                acmeID = try #require(gw.gateway.snapshot.tenant(named: "acme")?.id)
                // Each request: 7 + 5 reserved, 7 + 5 used. Four fit (48); a fifth would make 60.
                for _ in 0..<4 { #expect(try await Self.send(gw, key: key, Self.chat("echo", maxTokens: 5)).status == 200) }
                #expect(gw.gateway.limiter.monthUsed(tenantID: acmeID) == 48)
                let refused = try await Self.send(gw, key: key, Self.chat("echo", maxTokens: 5))
                #expect(refused.status == 429)
                #expect(refused.errorCode == "insufficient_quota")
                #expect(refused.json["error"]?["type"]?.stringValue == "insufficient_quota")
                #expect(Int(refused.headers.first(name: "retry-after") ?? "") ?? 0 >= 1)
            }
            // A new process on the same data: the month's use comes back from the stored usage.
            try await TestGateway.run(dataDir: dataDir) { gw in
                #expect(gw.gateway.limiter.monthUsed(tenantID: acmeID) == 48)
                let key = try await gw.issueKey(tenant: "acme").key
                let refused = try await Self.send(gw, key: key, Self.chat("echo", maxTokens: 5))
                #expect(refused.status == 429 && refused.errorCode == "insufficient_quota", "\(refused.text)")
                let beta = try await gw.issueKey(tenant: "beta").key
                #expect(try await Self.send(gw, key: beta, Self.chat("echo", maxTokens: 5)).status == 200, "another tenant has no quota")
                // Raising the quota lets the tenant go on.
                _ = try await gw.admin(.PATCH, "/tenants/acme", ["monthly_token_quota": 1_000])
                #expect(try await Self.send(gw, key: key, Self.chat("echo", maxTokens: 5)).status == 200)
            }
        }
    }

    // MARK: Usage analytics

    /// acme: echo ×3 (+1 stream), claims@1 ×2, claims@2 ×1, fail-500 ×1, with end users u1–u4.
    static func sendMix(_ gw: TestGateway, key: String) async throws {
        let sends: [(JSONValue, Int)] = [
            (chat("echo", user: "u1", maxTokens: 5), 200), (chat("echo", user: "u2", maxTokens: 5), 200),
            (chat("echo", user: "u1", maxTokens: 5), 200), (chat("echo", user: "u4", maxTokens: 2, stream: true), 200),
            (chat("claims@1", user: "u3", maxTokens: 4), 200), (chat("claims@1", user: "u3", maxTokens: 4), 200),
            (chat("claims@2", user: "u1", maxTokens: 4), 200), (chat("fail-500", user: "u2", maxTokens: 5), 502),
        ]
        for (body, status) in sends {
            let reply = try await send(gw, key: key, body)
            #expect(reply.status == status, "\(reply.text)")
        }
    }

    static func setUpClaims(_ gw: TestGateway) async throws {
        try await gw.createModel("claims", spec: ["upstream": "mock", "model": "echo"])
        let v2 = try await gw.admin(.POST, "/models/claims/versions", ["spec": ["upstream": "mock", "model": "no-usage", "params": ["temperature": 0]]])
        #expect(v2.status == 201)
    }

    static func rows(_ reply: TestGateway.Reply) -> [JSONValue] { reply.json["data"]?.arrayValue ?? [] }

    static func row(_ reply: TestGateway.Reply, _ field: String, _ value: JSONValue) -> JSONValue? {
        rows(reply).first { $0[field] == value }
    }

}
