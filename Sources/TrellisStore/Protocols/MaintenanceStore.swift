/// Looking after the store itself: schema migrations, integrity, online backups, and roll-ups rebuilt for data
/// written before they existed.
public protocol MaintenanceStore: Sendable {
    /// The applied migrations, oldest first.
    func appliedMigrations() throws -> [String]
    /// `ok`, or what the engine's integrity check found.
    func integrityCheck() throws -> String
    /// How the engine makes commits durable, for the operator (SQLite: its journal mode, `wal`).
    func journalMode() throws -> String
    /// Writes a consistent copy of the live store to `destination` while it keeps serving, then checks the
    /// copy. Refuses to overwrite anything.
    func backup(to destination: String) throws -> BackupCheck
    /// Builds the usage roll-ups from the usage rows when they are missing (data from before they existed).
    func rebuildRollupsIfNeeded() async throws
}
