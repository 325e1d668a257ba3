import PostgresNIO
import TrellisCore

/// Looking after a PostgreSQL store: the database server does the integrity, durability and backups.
extension PostgresStore {
    /// Migrates the schema (see `migrate()`).
    public func prepare() async throws {
        try await migrate()
    }

    /// PostgreSQL checks its own pages; the gateway checks that it can reach the database and that the schema
    /// is there.
    public func integrityCheck() async throws -> String {
        _ = try await catalogGeneration()
        return "ok"
    }

    /// Durability is the server's (`synchronous_commit`, its write-ahead log and replication).
    public func journalMode() async throws -> String {
        let commit = try await read { connection in try await connection.scalar("SHOW synchronous_commit", as: String.self) }
        return "postgresql (synchronous_commit=\(commit ?? "unknown"))"
    }

    /// Not the gateway's job on PostgreSQL: the database's own tools do it with guarantees a copy taken here
    /// could not give.
    public func backup(to destination: String) async throws -> BackupCheck {
        throw TrellisError.invalidRequest(
            "The store is on PostgreSQL: back it up with pg_dump (e.g. pg_dump -Fc -f trellis.dump \(settings.database)) "
                + "or the database's own continuous archiving and replication. See docs/deployment.md.",
            code: "backup_not_supported")
    }
}
