import AsyncHTTPClient
import Foundation
import OpenAIWire
import Testing
import TrellisCore
import TrellisStore
import TrellisStoreTestSupport

@testable import TrellisServer

/// Three replicas on one PostgreSQL database are one gateway for the limits: a key's requests per minute hold for
/// the three together. Needs the test cluster (`TRELLIS_TEST_POSTGRES_URL`).
@Suite("Cluster-wide limits", .serialized)
struct ClusterLimitTests {
    static let chat: JSONValue = ["model": "echo", "messages": [["role": "user", "content": "hello"]], "max_tokens": 5]

    /// Three gateways on one new database, each set up by `configure`, with the mock upstream as `mock` and a model
    /// `echo`, and tenant `acme` known to all three.
    static func withReplicas<T>(
        configure: @escaping (inout TrellisConfig) -> Void = { _ in }, _ body: ([TestGateway], MockUpstream) async throws -> T
    ) async throws -> T {
        let settings = try await TestDatabases.create()
        var small = settings
        small.maxConnections = 4
        return try await withMockUpstream { upstream in
            try await TestGateway.onStore(small, configure: configure) { a in
                try await TestGateway.onStore(small, configure: configure) { b in
                    try await TestGateway.onStore(small, configure: configure) { c in
                        _ = try await a.standardSetup(upstream: upstream)
                        return try await body([a, b, c], upstream)
                    }
                }
            }
        }
    }

    /// Waits until every replica's last sync counted all of them live.
    static func untilAllLive(_ replicas: [TestGateway]) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while !replicas.allSatisfy({ ($0.gateway.limitSync?.liveReplicas ?? 0) == replicas.count }) {
            try #require(ContinuousClock.now < deadline, "the replicas never counted each other live")
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// A key of `acme` with `fields`, loaded by every replica.
    static func issueKey(_ replicas: [TestGateway], _ fields: JSONObject) async throws -> String {
        let key = try await replicas[0].issueKey(tenant: "acme", fields).key
        for replica in replicas { try await replica.gateway.reloadCatalog() }
        return key
    }

    /// Sends chat requests round-robin across `replicas` from three clients for `seconds` of real time (paced, so
    /// that the test does not load the machine); answers (accepted, refused, other).
    static func drive(_ replicas: [TestGateway], key: String, seconds: Double) async throws -> (accepted: Int, refused: Int, other: [String]) {
        let counts = Shared((accepted: 0, refused: 0, other: [String]()))
        let end = ContinuousClock.now + .milliseconds(Int64(seconds * 1_000))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<3 {
                group.addTask {
                    var turn = worker
                    while ContinuousClock.now < end {
                        let reply = try await replicas[turn % replicas.count].request(.POST, "/v1/chat/completions", key: key, json: chat)
                        counts.withLock { c in
                            switch reply.status {
                            case 200: c.accepted += 1
                            case 429: c.refused += 1
                            default: c.other.append("\(reply.status) \(reply.text.prefix(200))")
                            }
                        }
                        turn += 1
                        try await Task.sleep(for: .milliseconds(40))
                    }
                }
            }
            try await group.waitForAll()
        }
        return counts.value
    }

    @Test("120 requests/minute for 20 s through three replicas: at most 184 accepted (one process: 160)")
    func requestsPerMinuteHoldAcrossReplicas() async throws {
        try await Self.withReplicas { replicas, _ in
            let key = try await Self.issueKey(replicas, ["rpm": 120])
            let result = try await Self.drive(replicas, key: key, seconds: 20)
            print("cluster limits: accepted \(result.accepted), refused \(result.refused) across 3 replicas at 120 rpm over 20 s")
            #expect(result.other.isEmpty, "\(result.other.prefix(3))")
            #expect(result.accepted <= 184, "accepted \(result.accepted), refused \(result.refused)")
            // Not starved either: the burst alone is 120 (unless the machine could not even send that many).
            let sent = result.accepted + result.refused
            #expect(result.accepted >= min(100, sent / 3), "accepted \(result.accepted) of \(sent)")
            #expect(replicas.allSatisfy { ($0.gateway.limitSync?.roundsCompleted ?? 0) > 0 }, "every replica synced")
        }
    }

