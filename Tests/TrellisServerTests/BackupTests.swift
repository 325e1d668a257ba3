import Foundation
import Synchronization
import Testing
import TrellisCore
import TrellisServer
import TrellisStore

/// SQLite's own backup files: these cases open `SQLiteStore` directly and ignore `TRELLIS_TEST_STORE` (on
/// PostgreSQL, `pg_dump` and the database's replication are the tools).
@Suite("backup and restore")
struct BackupTests {
    static func event(_ i: Int) -> UsageEvent {
        UsageEvent(
            requestID: "req_\(i)", at: Date(timeIntervalSince1970: 1_790_000_000 + Double(i)), endpoint: "/v1/chat/completions",
            tenantID: "tnt_a", keyID: "key_1", endUser: "u\(i % 7)", model: "assistant", modelVersion: 1, upstream: "local",
            promptTokens: 10, completionTokens: 20, estimated: false, latencyMs: 12, ttftMs: nil, status: 200, errorCode: nil, stream: false)
    }

    /// A new temporary directory (the caller removes it) with a database at `relativePath` in it holding `rows`
    /// usage rows.
    static func makeDatabase(at relativePath: String, rows: Int) async throws -> (directory: String, live: String, store: SQLiteStore) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-backup-\(UUID().uuidString)").path
        let live = (directory as NSString).appendingPathComponent(relativePath)
        let store = try SQLiteStore(path: live)
        try await store.insertUsage((0..<rows).map(Self.event))
        return (directory, live, store)
    }

    @Test func anOnlineBackupTakenWhileRowsAreWrittenIsConsistentAndRestores() async throws {
        let (directory, live, store) = try await Self.makeDatabase(at: "data/trellis.sqlite", rows: 500)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        // Writers keep committing batches while the backup runs.
        let stop = Mutex(false)
        let writer = Task {
            var next = 500
            while !stop.withLock({ $0 }), next < 20_000 {
                try await store.insertUsage((next..<(next + 50)).map(Self.event))
                next += 50
            }
            return next
        }
        let backupPath = (directory as NSString).appendingPathComponent("backups/one.sqlite")
        let check = try await DatabaseMaintenance.backup(databasePath: live, to: backupPath)
        stop.withLock { $0 = true }
        let written = try await writer.value

        #expect(check.integrity == "ok")
        #expect(check.migrations.contains("v1-catalog-keys-usage") && check.migrations.contains("v4-governance"))
        let rowsInBackup = try #require(check.tables["usage"])
        #expect(rowsInBackup >= 500 && rowsInBackup <= written, "a snapshot between the first rows and the last")
        #expect(rowsInBackup % 50 == 0, "whole batches only: a transaction is in the copy entirely or not at all")
        #expect(!FileManager.default.fileExists(atPath: backupPath + "-wal"), "a plain file, nothing to replay")

        // It does not overwrite.
        await #expect(throws: TrellisError.self) { try await DatabaseMaintenance.backup(databasePath: live, to: backupPath) }

        // Restore over the live database (as after stopping the gateway): the rows are the backup's, and the
        // replaced database is kept.
        let liveRows = try store.countUsage()
        #expect(liveRows == written)
        let (restored, previous) = try DatabaseMaintenance.restore(from: backupPath, databasePath: live)
        #expect(restored.tables["usage"] == rowsInBackup)
        let previousPath = try #require(previous)
        #expect(try SQLiteStore.check(file: previousPath).tables["usage"] == liveRows)
        let reopened = try SQLiteStore(path: live)
        #expect(try reopened.countUsage() == rowsInBackup)
    }

    @Test func aDamagedBackupIsRefusedAndTheDatabaseIsLeftAlone() async throws {
        let (directory, live, store) = try await Self.makeDatabase(at: "trellis.sqlite", rows: 10)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bad = (directory as NSString).appendingPathComponent("bad.sqlite")
        try Data("not a database at all, just text".utf8).write(to: URL(fileURLWithPath: bad))
        #expect(throws: (any Error).self) { try DatabaseMaintenance.restore(from: bad, databasePath: live) }
        #expect(try SQLiteStore(path: live).countUsage() == 10)
        withExtendedLifetime(store) {}
    }
}
