import Foundation
import GRDB
import OpenAIWire
import TrellisCore

/// The embedded store: one SQLite file in WAL mode behind a GRDB `DatabasePool` (one writer, concurrent
/// readers). Every catalog change bumps `meta.catalog_generation` in the same transaction, so any process
/// sharing the file can tell that its in-memory snapshot is stale.
///
/// Durability: `synchronous = NORMAL` in WAL mode. A committed transaction survives a crash of the process
/// (`kill -9`); after a power loss the last transactions before the failure may roll back, but the database is
/// never corrupted. See docs/reliability.md.
public final class SQLiteStore: Sendable {
    public let path: String
    let pool: DatabasePool

    public static let fileName = "trellis.sqlite"

    /// Opens (creating it if needed) and migrates the database at `path`.
    public init(path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(5)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            db.add(function: HistogramMerge.function)
            db.add(function: UserCount.function)
            db.add(function: UserUnion.function)
        }
        self.path = path
        self.pool = try DatabasePool(path: path, configuration: config)
        var migrator = DatabaseMigrator()
        Migrations.register(in: &migrator)
        try migrator.migrate(pool)
    }

    /// Opens the database in `directory` under its standard file name.
    public convenience init(directory: String) throws {
        try self.init(path: (directory as NSString).appendingPathComponent(Self.fileName))
    }

    // MARK: Generations and helpers shared by the aggregates

    public func catalogGeneration() async throws -> Int64 {
        try await pool.read { db in try Self.generation(db) }
    }

    static func generation(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'catalog_generation'") ?? 0
    }

    static func bumpGeneration(_ db: Database) throws {
        try db.execute(sql: "UPDATE meta SET value = value + 1 WHERE key = 'catalog_generation'")
    }

    /// The name rules of the contract, for any namespaced table: a tenant's names are unique within it; shared
    /// names are unique among shared objects and cannot be taken by a tenant.
    static func checkName(_ db: Database, table: String, kind: String, name: String, tenantID: String?) throws {
        let shared = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table) WHERE name = ? AND tenant_id IS NULL", arguments: [name]) ?? 0
        if let tenantID {
            let own = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table) WHERE name = ? AND tenant_id = ?", arguments: [name, tenantID]) ?? 0
            if own > 0 { throw TrellisError.conflict("This tenant already has a \(kind) named '\(name)'.") }
            if shared > 0 { throw TrellisError.conflict("'\(name)' is the name of a shared \(kind); shared names are public and cannot be reused.") }
        } else if shared > 0 {
            throw TrellisError.conflict("A shared \(kind) named '\(name)' already exists.")
        }
    }

    /// Writes an audit row in the caller's transaction.
    static func audit(
        _ db: Database, actor: String, tenantID: String?, action: String, target: String, detail: JSONValue? = nil, now: Date
    )
        throws
    {
        let record = AuditRecord(
            id: nil, atMs: now.unixMilliseconds, actor: actor, tenantID: tenantID, action: action, target: target,
            detail: detail.map { JSONWriter.string($0) })
        try record.insert(db)
    }
}

extension SQLiteStore: TrellisStoreEngine {
    /// Nothing to hear: other processes on the same file are found by the periodic generation check alone.
    public func watchChanges(_ changed: @escaping @Sendable () -> Void) async {}
}
