import Foundation
import Logging
import PostgresNIO
import TrellisStore

/// The seam between the store's integration tests and its engines. A case declared
/// `@Test(arguments: StoreEngines.all) func name(engine: StoreEngineFactory)` runs once per engine on a fresh,
/// empty store (`try await engine.make()`): SQLite in a scratch file, PostgreSQL in a scratch database of the
/// test cluster (`TRELLIS_TEST_POSTGRES_URL`, started by scripts/test.sh with scripts/postgres.sh). Without that
/// cluster the PostgreSQL cases fail with a line saying so; they never skip.
public enum StoreEngines {
    public static let all: [StoreEngineFactory] = [.sqlite, .postgres]
}

/// Opens stores of one engine for tests.
public struct StoreEngineFactory: Sendable, CustomStringConvertible {
    public let name: String
    /// Opens (creating and migrating it when new) the store at a location; opening it again is a restart.
    let open: @Sendable (_ location: StoreLocation) async throws -> any TrellisStoreEngine
    /// Where a new store goes, given a fresh scratch directory.
    let location: @Sendable (_ directory: URL) async throws -> StoreLocation

    public init(
        name: String, location: @escaping @Sendable (URL) async throws -> StoreLocation,
        open: @escaping @Sendable (StoreLocation) async throws -> any TrellisStoreEngine
    ) {
        self.name = name
        self.location = location
        self.open = open
    }

    public var description: String { name }

    /// A new, empty store of this engine.
    public func make() async throws -> TemporaryStore {
        try await TemporaryStore.make(self)
    }

    public static let sqlite = StoreEngineFactory(
        name: "sqlite", location: { .sqlite(path: $0.appendingPathComponent(SQLiteStore.fileName).path) },
        open: { location in
            guard case .sqlite(let path) = location else { throw TestDatabases.Problem(description: "not a SQLite location") }
            return try SQLiteStore(path: path)
        })

    public static let postgres = StoreEngineFactory(
        name: "postgres", location: { _ in .postgres(try await TestDatabases.create()) },
        open: { location in
            guard case .postgres(let settings) = location else { throw TestDatabases.Problem(description: "not a PostgreSQL location") }
            let store = try PostgresStore(settings: settings)
            try await store.migrate()
            return store
        })
}

/// Scratch databases in the test cluster.
public enum TestDatabases {
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// The test cluster's URL (its `postgres` database), from `TRELLIS_TEST_POSTGRES_URL`.
    public static func clusterSettings() throws -> PostgresSettings {
        guard let url = ProcessInfo.processInfo.environment["TRELLIS_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw Problem(
                description:
                    "PostgreSQL for the tests: TRELLIS_TEST_POSTGRES_URL is not set. scripts/test.sh starts a cluster; by hand: "
                    + "export TRELLIS_TEST_POSTGRES_URL=$(scripts/postgres.sh start /tmp/trellis-pg)")
        }
        guard case .postgres(let settings) = try StoreLocation.parse(url, setting: "TRELLIS_TEST_POSTGRES_URL") else {
            throw Problem(description: "TRELLIS_TEST_POSTGRES_URL must be a postgres:// URL")
        }
        return settings
    }

    /// Creates an empty database in the test cluster; returns how to reach it.
    public static func create() async throws -> PostgresSettings {
        var settings = try clusterSettings()
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        do {
            try await execute("CREATE DATABASE \(name)", on: settings)
        } catch {
            // The server's own words (PSQLError describes itself only when reflected); never the password.
            throw Problem(description: "PostgreSQL for the tests: cannot create a database in \(settings): \(String(reflecting: error))")
        }
        settings.database = name
        return settings
    }

    /// Runs one statement on the cluster's own database (CREATE or DROP DATABASE cannot run in a transaction).
    public static func execute(_ sql: String, on settings: PostgresSettings) async throws {
        try await withConnection(to: settings) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }

    /// Deletes a scratch database made by `create()`, closing what is still connected to it.
    public static func drop(_ settings: PostgresSettings) async throws {
        var cluster = settings
        cluster.database = try clusterSettings().database
        guard settings.database.hasPrefix("t_"), cluster.database != settings.database else { return }
        try await execute("DROP DATABASE IF EXISTS \(settings.database) WITH (FORCE)", on: cluster)
    }

    /// Runs `body` on a connection of its own to the database `settings` names, closed afterwards.
    public static func withConnection<T: Sendable>(
        to settings: PostgresSettings, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let configuration = PostgresConnection.Configuration(
            host: settings.host, port: settings.port, username: settings.user, password: settings.password, database: settings.database,
            tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// The first column of every row `sql` answers, as text, from the database `settings` names.
    public static func strings(_ sql: String, on settings: PostgresSettings) async throws -> [String] {
        try await withConnection(to: settings) { connection in
            var out: [String] = []
            for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(String.self) {
                out.append(value)
            }
            return out
        }
    }

    /// Says nothing below errors.
    static let logger: Logger = {
        var logger = Logger(label: "trellis.test.postgres")
        logger.logLevel = .error
        return logger
    }()
}

/// A store on fresh storage in its own temporary directory; `remove()` deletes the directory (a PostgreSQL
/// scratch database goes with the test cluster).
public struct TemporaryStore: Sendable {
    public let engine: StoreEngineFactory
    public let directory: URL
    /// Where the engine keeps the data.
    public let location: StoreLocation
    public let store: any TrellisStoreEngine

    /// The SQLite file (SQLite stores only; empty for others).
    public var path: String {
        if case .sqlite(let path) = location { return path }
        return ""
    }

    /// A SQLite store in a fresh file.
    public init() throws {
        engine = .sqlite
        directory = Self.scratchDirectory()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(SQLiteStore.fileName).path
        location = .sqlite(path: path)
        store = try SQLiteStore(path: path)
    }

    init(engine: StoreEngineFactory, directory: URL, location: StoreLocation, store: any TrellisStoreEngine) {
        self.engine = engine
        self.directory = directory
        self.location = location
        self.store = store
    }

    static func make(_ engine: StoreEngineFactory) async throws -> TemporaryStore {
        let directory = scratchDirectory()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let location = try await engine.location(directory)
        return TemporaryStore(engine: engine, directory: directory, location: location, store: try await engine.open(location))
    }

    static func scratchDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("trellis-store-test-\(UUID().uuidString)")
    }

    /// Opens another store on the same data, as a restarted process would.
    public func reopen() async throws -> any TrellisStoreEngine {
        try await engine.open(location)
    }

    public func remove() {
        (store as? PostgresStore)?.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }
}
