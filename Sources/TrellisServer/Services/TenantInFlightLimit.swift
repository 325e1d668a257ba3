import Synchronization

/// Requests in flight per tenant, each tenant capped at `limit`, so that one tenant (a burst, or clients that
/// open streams and never read them) cannot take every one of the gateway's `server.max_in_flight` slots.
/// A stream counts until its last byte is written, like the gateway's own limit.
final class TenantInFlightLimit: Sendable {
    let limit: Int
    private let counts = Mutex<[String: Int]>([:])

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Takes a slot for `tenantID`, or returns false (taking nothing) when the tenant has `limit` already.
    func enter(_ tenantID: String) -> Bool {
        counts.withLock { counts in
            let now = counts[tenantID, default: 0]
            guard now < limit else { return false }
            counts[tenantID] = now + 1
            return true
        }
    }

    func leave(_ tenantID: String) {
        counts.withLock { counts in
            let now = counts[tenantID, default: 0]
            // No entry is kept for a tenant with nothing in flight: the map stays as small as the active set.
            if now <= 1 { counts[tenantID] = nil } else { counts[tenantID] = now - 1 }
        }
    }

    func current(_ tenantID: String) -> Int { counts.withLock { $0[tenantID, default: 0] } }

    /// A slot for `tenantID` taken now, or nil when the tenant is at its limit.
    func slot(_ tenantID: String) -> InFlightSlot? {
        guard enter(tenantID) else { return nil }
        return InFlightSlot(release: { self.leave(tenantID) })
    }
}
