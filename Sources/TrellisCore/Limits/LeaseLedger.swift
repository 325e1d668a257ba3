/// A bucket's shared pool as the store keeps it: the tokens no replica holds, the limit, and when it was last
/// refilled (milliseconds on the database's clock, the one clock every replica's sync reads).
public struct LeasePool: Sendable, Equatable {
    public var level: Double
    public var capacity: Double
    public var refillPerSecond: Double
    public var updatedMs: Int64

    public init(level: Double, capacity: Double, refillPerSecond: Double, updatedMs: Int64) {
        self.level = level
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
        self.updatedMs = updatedMs
    }
}

/// One replica's lease on a bucket as the store keeps it: what it held at its last sync (negative: a debt), and
/// when (database clock).
public struct LeaseHolding: Sendable, Equatable {
    public var replica: String
    public var held: Double
    public var seenMs: Int64

    public init(replica: String, held: Double, seenMs: Int64) {
        self.replica = replica
        self.held = held
        self.seenMs = seenMs
    }
}

/// What a replica tells the pool about one bucket at a sync.
public struct LeaseReport: Sendable, Equatable {
    public var bucket: LimitBucket
    /// What the replica holds now, after `returned` was taken out of it; negative when requests settled above
    /// their reservation (a debt the pool pays).
    public var held: Double
    /// Tokens handed back to the pool.
    public var returned: Double
    /// Tokens the replica admitted on its own while the store was away (charged to the pool).
    public var minted: Double
    /// The largest request the replica could not admit since its last sync (0: none).
    public var need: Double
    /// The largest request the replica was asked for lately, admitted or not (sizes its part of a quota).
    public var largest: Double
    /// Whether the bucket was asked for lately; a replica without demand gives everything back and drops its lease.
    public var active: Bool
    /// The replica has never synced this bucket (its pool may not exist yet).
    public var fresh: Bool

    public init(
        bucket: LimitBucket, held: Double, returned: Double = 0, minted: Double = 0, need: Double = 0, largest: Double = 0, active: Bool = true,
        fresh: Bool = false
    ) {
        self.bucket = bucket
        self.held = held
        self.returned = returned
        self.minted = minted
        self.need = need
        self.largest = max(largest, need)
        self.active = active
        self.fresh = fresh
    }
}

/// The pool's answer to one replica for one bucket.
public struct LeaseGrant: Sendable, Equatable {
    public var bucketID: String
    /// Added to the replica's holding: a grant, or (negative) the holding of a lease the pool no longer knows.
    public var change: Double
    /// Held above the replica's fair share: to hand back at its next sync.
    public var release: Double
    /// What the pool has left for the other replicas.
    public var poolLevel: Double
    /// Replicas holding a lease on the bucket, this one included when it kept its lease.
    public var holders: Int
    /// Whether the replica holds a lease after this sync.
    public var leased: Bool

    public init(bucketID: String, change: Double, release: Double, poolLevel: Double, holders: Int, leased: Bool) {
        self.bucketID = bucketID
        self.change = change
        self.release = release
        self.poolLevel = poolLevel
        self.holders = holders
        self.leased = leased
    }
}

/// The arithmetic of one replica's sync of one bucket, apart from the store: the pool is refilled by the
/// database time elapsed, never above capacity counting what every replica held at its last sync; leases not seen
/// for `forfeitAfterMs` are forfeited (dropped, not returned: their replica may have spent part of them since it
/// last reported, so giving them back could count those tokens twice; a debt stays charged); then the replica is
/// granted up to its fair share (the pool and every holding, divided by the replicas holding leases, plus one while
/// a live replica holds none), or at least its largest waiting request, and told what it holds above that.
///
/// Every token a replica spends was granted from the pool, and the pool only grows by `refillPerSecond` per second
/// of database time, so the cluster admits at most `capacity + refillPerSecond × t` over any time `t`, whatever the
/// timing of the syncs: the bound of a single process.
public struct LeaseLedger: Sendable, Equatable {
    /// A lease not seen for this long is forfeited.
    public var forfeitAfterMs: Int64
    /// For a bucket without refill (a month's quota): the largest part of its capacity one replica holds at once,
    /// so that a replica that dies forfeits little of the month.
    public var quotaShare: Double

    public init(forfeitAfterMs: Int64, quotaShare: Double = 0.01) {
        self.forfeitAfterMs = forfeitAfterMs
        self.quotaShare = quotaShare
    }

    /// The result of one sync: the pool to store, this replica's lease (nil: delete it), the leases forfeited.
    public struct Outcome: Sendable, Equatable {
        public var pool: LeasePool
        public var lease: LeaseHolding?
        public var forfeited: [String]
        public var grant: LeaseGrant
    }

