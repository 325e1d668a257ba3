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

/// The store `config` names, made and prepared: for the command line's offline tasks.
public func openStore(_ config: TrellisConfig, logger: Logger = Logger(label: "trellis.store")) async throws -> any TrellisStoreEngine {
    let store = try makeStore(config.store, logger: logger, operationTimeout: .milliseconds(config.storeOperationTimeoutMs))
    try await store.prepare()
    return store
}

/// A SQLite store at `databasePath`, created and migrated on open.
public func openStore(databasePath: String) throws -> any TrellisStoreEngine {
    try SQLiteStore(path: databasePath)
}

/// Opens a backup file read-only and reports its integrity, migrations and row counts (before a restore).
func checkBackup(file path: String) throws -> BackupCheck {
    try SQLiteStore.check(file: path)
}
