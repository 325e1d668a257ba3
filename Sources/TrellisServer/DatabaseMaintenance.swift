import TrellisStore

/// Offline database tasks for the command line.
public enum DatabaseMaintenance {
    public struct MigrationResult: Sendable {
        public var applied: [String]
        public var journalMode: String
    }

    /// Applies a catalog directory to the database at `databasePath`.
    public static func applyCatalog(directory: String, databasePath: String) async throws -> CatalogApplier.Report {
        let store = try SQLiteStore(path: databasePath)
        return try await CatalogApplier(store: store, actor: "cli:catalog").apply(directory: directory)
    }

    /// Creates the database if needed and applies every pending migration.
    public static func migrate(path: String) throws -> MigrationResult {
        let store = try SQLiteStore(path: path)
        return MigrationResult(applied: try store.appliedMigrations(), journalMode: try store.journalMode())
    }
}
