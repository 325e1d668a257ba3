import Foundation
import Logging
import NIOSSL
import OpenAIWire
import PostgresNIO
import Synchronization
import TrellisCore

/// The store on PostgreSQL, through postgres-nio's connection pool: the same aggregates as `SQLiteStore`, with
/// the SQL each needs in this folder. Values keep SQLite's shapes (times as integer milliseconds or seconds,
/// JSON as text, histograms and user sets as bytes), so `trellis store copy` moves rows unchanged.
///
/// Nothing on the request path reads it: the gateway serves from its in-memory catalog. Every operation has
/// a deadline; a database that cannot be reached fails it with `StoreFailure.unavailable` (503) and changes
/// nothing, since every write is one transaction.
public final class PostgresStore: Sendable {
    public let settings: PostgresSettings
    let client: PostgresClient
    let logger: Logger
    /// How long one operation may take before it fails as unavailable.
    let operationTimeout: Duration
    private let runner: Task<Void, Never>
    private let migrations = Mutex<[String]>([])

    /// Creates the pool; nothing is connected yet. `migrate()` (done by `openStore`) is the first contact.
    public init(settings: PostgresSettings, logger: Logger = Logger(label: "trellis.store"), operationTimeout: Duration = .seconds(10)) throws {
        var configuration = PostgresClient.Configuration(
            host: settings.host, port: settings.port, username: settings.user, password: settings.password, database: settings.database,
            tls: try Self.tls(settings))
        configuration.options.connectTimeout = .seconds(Int64(settings.connectTimeoutSeconds))
        configuration.options.maximumConnections = settings.maxConnections
        configuration.options.minimumConnections = 0
        // The server ends what a vanished gateway left behind (a transaction holding the catalog lock, a
        // statement on a dead connection) within the bulk deadline instead of TCP keepalive's hours, and a
        // lock wait ends with the operation's deadline.
        let deadlineMs = operationTimeout.components.seconds * 1_000 + operationTimeout.components.attoseconds / 1_000_000_000_000_000
        configuration.options.additionalStartupParameters = [
            ("statement_timeout", "\(deadlineMs * 12)"), ("idle_in_transaction_session_timeout", "\(deadlineMs * 12)"),
            ("lock_timeout", "\(deadlineMs)"),
        ]
        self.settings = settings
        self.logger = logger
        self.operationTimeout = operationTimeout
        // The pool's own messages (connection attempts, with their errors) stay quiet: the gateway reports the
        // store's state itself, in one line, without credentials.
        var background = logger
        background.logLevel = .critical
        let client = PostgresClient(configuration: configuration, backgroundLogger: background)
        self.client = client
        self.runner = Task { await client.run() }
    }

    deinit { runner.cancel() }

    /// Closes the pool.
    public func shutdown() { runner.cancel() }

    static func tls(_ settings: PostgresSettings) throws -> PostgresClient.Configuration.TLS {
        try tlsConfiguration(settings).map { .require($0) } ?? .disable
    }

    /// What `sslmode` asks of TLS, for the pool and for the start-up probe's single connection alike: nil for
    /// none; `require` encrypts without checking the certificate; `verify-full` checks the chain against the CA
    /// file (else the system's roots) and the host name.
    static func tlsConfiguration(_ settings: PostgresSettings) throws -> TLSConfiguration? {
        switch settings.tls {
        case .disable:
            return nil
        case .require:
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            return tls
        case .verifyFull:
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .fullVerification
            if let caFile = settings.caFile {
                do {
                    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
                } catch {
                    throw StoreURLError(setting: "store.ca_file", problem: "cannot read the CA certificates in \(caFile)")
                }
            }
            return tls
        }
    }

    // MARK: Running operations

