import Foundation
import GRDB
import Testing
import TrellisCore
import TrellisStore
import TrellisStoreTestSupport

@Suite("Store: usage roll-ups under concurrent writers and rebuilt, on every engine")
struct StoreUsageRollupTests {
    static let day0 = 1_764_547_200.0  // 2025-12-01T00:00:00Z

    /// Usage rows that all land on a few roll-up rows (2 days, 2 models, 2 keys), so concurrent batches merge
    /// into the same stored histograms and user sets. Writer `w`'s batch `b`, row `i`.
    static func batch(writer w: Int, batch b: Int, size: Int) -> [UsageEvent] {
        (0..<size).map { i in
            let n = (w * 1000 + b) * size + i
            return UsageEvent(
                requestID: "req_\(w)_\(b)_\(i)", at: Date(timeIntervalSince1970: day0 + Double(n % 2) * 86_400 + Double(i)), endpoint: "chat",
                tenantID: "tnt_a", keyID: "key_\(n % 2)", endUser: n % 5 == 0 ? nil : "u\(w)_\(i % 7)", model: n % 3 == 0 ? "claims" : "triage",
                modelVersion: 1, upstream: "local", promptTokens: 10 + i, completionTokens: 5, estimated: false, latencyMs: Double(100 + i),
                ttftMs: i % 2 == 0 ? Double(10 + i) : nil, status: i % 9 == 0 ? 502 : 200, errorCode: nil, stream: i % 2 == 0)
        }
    }

    /// The month's report, grouped by model and day, by key, and by user, and checked against the rows.
    static func expectExact(_ store: any TrellisStoreEngine, _ events: [UsageEvent]) async throws {
        let ok = events.filter { $0.status < 400 }
        for groupBy in [[UsageDimension.model, .day], [.key], [.day, .key, .model], []] {
            let rows = try await store.usageReport(UsageQuery(fromDay: "2025-12-01", toDay: "2025-12-31", groupBy: groupBy))
            #expect(rows.reduce(0) { $0 + $1.requests } == events.count, "requests by \(groupBy)")
            #expect(rows.reduce(0) { $0 + $1.errors } == events.count - ok.count, "errors by \(groupBy)")
            #expect(rows.reduce(0) { $0 + $1.promptTokens } == events.reduce(0) { $0 + $1.promptTokens }, "tokens by \(groupBy)")
            #expect(rows.reduce(0) { $0 + $1.latency.total } == ok.count, "latency histogram counts by \(groupBy)")
            #expect(rows.reduce(0) { $0 + $1.ttft.total } == ok.filter { $0.ttftMs != nil }.count, "ttft histogram counts by \(groupBy)")
            for row in rows {
                let members = events.filter { e in
                    let day = UsageQuery.day(ms: Int64(e.at.timeIntervalSince1970 * 1000))
                    return (row.group[.model].map { $0 == e.model } ?? true) && (row.group[.day].map { $0 == day } ?? true)
                        && (row.group[.key].map { $0 == e.keyID } ?? true)
                }
                #expect(row.requests == members.count, "\(row.group)")
                #expect(row.users == Set(members.compactMap(\.endUser)).count, "distinct users of \(row.group)")
            }
        }
        let byUser = try await store.usageReport(UsageQuery(fromDay: "2025-12-01", toDay: "2025-12-31", groupBy: [.user]))
        #expect(byUser.map { $0.group[.user] ?? "" } == Set(events.compactMap(\.endUser)).sorted())
        #expect(byUser.reduce(0) { $0 + $1.requests } == events.filter { $0.endUser != nil }.count)
    }

    @Test("batches written at once through two store objects on one database leave exact roll-ups", arguments: StoreEngines.all)
    func concurrentWriters(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let second = try await temp.reopen()
        defer { (second as? PostgresStore)?.shutdown() }
        let writers = 6
        let batches = 8
        let size = 30
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<writers {
                let store = w % 2 == 0 ? temp.store : second
                group.addTask {
                    for b in 0..<batches { try await store.insertUsage(Self.batch(writer: w, batch: b, size: size)) }
                }
            }
            try await group.waitForAll()
        }
        let events = (0..<writers).flatMap { w in (0..<batches).flatMap { b in Self.batch(writer: w, batch: b, size: size) } }
        #expect(events.count == writers * batches * size)
        try await Self.expectExact(temp.store, events)
        try await Self.expectExact(second, events)
    }

    @Test("roll-ups missing beside usage rows are rebuilt once, to the same report", arguments: StoreEngines.all)
    func rebuild(engine: StoreEngineFactory) async throws {
        let temp = try await engine.make()
        defer { temp.remove() }
        let events = (0..<4).flatMap { b in Self.batch(writer: 0, batch: b, size: 25) }
        try await temp.store.rebuildRollupsIfNeeded()  // nothing there: nothing to do
        try await temp.store.insertUsage(events)
        try await temp.store.rebuildRollupsIfNeeded()  // roll-ups present: nothing to do
        try await Self.expectExact(temp.store, events)
        let tables = ["usage_daily", "usage_daily_models", "usage_daily_users"]
        switch temp.location {
        case .sqlite(let path):
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                for table in tables { try db.execute(sql: "DELETE FROM \(table)") }
            }
            try queue.close()
        case .postgres(let settings):
            for table in tables { try await TestDatabases.execute("DELETE FROM \(table)", on: settings) }
        }
        #expect(try await temp.store.usageReport(UsageQuery(fromDay: "2025-12-01", toDay: "2025-12-31")).isEmpty)
        try await temp.store.rebuildRollupsIfNeeded()
        try await temp.store.rebuildRollupsIfNeeded()
        try await Self.expectExact(temp.store, events)
    }
}