    /// One sync: `pool` nil when the bucket has none yet (it starts full, less `seedUsed` for a month's quota);
    /// `replicas` the live replicas, of which those without a lease may come asking.
    public func sync(
        pool existing: LeasePool?, holdings: [LeaseHolding], report: LeaseReport, replica: String, nowMs: Int64, replicas: Int = 1,
        seedUsed: Double = 0
    ) -> Outcome {
        let bucket = report.bucket
        var pool =
            existing ?? LeasePool(level: bucket.capacity - seedUsed, capacity: bucket.capacity, refillPerSecond: bucket.refillPerSecond, updatedMs: nowMs)
        Self.reconfigure(&pool, to: bucket)
        let others = holdings.filter { $0.replica != replica }
        let live = others.filter { nowMs - $0.seenMs <= forfeitAfterMs }
        let dropped = others.filter { nowMs - $0.seenMs > forfeitAfterMs }
        let forfeited = dropped.map(\.replica)
        let othersHeld = live.reduce(0) { $0 + $1.held }
        // The refill since the last update came while the leases held what was recorded then: a debt run up since
        // (reported now) is not refilled over time that passed before it.
        let recorded = holdings.first { $0.replica == replica }?.held ?? 0
        Self.refill(&pool, holding: othersHeld + recorded, nowMs: nowMs)
        // What a forfeited lease held is dropped, but its debt (tokens spent on credit) stays spent.
        pool.level += dropped.reduce(0) { $0 + min(0, $1.held) }
        // A lease the pool does not know (forfeited, or never granted) holds nothing but its debt; of what the
        // replica created on its own meanwhile, only what it spent is charged (the rest is part of what it held).
        let known = holdings.contains { $0.replica == replica }
        let held = known ? report.held : min(report.held, 0)
        var change = held - report.held
        let unspent = known ? 0 : min(max(0, report.minted), max(0, report.held))
        pool.level += report.returned - report.minted + unspent

        guard report.active else {
            // No demand: whatever is left (a debt, normally) is settled with the pool and the lease dropped.
            pool.level += held
            change -= held
            return Outcome(
                pool: pool, lease: nil, forfeited: forfeited,
                grant: LeaseGrant(bucketID: bucket.id, change: change, release: 0, poolLevel: pool.level, holders: live.count, leased: false))
        }
        let want = max(fairShare(pool: pool, held: othersHeld + held, holders: live.count + 1, replicas: replicas, largest: report.largest), report.need)
        var granted = max(0, min(want - held, pool.level))
        // A grant that still leaves the waiting request short stays in the pool, where it can make up a whole one.
        if held + granted < report.need { granted = 0 }
        pool.level -= granted
        change += granted
        let lease = LeaseHolding(replica: replica, held: held + granted, seenMs: nowMs)
        return Outcome(
            pool: pool, lease: lease, forfeited: forfeited,
            grant: LeaseGrant(
                bucketID: bucket.id, change: change, release: max(0, lease.held - want), poolLevel: pool.level, holders: live.count + 1,
                leased: true))
    }

    /// The pool and every holding divided among the holders, and one more while live replicas hold no lease (so
    /// that a replica's first request finds tokens in the pool, not all of them leased to the others); for a
    /// quota, at most `quotaShare` of it (or four of the largest recent request).
    func fairShare(pool: LeasePool, held: Double, holders: Int, replicas: Int, largest: Double) -> Double {
        let shares = min(max(replicas, holders), holders + 1)
        // Whole requests or tokens, so that no replica is left with a part of one it cannot use.
        let share = (max(0, pool.level + held) / Double(max(1, shares))).rounded(.down)
        guard pool.refillPerSecond == 0 else { return share }
        return min(share, max(pool.capacity * quotaShare, 4 * largest))
    }

    /// A limit changed: the pool moves by the change of capacity (what was used stays used), at the new rate.
    static func reconfigure(_ pool: inout LeasePool, to bucket: LimitBucket) {
        if pool.capacity != bucket.capacity {
            pool.level += bucket.capacity - pool.capacity
            pool.capacity = bucket.capacity
        }
        pool.refillPerSecond = bucket.refillPerSecond
    }

    /// Adds the refill since the pool's last update, so that the pool and `holding` stay within capacity.
    static func refill(_ pool: inout LeasePool, holding: Double, nowMs: Int64) {
        guard nowMs > pool.updatedMs else { return }
        let elapsed = Double(nowMs - pool.updatedMs) / 1_000
        let room = pool.capacity - pool.level - holding
        if room > 0 { pool.level += min(room, elapsed * pool.refillPerSecond) }
        pool.updatedMs = nowMs
    }
}
