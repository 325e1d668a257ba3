import Testing
import TrellisCore

/// A replica and the pool across a store outage and after a lease was dropped: what is admitted stays within the
/// documented bounds, and the pool is charged with what was spent, no more and no less.
@Suite("Lease recovery")
struct LeaseRecoveryTests {
    static let settings = LeaseBook.Settings(interval: 0.2)
    static let ledger = LeaseLedger(forfeitAfterMs: Int64(settings.forfeitAfter * 1_000))
    static let known = LimitBucket.perMinute("key:a:rpm", 60)

    /// A book whose only sync, at time 0, saw three replicas.
    static func bookSeeingThree() -> LeaseBook {
        var book = LeaseBook(settings: settings)
        _ = book.admit([LeaseDemand(bucket: known, amount: 1, which: .keyRequests)], now: 0, mayWait: true)
        _ = book.reports(now: 0)
        book.apply([LeaseGrant(bucketID: known.id, change: 20, release: 0, poolLevel: 0, holders: 3, leased: true)], sentAt: 0, replicas: 3)
        return book
    }

    /// The store away from `start` for `outage` seconds; a bucket first met when it is away is asked `perStep`
    /// times every sync interval, and every sync fails. Then one sync goes through to a pool that does not have the
    /// bucket yet. Returns what was admitted and what the pool was charged.
    static func outage(_ bucket: LimitBucket, amount: Double, perStep: Int, outage: Double) -> (admitted: Double, charged: Double) {
        var book = bookSeeingThree()
        let start = settings.leaseValidity + 1
        #expect(book.storeAway(now: start))
        let demand = [LeaseDemand(bucket: bucket, amount: amount, which: .keyTokens)]
        var admitted = 0.0
        var now = start
        while now <= start + outage {
            for _ in 0..<perStep {
                if case .admitted = book.admit(demand, now: now, mayWait: true) { admitted += amount }
            }
            book.failed(book.reports(now: now))
            now += settings.interval
        }
        let reports = book.reports(now: now).filter { $0.bucket == bucket }
        #expect(reports.count == 1)
        guard let report = reports.first else { return (admitted, 0) }
        let out = ledger.sync(pool: nil, holdings: [], report: report, replica: "r", nowMs: 1_000_000, replicas: 3)
        book.apply([out.grant], sentAt: now, replicas: 3)
        // What the pool and this replica's lease hold, against a full bucket.
        let charged = bucket.capacity - out.pool.level - (out.lease?.held ?? 0)
        #expect(abs(book.held(bucket.id) - (out.lease?.held ?? 0)) < 1e-6, "the replica holds what the pool says it holds")
        return (admitted, charged)
    }

    @Test("a bucket first met while the store is away: one share of capacity/N, refilled at rate/N, however many syncs fail")
    func firstMetDuringOutage() {
        let bucket = LimitBucket.perMinute("key:b:rpm", 60)
        let seconds = 30.0
        let (admitted, charged) = Self.outage(bucket, amount: 1, perStep: 10, outage: seconds)
        // C/N_seen + r/N · t_o = 20 + 10.
        #expect(admitted <= 60 / 3 + 1.0 / 3 * (seconds + 0.2), "\(admitted) admitted")
        #expect(admitted >= 20, "the share was admitted: \(admitted)")
        #expect(abs(charged - admitted) < 1e-6, "charged \(charged) for \(admitted) admitted")
    }

    @Test("a month's quota first met while the store is away is charged what was spent, not the share")
    func quotaFirstMetDuringOutage() {
        let bucket = LimitBucket.monthQuota(tenantID: "t", month: "2026-12", quota: 1_000_000)
        let (admitted, charged) = Self.outage(bucket, amount: 10, perStep: 1, outage: 10)
        #expect(admitted > 0 && admitted <= 1_000_000 / 3, "\(admitted) admitted")
        #expect(abs(charged - admitted) < 1e-6, "charged \(charged) for \(admitted) admitted")
    }

    @Test("a request that settles after its buckets were given back and dropped as idle: its debt is still reported and charged")
    func settleAfterTheLeaseWasDropped() {
        let tpm = LimitBucket.perMinute("key:k:tpm", 10_000)
        let demand = [LeaseDemand(bucket: tpm, amount: 1_024, which: .keyTokens)]
        var book = LeaseBook(settings: Self.settings)
        var pool: LeasePool?
        var rows: [LeaseHolding] = []
        var nowMs: Int64 = 0
        func sync() {
            let now = Double(nowMs) / 1_000
            for report in book.reports(now: now) {
                let out = Self.ledger.sync(pool: pool, holdings: rows, report: report, replica: "r", nowMs: nowMs)
                pool = out.pool
                rows = [out.lease].compactMap { $0 }
                book.apply([out.grant], sentAt: now, replicas: 1)
            }
        }
        #expect(book.admit(demand, now: 0, mayWait: true) == .sync([tpm.id]))
        sync()
        guard case .admitted = book.admit(demand, now: 0, mayWait: true) else {
            Issue.record("not admitted")
            return
        }
        // The stream runs 30 s; the bucket is asked for nothing else, so it is given back and forgotten.
        while nowMs < 30_000 {
            nowMs += 200
            sync()
        }
        #expect(book.held(tpm.id) == 0 && rows.isEmpty)
        let before = pool?.level ?? 0
        book.settle(demand, delta: 4_000 - 1_024)
        // The next sync, at the same database time (no refill in between).
        sync()
        #expect((pool?.level ?? 0) == before - 2_976, "the 2,976 above the reservation are charged")
        #expect(book.held(tpm.id) == 0)
    }
}
