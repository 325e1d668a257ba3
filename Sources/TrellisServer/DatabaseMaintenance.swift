import Foundation
import TrellisCore
import TrellisStore

/// Offline database tasks for the command line.
public enum DatabaseMaintenance {
    public typealias FileCheck = BackupCheck

    public struct MigrationResult: Sendable {
        public var applied: [String]
        public var journalMode: String
    }

    /// Applies a catalog directory to the store `config` names (SQLite or PostgreSQL).
    public static func applyCatalog(directory: String, config: TrellisConfig) async throws -> CatalogApplier.Report {
        try await withStore(config) { store in try await CatalogApplier(store: store, actor: "cli:catalog").apply(directory: directory) }
    }

    /// Creates the store `config` names if needed and applies every pending migration (on PostgreSQL under the
    /// advisory lock, so that a gateway starting meanwhile does not migrate twice).
    public static func migrate(config: TrellisConfig) async throws -> MigrationResult {
        try await withStore(config) { store in
            MigrationResult(applied: try await store.appliedMigrations(), journalMode: try await store.journalMode())
        }
    }

    /// Creates the database at `path` if needed and applies every pending migration.
    public static func migrate(path: String) async throws -> MigrationResult {
        let store = try openStore(databasePath: path)
        return MigrationResult(applied: try await store.appliedMigrations(), journalMode: try await store.journalMode())
    }

    /// One line for a store task that failed: the store's own message for a refusal (such as a backup on
    /// PostgreSQL, naming pg_dump), else why the store could not be used; never a password.
    public static func line(for error: any Error) -> String {
        switch error {
        case let error as TrellisError: return error.message
        case let error as StoreOpenError: return error.description
        case let error as StoreURLError: return error.description
        default: return StoreFailure.describe(error)
        }
    }

    /// Runs `body` on the store `config` names, opened and prepared, and closes it afterwards.
    static func withStore<T: Sendable>(_ config: TrellisConfig, _ body: (any TrellisStoreEngine) async throws -> T) async throws -> T {
        let store = try await openStore(config)
        defer { (store as? PostgresStore)?.shutdown() }
        return try await body(store)
    }
}

extension DatabaseMaintenance {
    /// `trellis backup`: an online copy of the store `config` names. On PostgreSQL the store refuses, naming
    /// `pg_dump` and the database's own replication (a 400 `backup_not_supported`).
    public static func backup(config: TrellisConfig, to destination: String) async throws -> BackupCheck {
        try await withStore(config) { store in try await store.backup(to: destination) }
    }

    /// `trellis backup`: an online copy of the database at `databasePath`.
    public static func backup(databasePath: String, to destination: String) async throws -> BackupCheck {
        try await openStore(databasePath: databasePath).backup(to: destination)
    }

    /// `trellis restore`: puts a backup in place of the database at `databasePath` (the gateway must be
    /// stopped). The backup is checked first; the database it replaces is kept beside it, renamed with the
    /// time, and its WAL and shared-memory files are moved with it so they cannot be replayed onto the copy.
    public static func restore(from backup: String, databasePath: String, now: Date = Date()) throws -> (check: BackupCheck, previous: String?) {
        let check = try checkBackup(file: backup)
        guard check.integrity == "ok" else {
            throw TrellisError(
                status: 400, type: "invalid_request_error", code: "corrupt_backup",
                message: "\(backup) fails the integrity check: \(check.integrity.prefix(200))")
        }
        let files = FileManager.default
        var previous: String?
        let stamp = ISO8601DateFormatter().string(from: now).replacingOccurrences(of: ":", with: "")
        if files.fileExists(atPath: databasePath) {
            let aside = databasePath + ".before-restore-" + stamp
            try files.moveItem(atPath: databasePath, toPath: aside)
            previous = aside
        }
        for suffix in ["-wal", "-shm"] where files.fileExists(atPath: databasePath + suffix) {
            try files.moveItem(atPath: databasePath + suffix, toPath: (previous ?? databasePath + ".before-restore-" + stamp) + suffix)
        }
        let directory = (databasePath as NSString).deletingLastPathComponent
        if !directory.isEmpty { try files.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        try files.copyItem(atPath: backup, toPath: databasePath)
        // Opening it applies any migration the backup predates.
        _ = try openStore(databasePath: databasePath)
        return (check, previous)
    }
}
