import Testing
import TrellisCore

/// The pool's side of a sync, one report at a time: times are the database's milliseconds.
@Suite("LeaseLedger")
struct LeaseLedgerTests {
    static let ledger = LeaseLedger(forfeitAfterMs: 6_000)
    static let rpm = LimitBucket.perMinute("key:k:rpm", 120)

    @Test("a new pool starts full and the first replica takes all of it; a second one gets half once the first gives it back")
    func fairShares() {
        let first = Self.ledger.sync(pool: nil, holdings: [], report: LeaseReport(bucket: Self.rpm, held: 0, need: 1), replica: "a", nowMs: 0)
        #expect(first.grant.change == 120 && first.pool.level == 0 && first.grant.holders == 1)
        let a = first.lease.map { [$0] } ?? []
        // b arrives: the pool is empty, so it gets nothing yet; a is told to hand back half.
        let second = Self.ledger.sync(pool: first.pool, holdings: a, report: LeaseReport(bucket: Self.rpm, held: 0, need: 1), replica: "b", nowMs: 0)
        #expect(second.grant.change == 0 && second.grant.holders == 2)
        let third = Self.ledger.sync(
            pool: second.pool, holdings: a + [second.lease].compactMap { $0 }, report: LeaseReport(bucket: Self.rpm, held: 120), replica: "a", nowMs: 0)
        #expect(third.grant.release == 60 && third.grant.change == 0)
    }

    @Test("refill follows database time and never lifts the pool and the holdings above capacity")
    func refillIsCapped() {
        let pool = LeasePool(level: 0, capacity: 120, refillPerSecond: 2, updatedMs: 0)
        let holdings = [LeaseHolding(replica: "b", held: 100, seenMs: 29_000)]
        let out = Self.ledger.sync(pool: pool, holdings: holdings, report: LeaseReport(bucket: Self.rpm, held: 0), replica: "a", nowMs: 30_000)
        // 60 would have come in 30 s; only 20 fit beside b's 100. a's fair share is 60: it gets the 20 there are.
        #expect(out.grant.change == 20 && out.pool.level == 0 && out.pool.updatedMs == 30_000)
    }

    @Test("a lease not seen for the forfeit time is dropped, not returned; a replica whose lease is gone keeps only its debt")
    func forfeits() {
        let pool = LeasePool(level: 0, capacity: 120, refillPerSecond: 0.0001, updatedMs: 10_000)
        let holdings = [LeaseHolding(replica: "dead", held: 50, seenMs: 0), LeaseHolding(replica: "b", held: 10, seenMs: 9_000)]
        let out = Self.ledger.sync(pool: pool, holdings: holdings, report: LeaseReport(bucket: Self.rpm, held: 30), replica: "a", nowMs: 10_000)
        #expect(out.forfeited == ["dead"])
        #expect(out.grant.change == -30, "a's 30 are not the pool's any more")
        #expect(out.pool.level == 0)
        let debt = Self.ledger.sync(pool: pool, holdings: [], report: LeaseReport(bucket: Self.rpm, held: -5), replica: "a", nowMs: 10_000)
        #expect(debt.grant.change == 0 && debt.lease?.held == -5)
    }

    @Test("a forfeited lease's debt stays charged to the pool; what it held above zero is dropped")
    func forfeitKeepsDebts() {
        let bucket = LimitBucket(id: "key:k:tpm", capacity: 10_000, refillPerSecond: 0)
        let pool = LeasePool(level: 1_000, capacity: 10_000, refillPerSecond: 0, updatedMs: 10_000)
        let holdings = [LeaseHolding(replica: "dead", held: -5_000, seenMs: 0), LeaseHolding(replica: "gone", held: 300, seenMs: 0)]
        let out = Self.ledger.sync(pool: pool, holdings: holdings, report: LeaseReport(bucket: bucket, held: 0, active: false), replica: "a", nowMs: 10_000)
        #expect(out.forfeited == ["dead", "gone"])
        #expect(out.pool.level == 1_000 - 5_000, "the 5,000 spent on credit are not admitted again")
    }

