import TrellisCore

/// One replica's sync of its leases: its reports, one per bucket, in one transaction.
public struct LeaseSync: Sendable, Equatable {
    /// The replica's id (random per process) and when it started (Unix milliseconds).
    public var replica: String
    public var startedMs: Int64
    public var reports: [LeaseReport]
    /// The ledger's rules (the forfeit time).
    public var ledger: LeaseLedger
    /// A replica seen within this many milliseconds counts as live.
    public var liveWithinMs: Int64
    /// Also delete what nobody used for a day (pools without leases, replicas gone).
    public var housekeeping: Bool

    public init(replica: String, startedMs: Int64, reports: [LeaseReport], ledger: LeaseLedger, liveWithinMs: Int64, housekeeping: Bool = false) {
        self.replica = replica
        self.startedMs = startedMs
        self.reports = reports
        self.ledger = ledger
        self.liveWithinMs = liveWithinMs
        self.housekeeping = housekeeping
    }
}

/// The pool's answers to one sync.
public struct LeaseSyncAnswer: Sendable, Equatable {
    public var grants: [LeaseGrant]
    /// Replicas whose heartbeat is recent, this one included.
    public var liveReplicas: Int

    public init(grants: [LeaseGrant], liveReplicas: Int) {
        self.grants = grants
        self.liveReplicas = liveReplicas
    }
}
