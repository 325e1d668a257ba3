/// A replica's leases on the buckets the replicas share (see `LeaseLedger` for the pool's side): admission takes
/// from them in memory; a sync every interval reports them and applies the pool's answers. A value type with the
/// time passed in (seconds on the replica's monotonic clock); keep it behind a lock.
///
/// Admission of a request that asks several buckets: all fit, and all are taken; one whose last sync saw the pool
/// empty refuses it, taking nothing; otherwise, when a bucket lacks tokens but the pool may have some (never
/// synced, or the last sync saw some), the caller syncs now and asks again without waiting (`mayWait: false`).
/// While no sync has succeeded for `leaseValidity`, the store is away: each bucket admits from a fallback share of
/// its capacity and rate divided by the replicas last seen.
public struct LeaseBook: Sendable, Equatable {
    public struct Settings: Sendable, Equatable {
        /// Seconds between syncs.
        public var interval: Double
        /// A lease is spent only this long after the last successful sync was sent; then the fallback applies.
        /// Shorter than the pool's forfeit time, so that a lease is never spent after the pool forfeited it.
        public var leaseValidity: Double
        /// A bucket not asked for in this long is given back at the next sync.
        public var idleAfter: Double

        public init(interval: Double, leaseValidity: Double? = nil, idleAfter: Double? = nil) {
            self.interval = interval
            self.leaseValidity = leaseValidity ?? (10 * interval + 1)
            self.idleAfter = idleAfter ?? max(50 * interval, 5)
        }

        /// How long the pool keeps an unseen lease: twice its validity.
        public var forfeitAfter: Double { 2 * leaseValidity }
    }

    public enum Decision: Sendable, Equatable {
        /// Taken from every bucket; the `x-ratelimit-*` headers.
        case admitted([Header])
        case refused(LimitRefusal.Which, retryAfter: Double, [Header])
        /// Sync these buckets, then ask again without waiting.
        case sync([String])
    }

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public let settings: Settings
    var leases: [String: LocalLease] = [:]
    /// When the last successful sync was sent (replica clock); nil before the first.
    public private(set) var lastSuccess: Double?
    /// When the first sync was sent: the store counts as away only once it failed to answer for the lease validity.
    var firstSync: Double?
    /// Live replicas at the last sync (at least 1).
    public private(set) var replicas = 1

    public init(settings: Settings) {
        self.settings = settings
    }

    /// Whether the store counts as away at `now`: syncs were tried, and none sent within the lease validity has
    /// succeeded. (Before the first sync was tried, nothing says it is away: a request waits for one instead.)
    public func storeAway(now: Double) -> Bool {
        guard let since = lastSuccess ?? firstSync else { return false }
        return now - since > settings.leaseValidity
    }

    /// Admits a request asking `demands` (see the type's description).
    public mutating func admit(_ demands: [LeaseDemand], now: Double, mayWait: Bool) -> Decision {
        let away = storeAway(now: now)
        var toSync: [String] = []
        for demand in demands {
            var lease = leases[demand.bucket.id] ?? LocalLease(bucket: demand.bucket, now: now)
            if lease.bucket != demand.bucket {
                // The limit changed: what the pool had is not known any more; ask it again.
                lease.bucket = demand.bucket
                lease.poolLevel = nil
            }
            let check = lease.check(demand.amount, now: now, storeAway: away, replicas: replicas, interval: settings.interval)
            leases[demand.bucket.id] = lease
            switch check {
            case .fits:
                continue
            case .refuse(let retryAfter):
                return .refused(demand.which, retryAfter: retryAfter, headers(demands))
            case .sync:
                if !mayWait { return .refused(demand.which, retryAfter: lease.retryAfter(demand.amount, interval: settings.interval), headers(demands)) }
                toSync.append(demand.bucket.id)
            }
        }
        if !toSync.isEmpty { return .sync(toSync) }
        for demand in demands { leases[demand.bucket.id]?.take(demand.amount, storeAway: away) }
        return .admitted(headers(demands))
    }

    /// A request ended having used `delta` more (or, negative, less) than it took from each bucket. A bucket given
    /// back and forgotten while the request ran is taken up again, not asked for, so that the next sync reports the
    /// debt (or the refund) and drops the lease.
    public mutating func settle(_ demands: [LeaseDemand], delta: Double) {
        guard delta != 0 else { return }
        for demand in demands where demand.settlesOnUse {
            leases[demand.bucket.id, default: LocalLease(bucket: demand.bucket, now: -.infinity)].held -= delta
        }
    }

    /// The reports for the next sync, one per bucket with something to say; buckets idle with nothing held are
    /// forgotten.
    public mutating func reports(now: Double) -> [LeaseReport] {
        if firstSync == nil { firstSync = now }
        var out: [LeaseReport] = []
        for id in leases.keys.sorted() {
            guard var lease = leases[id] else { continue }
            if lease.isIdle, now - lease.demandAt > settings.idleAfter {
                leases[id] = nil
                continue
            }
            out.append(lease.report(now: now, idleAfter: settings.idleAfter))
            leases[id] = lease
        }
        return out
    }

    /// Applies a successful sync whose reports were made at `sentAt`.
    public mutating func apply(_ grants: [LeaseGrant], sentAt: Double, replicas: Int) {
        lastSuccess = max(lastSuccess ?? sentAt, sentAt)
        self.replicas = max(1, replicas)
        for grant in grants { leases[grant.bucketID]?.apply(grant) }
    }

    /// A sync carrying `reports` failed.
    public mutating func failed(_ reports: [LeaseReport]) {
        for report in reports { leases[report.bucket.id]?.failed(report) }
    }

    /// Every bucket reported as idle, so that the final sync of a process stopping gives everything back.
    public mutating func releaseAll(now: Double) -> [LeaseReport] {
        for id in leases.keys { leases[id]?.demandAt = now - settings.idleAfter - 1 }
        return reports(now: now)
    }

    /// What this replica holds of a bucket (tests and metrics).
    public func held(_ bucketID: String) -> Double { leases[bucketID]?.held ?? 0 }

    /// OpenAI's rate-limit headers for the tighter of the key's and the tenant's buckets.
    func headers(_ demands: [LeaseDemand]) -> [Header] {
        func tightest(_ kinds: Set<LimitRefusal.Which>) -> (limit: Int, remaining: Int, reset: Double)? {
            demands.filter { kinds.contains($0.which) }.compactMap { leases[$0.bucket.id]?.remaining() }.min { $0.remaining < $1.remaining }
        }
        var out: [Header] = []
        for (kinds, suffix) in [([LimitRefusal.Which.keyRequests, .tenantRequests], "requests"), ([.keyTokens, .tenantTokens], "tokens")] {
            guard let (limit, remaining, reset) = tightest(Set(kinds)) else { continue }
            out += [
                Header(name: "x-ratelimit-limit-\(suffix)", value: String(limit)),
                Header(name: "x-ratelimit-remaining-\(suffix)", value: String(remaining)),
                Header(name: "x-ratelimit-reset-\(suffix)", value: RateLimiter.duration(reset)),
            ]
        }
        return out
    }
}
