import TrellisStore

/// The one place that picks the store engine and opens it; everything else holds the store by its protocols
/// (`TrellisStoreEngine` or the aggregates it is made of). Today the engine is SQLite, a file at
/// `databasePath`, created and migrated on open.
public func openStore(databasePath: String) throws -> any TrellisStoreEngine {
    try SQLiteStore(path: databasePath)
}

/// The store `config` names.
public func openStore(_ config: TrellisConfig) throws -> any TrellisStoreEngine {
    try openStore(databasePath: config.databasePath)
}

/// Opens a backup file read-only and reports its integrity, migrations and row counts (before a restore).
func checkBackup(file path: String) throws -> BackupCheck {
    try SQLiteStore.check(file: path)
}