    /// Runs `body` on a pooled connection (no transaction), within the deadline.
    func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await guarded { [client] leased in
            try await client.withConnection { connection in
                try leased.hold(connection)
                defer { leased.release() }
                return try await body(connection)
            }
        }
    }

    /// Runs `body` in one transaction, within the deadline (`bulk`: the longer one of operations whose size
    /// the caller sets, such as a large document's chunks); an error rolls everything back.
    func write<T: Sendable>(bulk: Bool = false, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await guarded(bulk: bulk) { [client, logger] leased in
            try await client.withConnection { connection in
                try leased.hold(connection)
                defer { leased.release() }
                return try await connection.withTransaction(logger: logger) { try await body($0) }
            }
        }
    }

    /// Runs `body` in one read-only transaction that sees one snapshot of the database throughout.
    func snapshotRead<T: Sendable>(bulk: Bool = false, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await write(bulk: bulk) { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: Self.quiet)
            return try await body(connection)
        }
    }

    /// The operation within the deadline, its failures in the store's terms (`StoreFailure.map`). A bulk
    /// operation gets twelve times the deadline (two minutes by default).
    ///
    /// The deadline holds even when the operation does not end: a query on a connection whose server vanished
    /// can wait on a socket that never answers, whatever its task's cancellation says. So the caller is answered
    /// at the deadline without waiting for the operation (`withDeadline`), and the connection it leased is
    /// closed, which fails the stuck query and gives the connection's place in the pool back.
    func guarded<T: Sendable>(bulk: Bool = false, _ operation: @escaping @Sendable (LeasedConnection) async throws -> T) async throws -> T {
        let deadline = bulk ? operationTimeout * 12 : operationTimeout
        let leased = LeasedConnection()
        do {
            return try await withDeadline(
                deadline,
                onTimeout: {
                    leased.close()
                    return StoreFailure.unavailable("The store did not answer within \(deadline).")
                },
                operation: { try await operation(leased) })
        } catch {
            throw StoreFailure.map(error)
        }
    }

    /// A logger for queries that says nothing below errors.
    static let quiet: Logger = {
        var logger = Logger(label: "trellis.store.query")
        logger.logLevel = .error
        return logger
    }()

    // MARK: Migrations

    /// Applies every pending migration under an advisory lock, so that processes starting together migrate
    /// once; returns the applied migrations, oldest first.
    @discardableResult
    public func migrate() async throws -> [String] {
        // Bulk: it may wait for another process's migration to release the lock.
        let applied = try await guarded(bulk: true) { [client] leased in
            try await client.withConnection { connection in
                try leased.hold(connection)
                defer { leased.release() }
                return try await PostgresMigrations.apply(on: connection)
            }
        }
        migrations.withLock { $0 = applied }
        return applied
    }

    /// The migrations `migrate()` found applied.
    public func appliedMigrations() throws -> [String] {
        migrations.withLock { $0 }
    }

    /// Answers when the database can be reached and runs queries.
    public func ping() async throws {
        _ = try await read { connection in try await connection.query("SELECT 1", logger: Self.quiet).collect() }
    }

    // MARK: Shared by the aggregates

    public func catalogGeneration() async throws -> Int64 {
        try await read { connection in try await Self.generation(connection) }
    }

    static func generation(_ connection: PostgresConnection) async throws -> Int64 {
        try await connection.scalar("SELECT value FROM meta WHERE key = 'catalog_generation'", as: Int64.self) ?? 0
    }

    /// Moves the catalog generation on, in the caller's transaction, and announces it to the other replicas
    /// (`PostgresChangeListener`): PostgreSQL delivers the notification when the transaction commits, never
    /// for one rolled back.
    static func bumpGeneration(_ connection: PostgresConnection) async throws {
        _ = try await connection.scalar(
            """
            WITH bumped AS (UPDATE meta SET value = value + 1 WHERE key = 'catalog_generation' RETURNING value)
            SELECT value, pg_notify(\(PostgresChangeListener.channel), 'catalog ' || value) FROM bumped
            """, as: Int64.self)
    }

    /// The name rules of the contract, for any namespaced table (see `SQLiteStore.checkName`). A name taken by
    /// a concurrent transaction is caught by the unique indexes instead (a 409 as well).
    static func checkName(_ connection: PostgresConnection, table: String, kind: String, name: String, tenantID: String?) async throws {
        let shared =
            try await connection.scalar("SELECT COUNT(*) FROM \(unescaped: table) WHERE name = \(name) AND tenant_id IS NULL", as: Int64.self) ?? 0
        if let tenantID {
            let own =
                try await connection.scalar(
                    "SELECT COUNT(*) FROM \(unescaped: table) WHERE name = \(name) AND tenant_id = \(tenantID)", as: Int64.self) ?? 0
            if own > 0 { throw TrellisError.conflict("This tenant already has a \(kind) named '\(name)'.") }
            if shared > 0 { throw TrellisError.conflict("'\(name)' is the name of a shared \(kind); shared names are public and cannot be reused.") }
        } else if shared > 0 {
            throw TrellisError.conflict("A shared \(kind) named '\(name)' already exists.")
        }
    }

    /// Writes an audit row in the caller's transaction.
    static func audit(
        _ connection: PostgresConnection, actor: String, tenantID: String?, action: String, target: String, detail: JSONValue? = nil, now: Date
    ) async throws {
        let detailText = detail.map { JSONWriter.string($0) }
        try await connection.query(
            """
            INSERT INTO audit_log (at_ms, actor, tenant_id, action, target, detail)
            VALUES (\(now.unixMilliseconds), \(actor), \(tenantID), \(action), \(target), \(detailText))
            """, logger: quiet)
    }
}

extension PostgresConnection {
    /// The first column of the first row (which must not be NULL), or nil when there is no row.
    func scalar<T: PostgresDecodable>(_ query: PostgresQuery, as: T.Type) async throws -> T? {
        for try await row in try await self.query(query, logger: PostgresStore.quiet) {
            return try row.decode(T.self)
        }
        return nil
    }
}

extension PostgresStore: TrellisStoreEngine {}

/// The connection an operation leased, so that an operation past its deadline can have it closed. Once the
/// operation gives the connection back (`release`) it is never closed from here, since the pool may have lent
/// it to someone else; an operation that gets its connection only after its deadline does not start.
final class LeasedConnection: Sendable {
    private enum State {
        case waiting
        case leased(PostgresConnection)
        case released
        case timedOut
    }

    private let state = Mutex(State.waiting)

    func hold(_ connection: PostgresConnection) throws {
        let late = state.withLock { state -> Bool in
            if case .timedOut = state { return true }
            state = .leased(connection)
            return false
        }
        if late { throw CancellationError() }
    }

    func release() {
        state.withLock { $0 = .released }
    }

    /// The deadline passed: closes the connection if the operation still holds it (whatever waits on it fails,
    /// and the pool replaces it); an operation that has not leased one yet will not start.
    func close() {
        let leased = state.withLock { state -> PostgresConnection? in
            defer { if case .waiting = state { state = .timedOut } }
            if case .leased(let connection) = state { return connection }
            return nil
        }
        if let leased { Task { try? await leased.close() } }
    }
}