    @Test("returned tokens go to the pool, minted ones are charged to it; no demand drops the lease and settles its debt")
    func returnsMintsAndDrops() {
        let pool = LeasePool(level: 10, capacity: 120, refillPerSecond: 2, updatedMs: 0)
        let mine = [LeaseHolding(replica: "a", held: 5, seenMs: 0)]
        let out = Self.ledger.sync(
            pool: pool, holdings: mine, report: LeaseReport(bucket: Self.rpm, held: -3, returned: 4, minted: 20, active: false), replica: "a", nowMs: 0)
        #expect(out.lease == nil && out.grant.leased == false)
        #expect(out.pool.level == 10 + 4 - 20 - 3)
        #expect(out.grant.change == 3, "the debt is the pool's now")
    }

    @Test("a month's quota starts from stored use, is held in small parts, and a raised quota adds the difference")
    func quota() {
        let bucket = LimitBucket.monthQuota(tenantID: "t", month: "2026-11", quota: 100_000)
        let out = Self.ledger.sync(pool: nil, holdings: [], report: LeaseReport(bucket: bucket, held: 0, need: 50), replica: "a", nowMs: 0)
        #expect(out.grant.change == 1_000, "1% of the quota")
        #expect(out.pool.level == 100_000 - 1_000)
        let seeded = Self.ledger.sync(pool: nil, holdings: [], report: LeaseReport(bucket: bucket, held: 0, need: 5), replica: "a", nowMs: 0, seedUsed: 99_990)
        #expect(seeded.grant.change == 10)
        let short = Self.ledger.sync(pool: nil, holdings: [], report: LeaseReport(bucket: bucket, held: 0, need: 50), replica: "a", nowMs: 0, seedUsed: 99_990)
        #expect(short.grant.change == 0 && short.pool.level == 10, "a part of a request is no use: it stays in the pool")
        var raised = bucket
        raised.capacity = 200_000
        let after = Self.ledger.sync(
            pool: seeded.pool, holdings: [seeded.lease].compactMap { $0 }, report: LeaseReport(bucket: raised, held: 0, need: 50), replica: "a", nowMs: 0)
        #expect(after.pool.capacity == 200_000 && after.pool.level + after.grant.change == 100_000, "the 10 used stay used")
    }

    @Test("with live replicas that hold no lease, a share is kept for one more; shares are whole requests")
    func shareForANewcomer() {
        let first = Self.ledger.sync(pool: nil, holdings: [], report: LeaseReport(bucket: Self.rpm, held: 0, need: 1), replica: "a", nowMs: 0, replicas: 3)
        #expect(first.grant.change == 60)
        let three = LimitBucket.perMinute("key:k3:rpm", 3)
        var pool: LeasePool?
        var rows: [LeaseHolding] = []
        for replica in ["a", "b", "c"] {
            let out = Self.ledger.sync(
                pool: pool, holdings: rows, report: LeaseReport(bucket: three, held: 0, need: 1), replica: replica, nowMs: 0, replicas: 3)
            #expect(out.grant.change == 1, "\(replica) gets one whole request")
            pool = out.pool
            rows += [out.lease].compactMap { $0 }
        }
    }

    @Test("a request larger than the fair share is granted whole when the pool has it")
    func needAboveShare() {
        let tpm = LimitBucket.perMinute("key:k:tpm", 10_000)
        let pool = LeasePool(level: 9_000, capacity: 10_000, refillPerSecond: 0, updatedMs: 0)
        let others = [LeaseHolding(replica: "b", held: 500, seenMs: 0), LeaseHolding(replica: "c", held: 500, seenMs: 0)]
        let out = Self.ledger.sync(pool: pool, holdings: others, report: LeaseReport(bucket: tpm, held: 0, need: 5_000), replica: "a", nowMs: 0)
        #expect(out.grant.change == 5_000)
    }
}
