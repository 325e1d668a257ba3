import Foundation
import GRDB
import Testing
import TrellisCore
@testable import TrellisStore

@Suite("SQLiteStore: usage roll-up migrations")
struct UsageRollupMigrationTests {
    @Test func version6RollupsGetTheirUserSetsAndCountTheSame() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-v6-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("trellis.sqlite").path
        do {
            // Roll-ups as version 6 wrote them: two keys of one model on one day; u1 used both keys.
            let queue = try DatabaseQueue(path: path)
            var migrator = DatabaseMigrator()
            Migrations.register(in: &migrator)
            try migrator.migrate(queue, upTo: "v6-usage-users-by-model")
            try await queue.write { db in
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
            }
            try queue.close()
        }
        let store = try SQLiteStore(path: path)
        #expect(try store.appliedMigrations().last == "v7-usage-user-sets")
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
