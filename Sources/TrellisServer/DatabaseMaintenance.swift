import TrellisStore

/// Offline database tasks for the command line.
public enum DatabaseMaintenance {
    public struct MigrationResult: Sendable {
        public var applied: [String]
        public var journalMode: String
    }

    /// Creates the database if needed and applies every pending migration.
    public static func migrate(path: String) throws -> MigrationResult {
        let store = try SQLiteStore(path: path)
        return MigrationResult(applied: try store.appliedMigrations(), journalMode: try store.journalMode())
    }
}
