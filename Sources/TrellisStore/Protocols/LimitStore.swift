import TrellisCore

/// The limits replicas share: each bucket's pool and the leases replicas hold on it, synced in one transaction
/// per replica every few hundred milliseconds (see `LeaseLedger` for the arithmetic, `LeaseSync` for the exchange),
/// and the replicas' heartbeats. An engine that serves one process alone (SQLite) shares nothing: its gateway keeps
/// every limit in memory.
public protocol LimitStore: Sendable {
    /// Whether several processes may share this store, and so its limits.
    var sharesLimits: Bool { get }
    /// Reports one replica's leases, applies the ledger to each bucket, records the replica's heartbeat, and
    /// answers the grants and the number of live replicas.
    func syncLeases(_ request: LeaseSync) async throws -> LeaseSyncAnswer
}
