import Logging
import TrellisStore

/// The one place that picks the store engine and opens it; everything else holds the store by its protocols
/// (`TrellisStoreEngine` or the aggregates it is made of).
///
/// `makeStore` touches nothing on a database server (PostgreSQL: a connection pool, not yet connected), so the
/// gateway can start while its database is down; `prepare()` on the result makes it ready (migrations).
public func makeStore(_ location: StoreLocation, logger: Logger, operationTimeout: Duration = .seconds(10)) throws -> any TrellisStoreEngine {
    switch location {
    case .sqlite(let path):
        return try SQLiteStore(path: path)
    case .postgres(let settings):
        return try PostgresStore(settings: settings, logger: logger, operationTimeout: operationTimeout)
    }
}

/// The store `config` names, made and prepared: for the command line's offline tasks. A PostgreSQL database
/// that cannot be used fails at once with one line saying why (`StoreOpenError`), not after the pool's deadline.
public func openStore(_ config: TrellisConfig, logger: Logger = Logger(label: "trellis.store")) async throws -> any TrellisStoreEngine {
    let store = try makeStore(config.store, logger: logger, operationTimeout: .milliseconds(config.storeOperationTimeoutMs))
    if let postgres = store as? PostgresStore {
        do {
            try await PostgresProbe.check(postgres.settings)
        } catch {
            postgres.shutdown()
            if let error = error as? StoreURLError { throw error }
            var problem = StoreFailure.describe(error)
            if StoreFailure.isCredentials(error) { problem += "; fix the user in store.url or the password (store.password_env, or the URL)" }
            throw StoreOpenError(store: describeStore(config.store), problem: problem)
        }
    }
    do {
        try await store.prepare()
    } catch {
        (store as? PostgresStore)?.shutdown()
        throw error
    }
    return store
}

/// A store the command line could not open: where, and why in one line (never the password).
public struct StoreOpenError: Error, CustomStringConvertible {
    public var store: String
    public var problem: String

    public var description: String { "cannot use the store \(store): \(problem)" }
}

/// Where the store is, for the log and the command line: `postgres://user@host:port/db?sslmode=…` (never the
/// password) or `sqlite:<file>`.
public func describeStore(_ location: StoreLocation) -> String {
    switch location {
    case .sqlite(let path): return "sqlite:\(path)"
    case .postgres(let settings): return settings.description
    }
}

/// A SQLite store at `databasePath`, created and migrated on open.
public func openStore(databasePath: String) throws -> any TrellisStoreEngine {
    try SQLiteStore(path: databasePath)
}

/// Opens a backup file read-only and reports its integrity, migrations and row counts (before a restore).
func checkBackup(file path: String) throws -> BackupCheck {
    try SQLiteStore.check(file: path)
}
