import Foundation
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
        let all = ["pg1-schema", "pg2-cluster-limits", "pg3-responses"]
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
}
