import Foundation
import GRDB
import TrellisCore

/// Migrations, integrity, backups and checks of database files.
extension SQLiteStore {
    /// Nothing to do: the file is created and migrated when it is opened.
    public func prepare() async throws {}

    public func appliedMigrations() throws -> [String] {
        var migrator = DatabaseMigrator()
        Migrations.register(in: &migrator)
        return try pool.read { db in try migrator.appliedMigrations(db) }
    }

    public func journalMode() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    public func integrityCheck() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
    }

    /// Writes a consistent copy of the live database to `destination` with `VACUUM INTO`: online (the gateway
    /// keeps serving and writing; the copy is one read snapshot of the WAL database), compact, and a plain
    /// database file with no WAL beside it. Refuses to overwrite a file. The copy is then opened read-only and
    /// checked (`PRAGMA integrity_check`).
    public func backup(to destination: String) throws -> BackupCheck {
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw TrellisError(
                status: 409, type: "invalid_request_error", code: "exists", message: "\(destination) already exists; the backup does not overwrite files.")
        }
        let directory = (destination as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        // VACUUM cannot run inside a transaction; this connection holds no write lock while it reads.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "VACUUM INTO ?", arguments: [destination])
        }
        return try Self.check(file: destination)
    }

    /// Opens a database file read-only and reports its integrity, migrations and row counts.
    public static func check(file path: String) throws -> BackupCheck {
        var config = Configuration()
        config.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: config)
        defer { try? queue.close() }
        return try queue.read { db in
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
            let migrations =
                try db.tableExists("grdb_migrations") ? try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid") : []
            var tables: [String: Int] = [:]
            for name in [
                "tenants", "api_keys", "upstreams", "models", "model_versions", "prompts", "adapters", "knowledge_bases", "documents", "chunks", "usage",
                "feedback", "audit_log",
            ]
            where try db.tableExists(name) {
                tables[name] = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(name)") ?? 0
            }
            let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            return BackupCheck(path: path, bytes: bytes, integrity: integrity, migrations: migrations, tables: tables)
        }
    }
}
