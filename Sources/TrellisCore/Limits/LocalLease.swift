/// One replica's side of one shared bucket: what it holds from the pool, what it last learned of the pool, and the
/// demand it will report. Requests take from `held` only, so every token spent was granted by the pool. While the
/// store is away (no sync for the lease's validity), the replica admits from a `Fallback` share instead and counts
/// what that share created, to be charged to the pool when the store is back. Time is passed in (seconds).
struct LocalLease: Sendable, Equatable {
    /// The local budget while the store is away: capacity and rate divided by the replicas last seen.
    struct Fallback: Sendable, Equatable {
        var level: Double
        var updated: Double
    }

    var bucket: LimitBucket
    var held: Double = 0
    /// Handed back at the next sync (above the fair share, or no longer wanted): no longer spendable.
    var pendingReturn: Double = 0
    /// The pool's level after this replica's last sync; nil before the first.
    var poolLevel: Double?
    var holders = 1
    var leased = false
    /// The largest request refused for want of a grant since the last report.
    var need: Double = 0
    /// When the bucket was last asked for, and the largest request it was asked for.
    var demandAt: Double
    var largest: Double = 0
    var fallback: Fallback?
    /// Tokens the fallback share created since the last report.
    var minted: Double = 0

    init(bucket: LimitBucket, now: Double) {
        self.bucket = bucket
        self.demandAt = now
    }

    enum Check: Equatable {
        case fits
        /// Never synced, or the last sync saw tokens in the pool: ask it.
        case sync
        case refuse(retryAfter: Double)
    }

    /// Whether `amount` can be taken now from the lease (the store answering) or the fallback share.
    mutating func check(_ amount: Double, now: Double, storeAway: Bool, replicas: Int, interval: Double) -> Check {
        demandAt = now
        if amount > bucket.capacity { return .refuse(retryAfter: .infinity) }
        largest = max(largest, amount)
        if storeAway {
            refillFallback(now: now, replicas: replicas)
            if let fallback, fallback.level >= amount { return .fits }
            let rate = bucket.refillPerSecond / Double(max(1, replicas))
            return .refuse(retryAfter: max(interval, rate > 0 ? (amount - (fallback?.level ?? 0)) / rate : .infinity))
        }
        if held >= amount { return .fits }
        need = max(need, amount)
        guard let poolLevel else { return .sync }
        if poolLevel >= amount - held { return .sync }
        return .refuse(retryAfter: retryAfter(amount, interval: interval))
    }

    /// Seconds until the cluster's refill could cover `amount`, never less than one sync interval.
    func retryAfter(_ amount: Double, interval: Double) -> Double {
        guard bucket.refillPerSecond > 0 else { return .infinity }
        let missing = amount - max(0, held) - max(0, poolLevel ?? 0)
        return max(interval, missing / bucket.refillPerSecond)
    }

    /// Takes `amount` (checked to fit).
    mutating func take(_ amount: Double, storeAway: Bool) {
        if storeAway, fallback != nil {
            fallback?.level -= amount
        } else {
            held -= amount
        }
    }

    /// The fallback share: entered with what the lease holds (at most the share), or a full share for a bucket the
    /// pool never answered for; refilled at the rate divided by the replicas. What it creates is counted. The share
    /// lasts until a sync succeeds (`apply`), so that failed syncs never create another one.
    mutating func refillFallback(now: Double, replicas: Int) {
        let n = Double(max(1, replicas))
        let cap = bucket.capacity / n
        guard var share = fallback else {
            if poolLevel == nil {
                fallback = Fallback(level: cap, updated: now)
                minted += cap
            } else {
                let moved = min(cap, max(0, held))
                held -= moved
                fallback = Fallback(level: moved, updated: now)
            }
            return
        }
        if now > share.updated {
            let added = max(0, min(cap - share.level, (now - share.updated) * bucket.refillPerSecond / n))
            share.level += added
            minted += added
            share.updated = now
        }
        fallback = share
    }

    /// The report for the next sync; takes the returned and minted tokens out of the local state. What is left of a
    /// fallback share is reported as held, and stays spendable as the share until the sync succeeds.
    mutating func report(now: Double, idleAfter: Double) -> LeaseReport {
        let active = now - demandAt <= idleAfter
        var returned = pendingReturn
        if !active, held > 0 {
            returned += held
            held = 0
        }
        let report = LeaseReport(
            bucket: bucket, held: held + (fallback?.level ?? 0), returned: returned, minted: minted, need: need, largest: largest, active: active,
            fresh: poolLevel == nil)
        pendingReturn = 0
        minted = 0
        need = 0
        return report
    }

    /// Whether the bucket has nothing to report and can be forgotten.
    var isIdle: Bool { !leased && held == 0 && pendingReturn == 0 && minted == 0 && fallback == nil }

    /// Applies the pool's answer; `sent` is this sync's report.
    mutating func apply(_ grant: LeaseGrant) {
        // The store answered: what is left of the fallback share (reported as held) is the lease's again.
        if let share = fallback {
            held += share.level
            fallback = nil
        }
        held += grant.change
        let release = min(grant.release, max(0, held))
        held -= release
        pendingReturn += release
        poolLevel = grant.poolLevel
        holders = grant.holders
        leased = grant.leased
    }

    /// The sync carrying `sent` failed: the minted tokens and the need are reported again next time, and the
    /// fallback share stays as it is. Returned tokens are not taken back: the store may have received them before
    /// the answer was lost.
    mutating func failed(_ sent: LeaseReport) {
        minted += sent.minted
        need = max(need, sent.need)
    }

    /// Requests and tokens left as far as this replica knows, and seconds until the bucket would be full.
    func remaining() -> (limit: Int, remaining: Int, reset: Double) {
        let left = max(0, held + max(0, poolLevel ?? 0) + (fallback?.level ?? 0))
        let reset = bucket.refillPerSecond > 0 ? max(0, bucket.capacity - left) / bucket.refillPerSecond : 0
        return (Int(bucket.capacity), Int(min(left, bucket.capacity).rounded(.down)), reset)
    }
}
