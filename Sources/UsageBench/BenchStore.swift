import Foundation
import GRDB
import Logging
import PostgresNIO
import TrellisStore

/// Where the benchmark writes: a SQLite file in a fresh directory (the default), or an empty PostgreSQL
/// database (`--store-url postgres://…` or `BENCH_STORE_URL`), each through its store's own `insertUsage`.
enum BenchStore {
    case sqlite(directory: String)
    case postgres(PostgresSettings)

    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    /// What the store holds after the load: rows in the usage table and its roll-ups, and the bytes on disk.
    struct Stats {
        var usage = 0
        var daily = 0
        var users = 0
        var bytes: Int64 = 0
    }

    init(options: Options) throws {
        guard let url = options.storeURL else {
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-usage-bench-\(UUID().uuidString)").path
            self = .sqlite(directory: options.dir ?? scratch)
            return
        }
        guard case .postgres(let settings) = try StoreLocation.parse(url, setting: "--store-url") else {
            throw Problem(description: "--store-url: the benchmark takes a postgres:// URL (without it, a SQLite file)")
        }
        guard settings.tls == .disable else { throw Problem(description: "--store-url: the benchmark connects without TLS (sslmode=disable)") }
        self = .postgres(settings)
    }

    var description: String {
        switch self {
        case .sqlite(let directory): (directory as NSString).appendingPathComponent(SQLiteStore.fileName)
        case .postgres(let settings): "PostgreSQL \(settings)"
        }
    }

    /// Opens the store, which must hold no usage yet (the figures are for a known million rows).
    func open() async throws -> any UsageStore {
        switch self {
        case .sqlite(let directory):
            try? FileManager.default.removeItem(atPath: directory)
            return try SQLiteStore(directory: directory)
        case .postgres(let settings):
            let store = try PostgresStore(settings: settings, operationTimeout: .seconds(120))
            try await store.prepare()
            let rows = try await withConnection(settings) { connection in
                try await connection.query("SELECT COUNT(*) FROM (SELECT 1 FROM usage LIMIT 1) AS u", logger: Self.logger).collect().first?.decode(Int.self)
            }
            guard rows == 0 else { throw Problem(description: "the database \(settings.database) already holds usage rows: give the benchmark an empty one") }
            return store
        }
    }

    /// Row counts and size once the load is done; on PostgreSQL after `VACUUM ANALYZE`, as autovacuum would
    /// leave the tables a while after a bulk load; on SQLite once the WAL is checkpointed.
    func stats() async throws -> Stats {
        switch self {
        case .sqlite(let directory):
            let path = (directory as NSString).appendingPathComponent(SQLiteStore.fileName)
            let pool = try DatabasePool(path: path)
            var stats = try await pool.write { db in
                Stats(
                    usage: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM usage") ?? 0,
                    daily: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM usage_daily") ?? 0,
                    users: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM usage_daily_users") ?? 0)
            }
            try await pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
            try pool.close()
            stats.bytes = Self.fileSize(path) + Self.fileSize(path + "-wal")
            return stats
        case .postgres(let settings):
            return try await withConnection(settings) { connection in
                for table in ["usage", "usage_daily", "usage_daily_models", "usage_daily_users"] {
                    try await connection.query(PostgresQuery(unsafeSQL: "VACUUM ANALYZE \(table)"), logger: Self.logger)
                }
                let rows = try await connection.query(
                    """
                    SELECT (SELECT COUNT(*) FROM usage), (SELECT COUNT(*) FROM usage_daily), (SELECT COUNT(*) FROM usage_daily_users),
                        pg_database_size(current_database())
                    """, logger: Self.logger
                ).collect()
                guard let (usage, daily, users, bytes) = try rows.first?.decode((Int, Int, Int, Int64).self) else { return Stats() }
                return Stats(usage: usage, daily: daily, users: users, bytes: bytes)
            }
        }
    }

    /// Deletes what the run wrote, unless asked to keep it (a PostgreSQL database is the operator's: kept).
    func remove(keep: Bool, explicitDirectory: Bool) {
        if case .sqlite(let directory) = self, !keep, !explicitDirectory { try? FileManager.default.removeItem(atPath: directory) }
    }

    static func fileSize(_ path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    static let logger: Logger = {
        var logger = Logger(label: "trellis.usage-bench")
        logger.logLevel = .error
        return logger
    }()

    private func withConnection<T: Sendable>(_ settings: PostgresSettings, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let configuration = PostgresConnection.Configuration(
            host: settings.host, port: settings.port, username: settings.user, password: settings.password, database: settings.database, tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Self.logger)
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
