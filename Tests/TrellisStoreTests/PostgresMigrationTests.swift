import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing
import TrellisStore
import TrellisStoreTestSupport

@Suite("PostgreSQL migrations")
struct PostgresMigrationTests {
    @Test("several processes starting together on one new database migrate it once, under the advisory lock")
    func concurrentStarts() async throws {
        let settings = try await TestDatabases.create()
        let stores = try (0..<6).map { _ in try PostgresStore(settings: settings) }
        defer { stores.forEach { $0.shutdown() } }
        let applied = try await withThrowingTaskGroup(of: [String].self) { group in
            for store in stores { group.addTask { try await store.migrate() } }
            var all: [[String]] = []
            for try await one in group { all.append(one) }
            return all
        }
        #expect(applied.count == 6)
        let all = ["pg1-schema", "pg2-cluster-limits", "pg3-responses", "pg4-routing", "pg5-evaluation"]
        #expect(Set(applied.map { $0.joined(separator: ",") }) == [all.joined(separator: ",")])
        // Each migration is recorded once, and the schema it made holds one generation row of each kind.
        let recorded = try await TestDatabases.strings("SELECT id FROM trellis_migrations", on: settings)
        #expect(recorded.sorted() == all)
        #expect(try await stores[0].catalogGeneration() == 1)
        // A later start finds nothing to do and the same list.
        let again = try PostgresStore(settings: settings)
        defer { again.shutdown() }
        #expect(try await again.migrate() == all)
        #expect(try await again.appliedMigrations() == all)
    }

    @Test("a start waits for another process's migration longer than lock_timeout, and migrates nothing without the lock")
    func waitsForTheLock() async throws {
        let settings = try await TestDatabases.create()
        // Another process migrating: a connection of its own holds the migrations' advisory lock ("trellis").
        try await TestDatabases.withConnection(to: settings) { other in
            _ = try await other.query("SELECT pg_advisory_lock(\(Int64(0x7472_656C_6C69_73)))", logger: Self.logger).collect()
            // lock_timeout is the operation timeout: 4 s here (the whole start may take 48 s, the bulk deadline: the
            // migrations after the wait take that long when every store test of a full run migrates at once).
            let store = try PostgresStore(settings: settings, operationTimeout: .seconds(4))
            defer { store.shutdown() }
            let finished = Mutex(false)
            let migrating = Task {
                defer { finished.withLock { $0 = true } }
                return try await store.migrate()
            }
            // Until the start waits on the lock, then past the lock timeout.
            var waiting = 0
            while waiting == 0 {
                try await Task.sleep(for: .milliseconds(20))
                waiting = try await TestDatabases.withConnection(to: settings) { probe in
                    try await probe.query(
                        "SELECT COUNT(*)::BIGINT FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", logger: Self.logger
                    ).collect().first?.decode(Int.self) ?? 0
                }
            }
            try await Task.sleep(for: .seconds(5))
            #expect(finished.withLock { $0 } == false, "still waiting, past lock_timeout")
            let tables = try await TestDatabases.strings("SELECT tablename FROM pg_tables WHERE tablename = 'tenants'", on: settings)
            #expect(tables.isEmpty, "nothing was migrated without the lock")
            _ = try await other.query("SELECT pg_advisory_unlock(\(Int64(0x7472_656C_6C69_73)))", logger: Self.logger).collect()
            #expect(try await migrating.value == ["pg1-schema", "pg2-cluster-limits", "pg3-responses", "pg4-routing", "pg5-evaluation"])
        }
    }

    static let logger = Logger(label: "test.migrations")
}
