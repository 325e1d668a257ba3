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

    /// Applies a catalog directory to the database at `databasePath`.
    public static func applyCatalog(directory: String, databasePath: String) async throws -> CatalogApplier.Report {
        let store = try openStore(databasePath: databasePath)
        return try await CatalogApplier(store: store, actor: "cli:catalog").apply(directory: directory)
    }

    /// Creates the database if needed and applies every pending migration.
    public static func migrate(path: String) async throws -> MigrationResult {
        let store = try openStore(databasePath: path)
        return MigrationResult(applied: try await store.appliedMigrations(), journalMode: try await store.journalMode())
    }
}

extension DatabaseMaintenance {
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
