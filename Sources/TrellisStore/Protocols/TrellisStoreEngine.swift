/// Everything the gateway asks of its store, one protocol per aggregate. An engine (SQLite today, see
/// `SQLiteStore`) conforms to all of them; a consumer names only the ones it needs (`UsageRecorder` a
/// `UsageStore & FlywheelStore`, `KnowledgeService` a `KnowledgeStore`, …), and the gateway holds the whole.
/// Nothing in these protocols names an engine's types: a second engine slots in behind them.
public protocol TrellisStoreEngine: CatalogStore, KeyStore, UsageStore, FlywheelStore, KnowledgeStore, AuditStore, MaintenanceStore, LimitStore,
    ResponseStore, EvalStore
{}
