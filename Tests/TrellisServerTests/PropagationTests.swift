import Foundation
import OpenAIWire
import Testing
import TrellisCore
import TrellisStore
import TrellisStoreTestSupport

@testable import TrellisServer

/// Two replicas (two gateways on one PostgreSQL database of the test cluster): a change made through one holds on
/// the other as soon as it commits, through LISTEN/NOTIFY. Replica B's periodic check is an hour apart in these
/// cases, so only a notification (or the check after the listener reconnects) can bring a change across within the
/// generous deadlines. Waits are polls with deadlines; nothing passes by sleeping.
@Suite(
    "Changes reach every replica", .serialized)
struct PropagationTests {

    /// The periodic check at its longest: only a notification can deliver a change within a test.
    static func listenOnly(_ config: inout TrellisConfig) { config.catalogRefreshIntervalMs = 3_600_000 }

    static let chat: JSONValue = ["model": "claims", "messages": [["role": "user", "content": "hello"]]]

    /// Replicas A and B on one new database; B configured by `configureB` (A listens only, as well).
    static func replicas<T>(
        configureB: (inout TrellisConfig) -> Void = listenOnly, _ body: (PostgresSettings, TestGateway, TestGateway) async throws -> T
    ) async throws -> T {
        let settings = try await TestDatabases.create()
        return try await stopping({ try? await TestDatabases.drop(settings) }) {
            let result = try await TestGateway.onStore(settings, configure: listenOnly) { a in
                try await TestGateway.onStore(settings, configure: configureB) { b in
                    try await listening(settings, b, checksAtLeast: 1)
                    return try await body(settings, a, b)
                }
            }
            // Both stopped: their listeners' connections closed with them, none left behind.
            let left = "SELECT pid::text FROM pg_stat_activity WHERE datname = '\(settings.database)' AND application_name = 'trellis-listen'"
            try await eventually("the listeners' connections closed") { try await TestDatabases.strings(left, on: settings).isEmpty }
            return result
        }
    }

    /// The listeners' connections (`application_name` trellis-listen) on the database that have run LISTEN, each
    /// one's process id.
    static func listeners(_ settings: PostgresSettings) async throws -> Set<String> {
        let query = """
            SELECT pid::text FROM pg_stat_activity
            WHERE datname = '\(settings.database)' AND application_name = 'trellis-listen' AND query LIKE 'LISTEN%'
            """
        return Set(try await TestDatabases.strings(query, on: settings))
    }

    /// The checks `gw` ran on a signal (`trellis_catalog_change_checks_total` in its metrics).
    static func checks(_ gw: TestGateway) -> Int {
        let text = String(decoding: gw.gateway.metrics.render(), as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix(ChangeListener.checksMetric + " ") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
    }

    /// Waits until both replicas' listeners have run LISTEN and B has finished `checksAtLeast` checks (the one
    /// after connecting first of all), so that a change made afterwards can reach B by a notification alone.
    static func listening(_ settings: PostgresSettings, _ b: TestGateway, checksAtLeast count: Int, except: Set<String> = []) async throws {
        try await eventually("both replicas listening") {
            let now = try await listeners(settings)
            return now.count == 2 && now.isDisjoint(with: except) && checks(b) >= count
        }
    }

    /// Polls `condition` every 20 ms until it holds, failing the test past `timeout`.
    static func eventually(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("\(what): not within \(timeout)")
        throw PrivateCluster.Problem(description: "\(what): not within \(timeout)")
    }

    /// Whether `gw` accepts `key` (200 on GET /v1/models); false on 401.
    static func accepts(_ gw: TestGateway, _ key: String) async throws -> Bool {
        let reply = try await gw.request(.GET, "/v1/models", key: key)
        if reply.status == 401 { return false }
        try #require(reply.status == 200, "\(reply.text)")
        return true
    }

    /// A tenant `acme` with an inference key, made through A; returns (id, key) once B accepts the key too. B is
    /// brought up to date by hand, so that a case fails on the change it is about, not on its set-up.
    static func keyKnownToBoth(_ a: TestGateway, _ b: TestGateway, tenant: Bool = true) async throws -> (id: String, key: String) {
        if tenant { try await a.createTenant("acme") }
        let issued = try await a.issueKey(tenant: "acme")
        try await b.gateway.reloadCatalog()
        try #require(try await accepts(b, issued.key))
        return issued
    }

    @Test("a key revoked through replica A is refused 401 by replica B")
    func revocation() async throws {
        try await Self.replicas { _, a, b in
            let (id, key) = try await Self.keyKnownToBoth(a, b)
            #expect(try await a.admin(.DELETE, "/keys/\(id)").status == 200)
            #expect(try await Self.accepts(a, key) == false, "A refuses at once")
            try await Self.eventually("B refuses the revoked key") { try await !Self.accepts(b, key) }
        }
    }

    @Test("traffic moved through replica A holds on replica B")
    func traffic() async throws {
        try await withMockUpstream { upstream in
            try await Self.replicas { _, a, b in
                try await a.createTenant("acme")
                try await a.createUpstream("mock", baseURL: upstream.baseURL)
                try await a.createModel("claims", spec: ["upstream": "mock", "model": "echo"])
                #expect(try await a.admin(.POST, "/models/claims/versions", ["spec": ["upstream": "mock", "model": "echo"]]).status == 201)
                let (_, key) = try await Self.keyKnownToBoth(a, b, tenant: false)
                func servedVersion(_ gw: TestGateway) async throws -> String? {
                    let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat)
                    try #require(reply.status == 200, "\(reply.text)")
                    return reply.headers.first(name: "x-trellis-model-version")
                }
                #expect(try await servedVersion(b) == "1")
                #expect(try await a.admin(.PUT, "/models/claims/traffic", ["2": 100]).status == 200)
                #expect(try await servedVersion(a) == "2")
                try await Self.eventually("B sends claims to version 2") { try await servedVersion(b) == "2" }
            }
        }
    }

