import Testing
import TrellisCore

/// A replica's side: admission from leases, the sync it asks for, settlement, and the fallback while the store is
/// away. Times are seconds on the replica's clock; grants are made by hand.
@Suite("LeaseBook")
struct LeaseBookTests {
    static let settings = LeaseBook.Settings(interval: 0.2)
    static let rpm = LimitBucket.perMinute("key:k:rpm", 6)
    static let tpm = LimitBucket.perMinute("key:k:tpm", 1_000)
    static func request(tokens: Double = 100) -> [LeaseDemand] {
        [LeaseDemand(bucket: rpm, amount: 1, which: .keyRequests), LeaseDemand(bucket: tpm, amount: tokens, which: .keyTokens)]
    }

    static func grant(_ bucket: LimitBucket, _ change: Double, pool: Double = 0, release: Double = 0) -> LeaseGrant {
        LeaseGrant(bucketID: bucket.id, change: change, release: release, poolLevel: pool, holders: 1, leased: true)
    }

    /// A book whose first sync granted `requests` and `tokens` at time 0.
    static func synced(requests: Double, tokens: Double, pool: Double = 0) -> LeaseBook {
        var book = LeaseBook(settings: settings)
        #expect(book.admit(request(), now: 0, mayWait: true) == .sync([rpm.id, tpm.id]))
        let reports = book.reports(now: 0)
        #expect(reports.map(\.fresh) == [true, true] && reports.map(\.need) == [1, 100])
        book.apply([grant(rpm, requests, pool: pool), grant(tpm, tokens, pool: pool)], sentAt: 0, replicas: 3)
        return book
    }

    @Test("a request takes from every lease or from none; an empty pool refuses without a sync")
    func takesAllOrNothing() {
        var book = Self.synced(requests: 2, tokens: 150)
        guard case .admitted(let headers) = book.admit(Self.request(), now: 0.1, mayWait: true) else {
            Issue.record("not admitted")
            return
        }
        #expect(headers.contains(LeaseBook.Header(name: "x-ratelimit-remaining-requests", value: "1")))
        // 100 tokens do not fit in the 50 left, and the last sync saw the pool empty: refused, nothing taken.
        guard case .refused(let which, let retryAfter, _) = book.admit(Self.request(), now: 0.1, mayWait: true) else {
            Issue.record("not refused")
            return
        }
        #expect(which == .keyTokens && retryAfter >= 0.2)
        #expect(book.held(Self.rpm.id) == 1 && book.held(Self.tpm.id) == 50)
    }

    @Test("when the last sync saw tokens in the pool, a short lease asks for a sync instead of refusing")
    func syncWhenThePoolHasSome() {
        var book = Self.synced(requests: 1, tokens: 100, pool: 500)
        _ = book.admit(Self.request(), now: 0.1, mayWait: true)
        #expect(book.admit(Self.request(), now: 0.1, mayWait: true) == .sync([Self.rpm.id, Self.tpm.id]))
        // Asked again without waiting (the sync did not answer in time): refused, not admitted.
        if case .refused = book.admit(Self.request(), now: 0.1, mayWait: false) {} else { Issue.record("admitted without a grant") }
    }

    @Test("settling above the reservation leaves a debt that the next report carries; a release is held back and returned")
    func debtAndRelease() {
        var book = Self.synced(requests: 3, tokens: 300)
        _ = book.admit(Self.request(), now: 0.1, mayWait: true)
        book.settle(Self.request(), delta: 250)
        #expect(book.held(Self.tpm.id) == -50 && book.held(Self.rpm.id) == 2, "requests do not settle")
        let reports = book.reports(now: 0.2)
        #expect(reports.first { $0.bucket == Self.tpm }?.held == -50)
        book.apply([Self.grant(Self.rpm, 0, release: 1)], sentAt: 0.2, replicas: 3)
        #expect(book.held(Self.rpm.id) == 1)
        #expect(book.reports(now: 0.4).first { $0.bucket == Self.rpm }?.returned == 1)
    }

    @Test("a bucket not asked for lately is given back whole")
    func idleGivesBack() {
        var book = Self.synced(requests: 3, tokens: 300)
        let later = Self.settings.idleAfter + 1
        let reports = book.reports(now: later)
        #expect(reports.allSatisfy { !$0.active && $0.held == 0 })
        #expect(reports.map(\.returned) == [3, 300])
    }

    @Test(
        "the store away past the lease validity: a third of the limit from what the lease held, refilled at a third of the rate; what that creates is charged when it is back"
    )
    func fallback() {
        var book = Self.synced(requests: 6, tokens: 1_000)
        let away = Self.settings.leaseValidity + 1
        #expect(book.storeAway(now: away))
        // The share is 2 requests (6 / 3 replicas), taken from the lease's 6.
        for _ in 0..<2 { if case .admitted = book.admit(Self.request(tokens: 1), now: away, mayWait: true) {} else { Issue.record("refused") } }
        guard case .refused(.keyRequests, let retryAfter, _) = book.admit(Self.request(tokens: 1), now: away, mayWait: true) else {
            Issue.record("admitted beyond the share")
            return
        }
        #expect(retryAfter >= 29, "one request per 30 s at a third of 6 per minute: \(retryAfter)")
        // 31 s later one more; the refill is minted and reported when a sync goes through.
        if case .admitted = book.admit(Self.request(tokens: 1), now: away + 31, mayWait: true) {} else { Issue.record("refill refused") }
        let minted = 31 * 0.1 / 3
        let report = book.reports(now: away + 32).first { $0.bucket == Self.rpm }
        #expect(abs((report?.minted ?? 0) - minted) < 1e-9)
        #expect(abs((report?.held ?? 0) - (4 + minted - 1)) < 1e-9, "the lease's other 4 are still held, with what the share did not spend")
    }

    @Test("a changed limit forgets what the pool had, so the next short lease asks again")
    func limitChange() {
        var book = Self.synced(requests: 1, tokens: 1_000)
        _ = book.admit(Self.request(), now: 0.1, mayWait: true)
        var raised = Self.request()
        raised[0].bucket.capacity = 60
        raised[0].bucket.refillPerSecond = 1
        #expect(book.admit(raised, now: 0.1, mayWait: true) == .sync([Self.rpm.id]))
    }
}