    @Test("a refusal on one replica names the limit; each replica's first request finds the cluster's budget")
    func refusalsAndFirstRequests() async throws {
        // A request with no lease waits for a sync up to 5 sync intervals (at least 1 s), then is refused: a full
        // parallel run can hold the database's answer past 1 s, so the syncs here are 2 s apart (a 10 s wait).
        try await Self.withReplicas(configure: { $0.limitsSyncIntervalMs = 2_000 }) { replicas, upstream in
            let key = try await Self.issueKey(replicas, ["rpm": 3])
            // The promise holds once each replica knows the others are live: a replica that counts fewer leases a
            // larger share (a busy machine can delay the first syncs past the first requests).
            try await Self.untilAllLive(replicas)
            var statuses: [Int] = []
            for replica in replicas + replicas {
                statuses.append(try await replica.request(.POST, "/v1/chat/completions", key: key, json: Self.chat).status)
            }
            #expect(statuses.filter { $0 == 200 }.count == 3, "\(statuses)")
            #expect(statuses.prefix(3).allSatisfy { $0 == 200 }, "each replica's first request is admitted: \(statuses)")
            let refused = try await replicas[1].request(.POST, "/v1/chat/completions", key: key, json: Self.chat)
            #expect(refused.status == 429 && refused.errorCode == "rate_limit_exceeded")
            #expect(refused.json["error"]?["message"]?.stringValue?.contains("key requests per minute") == true, "\(refused.text)")
            #expect(Int(refused.headers.first(name: "retry-after") ?? "") ?? 0 >= 1)
            #expect(upstream.requests.count == 3)
        }
    }

    @Test("a tenant's month quota is one quota for the three replicas")
    func monthQuotaAcrossReplicas() async throws {
        try await Self.withReplicas { replicas, _ in
            #expect(try await replicas[0].admin(.PATCH, "/tenants/acme", ["monthly_token_quota": 100]).status == 200)
            let key = try await Self.issueKey(replicas, [:])
            // Each request reserves 13 (prompt estimate 8 + max_tokens 5) and uses 12 (the mock reports 7 + 5): one
            // process admits eight (96 tokens); the replicas admit as many as their leases fit, never past the quota.
            var statuses: [Int] = []
            var refusals: [String?] = []
            for i in 0..<15 {
                let reply = try await replicas[i % 3].request(.POST, "/v1/chat/completions", key: key, json: Self.chat)
                statuses.append(reply.status)
                if reply.status != 200 { refusals.append(reply.errorCode) }
            }
            let accepted = statuses.filter { $0 == 200 }.count
            #expect(accepted * 12 <= 100, "\(statuses)")
            // Tokens a replica holds but cannot use (less than one request) are under 13 on each of the three.
            #expect(accepted >= 5, "\(statuses)")
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 }, "\(statuses)")
            #expect(refusals.allSatisfy { $0 == "insufficient_quota" }, "\(refusals)")
        }
    }

    @Test("a key's concurrency cap is shared out: each of three replicas lets one of three run")
    func concurrencyIsAPerReplicaShare() async throws {
        try await Self.withReplicas { replicas, upstream in
            let key = try await Self.issueKey(replicas, ["concurrency": 3])
            try await waitUntil { replicas.allSatisfy { $0.gateway.limitSync?.liveReplicas == 3 } }
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let hanging = replicas[0].postJSON("/v1/chat/completions", key: key, json: ["model": "hang", "messages": [["role": "user", "content": "x"]]])
            let pending = Task { try await client.execute(hanging, timeout: .seconds(60)) }
            #expect(await upstream.waitFor("hanging"))
            let refused = try await replicas[0].request(.POST, "/v1/chat/completions", key: key, json: Self.chat)
            #expect(refused.status == 429, "\(refused.text)")
            #expect(refused.json["error"]?["message"]?.stringValue?.contains("key concurrent requests") == true, "\(refused.text)")
            #expect(try await replicas[1].request(.POST, "/v1/chat/completions", key: key, json: Self.chat).status == 200, "another replica's share")
            pending.cancel()
            _ = try? await pending.value
            try await client.shutdown()
        }
    }
}
