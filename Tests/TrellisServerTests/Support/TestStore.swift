import Foundation
import TrellisStore
import TrellisStoreTestSupport

/// The store engine a test gateway runs on. The integration tests run on SQLite, and all of them once more on
/// PostgreSQL when `TRELLIS_TEST_STORE=postgres` (scripts/test.sh runs TrellisServerTests both ways): then each
/// gateway gets a fresh database in the test cluster (`TRELLIS_TEST_POSTGRES_URL`), and a gateway started
/// again on the same data directory finds the same database, as a restarted process would.
enum TestStore: Sendable {
    /// The engine `TRELLIS_TEST_STORE` names: `postgres`, or SQLite when it is unset or `sqlite`.
    case fromEnvironment
    /// SQLite whatever the environment says: for the tests about SQLite itself (its file, WAL, backups).
    case sqlite

    static let variable = "TRELLIS_TEST_STORE"
    /// Where a data directory remembers the name of its PostgreSQL database.
    static let databaseMarker = ".test-postgres-database"

    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    /// The location for the gateway's `config.storeLocation`; nil for SQLite in the data directory (the default).
    func location(dataDir: String) async throws -> StoreLocation? {
        guard case .fromEnvironment = self else { return nil }
        switch ProcessInfo.processInfo.environment[Self.variable] ?? "" {
        case "", "sqlite":
            return nil
        case "postgres":
            break
        case let other:
            throw Problem(description: "\(Self.variable) must be sqlite or postgres, not '\(other)'")
        }
        let marker = (dataDir as NSString).appendingPathComponent(Self.databaseMarker)
        var settings: PostgresSettings
        if let name = try? String(contentsOfFile: marker, encoding: .utf8) {
            settings = try TestDatabases.clusterSettings()
            settings.database = name
        } else {
            settings = try await TestDatabases.create()
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
            try settings.database.write(toFile: marker, atomically: true, encoding: .utf8)
        }
        // Many gateways run at once in the suite: a small pool each keeps them within the cluster's connections.
        settings.maxConnections = 4
        return .postgres(settings)
    }
}
