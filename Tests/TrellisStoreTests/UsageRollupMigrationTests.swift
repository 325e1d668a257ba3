import Foundation
import GRDB
import Testing
import TrellisCore
import TrellisStoreTestSupport

@testable import TrellisStore

@Suite("SQLiteStore: usage roll-up migrations")
struct UsageRollupMigrationTests {
    @Test func version6RollupsGetTheirUserSetsAndCountTheSame() async throws {
        // Roll-ups as version 6 wrote them: two keys of one model on one day; u1 used both keys.
        try await withDatabase(migratedUpTo: "v6-usage-users-by-model") { db in
            let empty = Data(Histogram().encoded)
            for (key, requests) in [("key_a", 3), ("key_b", 2)] {
                try db.execute(
                    sql: """
                        INSERT INTO usage_daily(day, tenant_id, model, model_version, key_id, requests, errors, prompt_tokens, completion_tokens,
                            cost_micros, positive, negative, latency_hist, ttft_hist) VALUES ('2026-11-02', 'tnt_1', 'claims', 1, ?, ?, 0, 10, 10, 0, 0, 0, ?, ?)
                        """, arguments: [key, requests, empty, empty])
            }
            for (key, user) in [("key_a", "u1"), ("key_a", "u2"), ("key_b", "u1"), ("key_b", "u3")] {
                try db.execute(
                    sql: """
                        INSERT INTO usage_daily_users(day, tenant_id, model, model_version, key_id, end_user, requests, errors, prompt_tokens,
                            completion_tokens, cost_micros, positive, negative) VALUES ('2026-11-02', 'tnt_1', 'claims', 1, ?, ?, 1, 0, 1, 1, 0, 0, 0)
                        """, arguments: [key, user])
            }
        } then: { path in
            let store = try SQLiteStore(path: path)
            #expect(try store.appliedMigrations().contains("v7-usage-user-sets"))
            #expect(try store.appliedMigrations().contains("v8-usage-by-model"))
            let byModel = try await store.usageReport(.init(fromDay: "2026-11-01", toDay: "2026-11-30", groupBy: [.model]))
            #expect(byModel.count == 1)
            #expect(byModel.first?.requests == 5)
            #expect(byModel.first?.users == 3, "u1, u2, u3: u1 counted once across both keys")
            let byKey = try await store.usageReport(.init(fromDay: "2026-11-01", toDay: "2026-11-30", groupBy: [.key]))
            #expect(byKey.map(\.users) == [2, 2])
            let none = try await store.usageReport(.init(fromDay: "2026-12-01", toDay: "2026-12-31", groupBy: []))
            #expect(none.isEmpty)
        }
    }
}

@Suite("SQLiteStore: roll-ups with and without the key agree")
struct RollupAgreementTests {
    /// Reports not grouped by key read usage_daily_models; grouped by key they read usage_daily. Written in
    /// several batches (so rows are merged with stored ones), with users shared across keys and feedback.
    @Test(arguments: StoreEngines.all) func reportsByModelEqualTheSumOverKeys(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let day0 = 1_764_547_200.0  // 2025-12-01T00:00:00Z
        var events: [UsageEvent] = []
        for i in 0..<120 {
            let model = i % 3 == 0 ? "claims" : "triage"
            events.append(
                UsageEvent(
                    requestID: "req_\(i)", at: Date(timeIntervalSince1970: day0 + Double(i % 2) * 86_400 + Double(i)), endpoint: "chat",
                    tenantID: i % 5 == 0 ? "tnt_b" : "tnt_a", keyID: "key_\(i % 4)", endUser: i % 7 == 0 ? nil : "u\(i % 9)", model: model,
                    modelVersion: 1 + i % 2, upstream: "local", promptTokens: 10 + i, completionTokens: 5 + i, estimated: false,
                    latencyMs: Double(100 + i), ttftMs: Double(10 + i), status: i % 11 == 0 ? 502 : 200, errorCode: nil, stream: true))
        }
        for start in stride(from: 0, to: events.count, by: 25) {
            try await temp.store.insertUsage(Array(events[start..<min(start + 25, events.count)]))
        }
        for (id, rating) in [("req_1", 1), ("req_2", -1), ("req_4", 1), ("req_4", -1)] {
            let owner = try #require(try await temp.store.usageOwner(requestID: id))
            _ = try await temp.store.insertFeedback(requestID: id, owner: owner, keyID: owner.keyID, rating: rating, comment: nil, correction: nil)
        }
        let month = UsageQuery(fromDay: "2025-12-01", toDay: "2025-12-31", groupBy: [.model, .day])
        let byModel = try await temp.store.usageReport(month)
        var byKeyQuery = month
        byKeyQuery.groupBy = [.model, .day, .key]
        let byKey = try await temp.store.usageReport(byKeyQuery)
        #expect(byModel.count == 4)
        #expect(byModel.reduce(0) { $0 + $1.requests } == 120)
        for row in byModel {
            let parts = byKey.filter { $0.group[.model] == row.group[.model] && $0.group[.day] == row.group[.day] }
            #expect(row.requests == parts.reduce(0) { $0 + $1.requests })
            #expect(row.errors == parts.reduce(0) { $0 + $1.errors })
            #expect(row.promptTokens == parts.reduce(0) { $0 + $1.promptTokens })
            #expect(row.positive == parts.reduce(0) { $0 + $1.positive })
            #expect(row.negative == parts.reduce(0) { $0 + $1.negative })
            var latency = Histogram()
            for p in parts { latency.merge(p.latency) }
            #expect(row.latency == latency)
            let expectedUsers = Set(
                events.filter { e in
                    e.model == row.group[.model] && UsageQuery.day(ms: Int64(e.at.timeIntervalSince1970 * 1000)) == row.group[.day]
                }.compactMap(\.endUser))
            #expect(row.users == expectedUsers.count)
        }
        // req_1 rated up; req_2 down; req_4 up, then down (the later rating replaces the earlier one).
        #expect(byModel.reduce(0) { $0 + $1.positive } == 1)
        #expect(byModel.reduce(0) { $0 + $1.negative } == 2)
    }
}
