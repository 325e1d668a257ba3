/// Looking after the store itself: schema migrations, integrity, online backups, and roll-ups rebuilt for data
/// written before they existed.
public protocol MaintenanceStore: Sendable {
    /// Makes the store ready to use: creates and migrates its schema (SQLite does it when the file is opened;
    /// PostgreSQL here, under an advisory lock). The first contact with a database server.
    func prepare() async throws
    /// The applied migrations, oldest first.
    func appliedMigrations() async throws -> [String]
    /// `ok`, or what the engine's integrity check found.
    func integrityCheck() async throws -> String
    /// How the engine makes commits durable, for the operator (SQLite: its journal mode, `wal`).
    func journalMode() async throws -> String
    /// Writes a consistent copy of the live store to `destination` while it keeps serving, then checks the
    /// copy. Refuses to overwrite anything. An engine with its own backup tools (PostgreSQL: `pg_dump`, its
    /// replication) refuses with a 400 that names them.
    func backup(to destination: String) async throws -> BackupCheck
    /// Builds the usage roll-ups from the usage rows when they are missing (data from before they existed).
    func rebuildRollupsIfNeeded() async throws
}