    @Test("a tenant's limits changed through replica A hold on replica B")
    func tenantLimits() async throws {
        try await Self.replicas { _, a, b in
            _ = try await Self.keyKnownToBoth(a, b)
            #expect(b.gateway.snapshot.tenant(named: "acme")?.settings.limits.tokensPerMinute == nil)
            #expect(try await a.admin(.PATCH, "/tenants/acme", ["tpm": 5_000]).status == 200)
            try await Self.eventually("B holds acme to 5000 tokens a minute") {
                b.gateway.snapshot.tenant(named: "acme")?.settings.limits.tokensPerMinute == 5_000
            }
        }
    }

    @Test("a document uploaded through replica A is found by a search through replica B")
    func knowledgeUpload() async throws {
        try await Self.replicas { _, a, b in
            let (_, key) = try await Self.keyKnownToBoth(a, b)
            let manage = try await a.issueKey(tenant: "acme", ["scopes": ["manage"]]).key
            #expect(try await a.admin(.POST, "/knowledge-bases", ["name": "policies", "tenant": "acme"]).status == 201)
            func found(_ gw: TestGateway) async throws -> Bool {
                let reply = try await gw.request(.POST, "/v1/knowledge-bases/policies/search", key: key, json: ["query": "luggage"])
                try #require(reply.status == 200, "\(reply.text)")
                return !(reply.json["data"]?.arrayValue ?? []).isEmpty
            }
            try await b.gateway.reloadCatalog()
            #expect(try await found(b) == false)
            let upload = try await a.request(
                .POST, "/admin/v1/knowledge-bases/policies/documents", key: manage,
                json: ["title": "Travel FAQ", "text": "Travel insurance covers trip cancellation and lost luggage."])
            #expect(upload.status == 201, "\(upload.text)")
            #expect(try await found(a))
            try await Self.eventually("B finds the uploaded document") { try await found(b) }
        }
    }

    /// Revokes a key the way no gateway does: the row and the generation changed in SQL, with no notification.
    static func revokeSilently(_ id: String, on settings: PostgresSettings) async throws {
        try await TestDatabases.execute(
            """
            WITH revoked AS (UPDATE api_keys SET revoked_at = 1 WHERE id = '\(id)' RETURNING id)
            UPDATE meta SET value = value + 1 WHERE key = 'catalog_generation' AND EXISTS (SELECT 1 FROM revoked)
            """, on: settings)
    }

    @Test("a change whose notification never came is still picked up by the periodic check")
    func missedNotificationPeriodicCheck() async throws {
        try await Self.replicas(configureB: { $0.catalogRefreshIntervalMs = 200 }) { settings, a, b in
            let (id, key) = try await Self.keyKnownToBoth(a, b)
            try await Self.revokeSilently(id, on: settings)
            try await Self.eventually("B refuses the key revoked without a notification") { try await !Self.accepts(b, key) }
        }
    }

    @Test("the listener's connection killed: a change made meanwhile is found by the check after it reconnects, and it hears again")
    func listenerReconnects() async throws {
        try await Self.replicas { settings, a, b in
            let (id, key) = try await Self.keyKnownToBoth(a, b)
            let second = try await a.issueKey(tenant: "acme")
            try await b.gateway.reloadCatalog()
            #expect(try await Self.accepts(b, second.key))
            // A change the replicas are not told about, then their listeners' connections cut.
            let before = try await Self.listeners(settings)
            let checksBefore = Self.checks(b)
            try await Self.revokeSilently(id, on: settings)
            #expect(try await Self.accepts(b, key), "nothing told B yet")
            _ = try await TestDatabases.strings(
                "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity WHERE datname = '\(settings.database)' AND application_name = 'trellis-listen'",
                on: settings)
            try await Self.eventually("B refuses the key revoked while it was not listening") { try await !Self.accepts(b, key) }
            // Listening again, on new connections, the check after reconnecting done: a revocation through A
            // reaches B by notification alone.
            try await Self.listening(settings, b, checksAtLeast: checksBefore + 1, except: before)
            #expect(try await a.admin(.DELETE, "/keys/\(second.id)").status == 200)
            try await Self.eventually("B refuses the second key") { try await !Self.accepts(b, second.key) }
        }
    }
}
