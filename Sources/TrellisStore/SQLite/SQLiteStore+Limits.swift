import TrellisCore

/// SQLite serves one process: limits stay in that process's memory (`RateLimiter`), nothing is shared.
extension SQLiteStore: LimitStore {
    public var sharesLimits: Bool { false }

    public func syncLeases(_ request: LeaseSync) async throws -> LeaseSyncAnswer {
        LeaseSyncAnswer(grants: [], liveReplicas: 1)
    }
}
