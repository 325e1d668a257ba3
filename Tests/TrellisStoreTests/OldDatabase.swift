import Foundation
import GRDB

@testable import TrellisStore

/// A database file as an older version left it: migrated up to `migration`, then filled by `fill`. The file is
/// in a temporary folder of its own, removed after `body`, which gets the file's path.
func withDatabase(
    migratedUpTo migration: String, _ fill: @Sendable (Database) throws -> Void, then body: (String) async throws -> Void
) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-\(migration)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("trellis.sqlite").path
    let queue = try DatabaseQueue(path: path)
    var migrator = DatabaseMigrator()
    Migrations.register(in: &migrator)
    try migrator.migrate(queue, upTo: migration)
    try await queue.write { db in try fill(db) }
    try queue.close()
    try await body(path)
}
