import Dispatch
import Foundation
import Synchronization
import Testing
import TrellisCore

/// The limiter takes the time (`now`, seconds) and the month on every call, so these tests drive a fake clock:
/// "a minute later" is `now: 60`, and nothing sleeps.
@Suite("RateLimiter")
struct RateLimiterTests {
    static let month = "2026-11"

    /// Admits one request for key `key` of tenant `tenant` with the given limits.
    static func admit(
        _ limiter: RateLimiter, key: String = "k1", keyLimits: Limits = Limits(), tenant: String = "t1", tenantLimits: Limits = Limits(),
        quota: Int? = nil, tokens: Int = 0, now: Double = 0, month: String = month
    ) -> Result<RateLimiter.Admission, LimitRefusal> {
        limiter.admit(
            keyID: key, keyLimits: keyLimits, tenantID: tenant, tenantLimits: tenantLimits, monthlyQuota: quota, estimatedTokens: tokens, now: now,
            month: month)
    }

    static func refusal(_ result: Result<RateLimiter.Admission, LimitRefusal>) -> LimitRefusal? {
        if case .failure(let r) = result { return r }
        return nil
    }

    static func admission(_ result: Result<RateLimiter.Admission, LimitRefusal>) -> RateLimiter.Admission? {
        if case .success(let a) = result { return a }
        return nil
    }

    static func headers(_ pairs: [(String, String)]) -> [String: String] {
        Dictionary(pairs, uniquingKeysWith: { _, last in last })
    }

    // MARK: Requests per minute

    @Test("key rpm: N requests go through, the N+1th is refused as the key's requests per minute")
    func keyRPM() throws {
        let limiter = RateLimiter()
        let limits = Limits(requestsPerMinute: 3)
        for i in 0..<3 {
            #expect(Self.admission(Self.admit(limiter, keyLimits: limits, now: 0)) != nil, "request \(i + 1)")
        }
        let refused = try #require(Self.refusal(Self.admit(limiter, keyLimits: limits, now: 0)))
        #expect(refused.which == .keyRequests)
        // 3 per minute refill one every 20 s.
        #expect(abs(refused.retryAfter - 20) < 1e-9)
        #expect(abs((Self.refusal(Self.admit(limiter, keyLimits: limits, now: 5))?.retryAfter ?? 0) - 15) < 1e-9)
        let error = refused.error
        #expect(error.status == 429 && error.code == "rate_limit_exceeded" && error.type == "rate_limit_error")
        #expect(error.message.contains("key requests per minute"), "the message names the limit: \(error.message)")
        #expect(Self.headers(error.headers)["Retry-After"] == "20")
    }

    @Test("a refused request takes nothing, and the bucket refills after a minute of fake time")
    func refillAfterAMinute() {
        let limiter = RateLimiter()
        let limits = Limits(requestsPerMinute: 2)
        #expect(Self.admission(Self.admit(limiter, keyLimits: limits, now: 0)) != nil)
        #expect(Self.admission(Self.admit(limiter, keyLimits: limits, now: 0)) != nil)
        for _ in 0..<5 {
            #expect(Self.refusal(Self.admit(limiter, keyLimits: limits, now: 1)) != nil)
        }
        // Half a minute: one request's worth is back (refusals took nothing), not two.
        #expect(Self.admission(Self.admit(limiter, keyLimits: limits, now: 30)) != nil)
        #expect(Self.refusal(Self.admit(limiter, keyLimits: limits, now: 30)) != nil)
        // A full minute after that: the whole burst again.
        #expect(Self.admission(Self.admit(limiter, keyLimits: limits, now: 90)) != nil)
        #expect(Self.admission(Self.admit(limiter, keyLimits: limits, now: 90)) != nil)
        #expect(Self.refusal(Self.admit(limiter, keyLimits: limits, now: 90))?.which == .keyRequests)
    }

    @Test("no limits: never throttled")
    func unlimited() {
        let limiter = RateLimiter()
        for _ in 0..<10_000 {
            guard Self.admission(Self.admit(limiter, tokens: 1_000_000)) != nil else {
                Issue.record("an unlimited key was refused")
                return
            }
        }
        #expect(limiter.inFlight(keyID: "k1") == 10_000)
    }

    @Test("tenant rpm applies across the tenant's keys; the key limit is checked first")
    func tenantRPMAcrossKeys() {
        let limiter = RateLimiter()
        let tenant = Limits(requestsPerMinute: 4)
        for i in 0..<4 {
            #expect(Self.admission(Self.admit(limiter, key: i % 2 == 0 ? "a" : "b", tenantLimits: tenant)) != nil)
        }
        #expect(Self.refusal(Self.admit(limiter, key: "a", tenantLimits: tenant))?.which == .tenantRequests)
        #expect(Self.refusal(Self.admit(limiter, key: "c", tenantLimits: tenant))?.which == .tenantRequests, "a third key of the tenant too")
        #expect(Self.refusal(Self.admit(limiter, key: "a", tenantLimits: tenant))?.error.message.contains("tenant requests per minute") == true)
        // When both are exhausted, the key's limit is the one named.
        let both = RateLimiter()
        _ = Self.admit(both, keyLimits: Limits(requestsPerMinute: 1), tenantLimits: Limits(requestsPerMinute: 1))
        #expect(Self.refusal(Self.admit(both, keyLimits: Limits(requestsPerMinute: 1), tenantLimits: Limits(requestsPerMinute: 1)))?.which == .keyRequests)
    }

    @Test("two tenants are independent")
    func tenantsIndependent() {
        let limiter = RateLimiter()
        let tenant = Limits(requestsPerMinute: 2, tokensPerMinute: 100)
        #expect(Self.admission(Self.admit(limiter, key: "a1", tenant: "A", tenantLimits: tenant, tokens: 50)) != nil)
        #expect(Self.admission(Self.admit(limiter, key: "a2", tenant: "A", tenantLimits: tenant, tokens: 50)) != nil)
        #expect(Self.refusal(Self.admit(limiter, key: "a1", tenant: "A", tenantLimits: tenant, tokens: 1)) != nil)
        // Tenant B, same limits, same moment: untouched by A.
        #expect(Self.admission(Self.admit(limiter, key: "b1", tenant: "B", tenantLimits: tenant, tokens: 100)) != nil)
        #expect(
            Self.refusal(Self.admit(limiter, key: "b1", tenant: "B", tenantLimits: tenant, tokens: 1))?.which == .tenantTokens,
            "B has one request left but no tokens")
    }

    // MARK: Tokens per minute

    @Test("tpm: a request reserves its estimate; one that does not fit is refused as the key's tokens")
    func tpmReservation() throws {
        let limiter = RateLimiter()
        let limits = Limits(tokensPerMinute: 1_000)
        #expect(Self.admission(Self.admit(limiter, keyLimits: limits, tokens: 600)) != nil)
        let refused = try #require(Self.refusal(Self.admit(limiter, keyLimits: limits, tokens: 500)))
        #expect(refused.which == .keyTokens)
        #expect(refused.error.message.contains("key tokens per minute"))
        // 100 missing at 1000/60 s a second: 6 s.
        #expect(abs(refused.retryAfter - 6) < 1e-9)
        #expect(Self.admission(Self.admit(limiter, keyLimits: limits, tokens: 400)) != nil, "what still fits goes through")
    }

    @Test("a request larger than the whole tpm can never fit: its message says to lower max_tokens")
    func tooBigForTPM() throws {
        let limiter = RateLimiter()
        let refused = try #require(Self.refusal(Self.admit(limiter, keyLimits: Limits(tokensPerMinute: 100), tokens: 101)))
        #expect(refused.which == .keyTokens && refused.retryAfter == .infinity)
        #expect(refused.error.message.contains("lower max_tokens"))
        #expect(Self.headers(refused.error.headers)["Retry-After"] == "60")
    }

    @Test("settle: actual use below the reservation frees budget")
    func settleUnderFrees() throws {
        let limiter = RateLimiter()
        let limits = Limits(tokensPerMinute: 1_000)
        let first = try #require(Self.admission(Self.admit(limiter, keyLimits: limits, tokens: 900)))
        #expect(Self.refusal(Self.admit(limiter, keyLimits: limits, tokens: 500)) != nil, "900 reserved: 500 more do not fit")
        limiter.settle(first, actualTokens: 200, now: 0, month: Self.month)
        // 700 came back: 800 free now.
        #expect(Self.admission(Self.admit(limiter, keyLimits: limits, tokens: 500)) != nil)
        #expect(Self.admission(Self.admit(limiter, keyLimits: limits, tokens: 300)) != nil)
        #expect(Self.refusal(Self.admit(limiter, keyLimits: limits, tokens: 1)) != nil)
    }

    @Test("settle: actual use above the reservation is debited, and later requests wait for it")
    func settleOverDebits() throws {
        let limiter = RateLimiter()
        let limits = Limits(tokensPerMinute: 600)  // 10 a second
        let first = try #require(Self.admission(Self.admit(limiter, keyLimits: limits, tokens: 100)))
        limiter.settle(first, actualTokens: 700, now: 0, month: Self.month)
        // 600 - 700 = -100: even a 1-token request waits 10.1 s.
        let refused = try #require(Self.refusal(Self.admit(limiter, keyLimits: limits, tokens: 1, now: 0)))
        #expect(abs(refused.retryAfter - 10.1) < 1e-9)
        #expect(Self.refusal(Self.admit(limiter, keyLimits: limits, tokens: 1, now: 10)) != nil)
        #expect(Self.admission(Self.admit(limiter, keyLimits: limits, tokens: 1, now: 10.2)) != nil)
    }

    @Test("a stream cut short settles on what it used before it stopped")
    func streamCutShort() throws {
        let limiter = RateLimiter()
        let limits = Limits(tokensPerMinute: 1_000)
        // Prompt 7 + max_tokens 500 reserved; the client went away after 20 tokens.
        let stream = try #require(Self.admission(Self.admit(limiter, keyLimits: limits, tokens: 507)))
        #expect(Self.refusal(Self.admit(limiter, keyLimits: limits, tokens: 600)) != nil)
        limiter.settle(stream, actualTokens: 27, now: 0, month: Self.month)
        #expect(Self.admission(Self.admit(limiter, keyLimits: limits, tokens: 973)) != nil, "only the 27 used stay taken")
        #expect(Self.refusal(Self.admit(limiter, keyLimits: limits, tokens: 1)) != nil)
    }

    @Test("concurrent admissions cannot reserve more than the tpm in total")
    func concurrentAdmissionsBounded() {
        let limiter = RateLimiter()
        let keyLimits = Limits(tokensPerMinute: 1_000)
        let tenantLimits = Limits(tokensPerMinute: 1_500)
        let admitted = Mutex<[String: Int]>([:])
        // 400 requests of 30 tokens from 4 keys of one tenant, at once.
        DispatchQueue.concurrentPerform(iterations: 400) { i in
            let key = "k\(i % 4)"
            if case .success(let a) = Self.admit(limiter, key: key, keyLimits: keyLimits, tenantLimits: tenantLimits, tokens: 30) {
                admitted.withLock { $0[a.keyID, default: 0] += a.reservedTokens }
            }
        }
        let byKey = admitted.withLock { $0 }
        let total = byKey.values.reduce(0, +)
        #expect(byKey.values.allSatisfy { $0 <= 1_000 }, "no key past its tpm: \(byKey)")
        #expect(total <= 1_500, "the tenant's tpm holds in total: \(total)")
        // And the budget is used, not lost: 50 requests of 30 fit in 1,500.
        #expect(total == 1_500)
        #expect((0..<4).map { limiter.inFlight(keyID: "k\($0)") }.reduce(0, +) == 50)
    }

    // MARK: Concurrency

    @Test("concurrency cap: refused at the cap, a slot is freed by settling, settling twice frees nothing more")
    func concurrencyCap() throws {
        let limiter = RateLimiter()
        let limits = Limits(concurrency: 2)
        let a = try #require(Self.admission(Self.admit(limiter, keyLimits: limits)))
        let b = try #require(Self.admission(Self.admit(limiter, keyLimits: limits)))
        let refused = try #require(Self.refusal(Self.admit(limiter, keyLimits: limits)))
        #expect(refused.which == .keyConcurrency)
        #expect(refused.error.message.contains("key concurrent requests"))
        #expect(Self.headers(refused.error.headers)["Retry-After"] == "1")
        #expect(limiter.inFlight(keyID: "k1") == 2)
        limiter.settle(a, actualTokens: 0, now: 1, month: Self.month)
        #expect(limiter.inFlight(keyID: "k1") == 1)
        let c = try #require(Self.admission(Self.admit(limiter, keyLimits: limits)))
        #expect(Self.refusal(Self.admit(limiter, keyLimits: limits))?.which == .keyConcurrency)
        limiter.settle(b, actualTokens: 0, now: 1, month: Self.month)
        limiter.settle(c, actualTokens: 0, now: 1, month: Self.month)
        #expect(limiter.inFlight(keyID: "k1") == 0)
    }

    @Test("tenant concurrency counts every key of the tenant")
    func tenantConcurrency() throws {
        let limiter = RateLimiter()
        let tenant = Limits(concurrency: 2)
        let a = try #require(Self.admission(Self.admit(limiter, key: "a", tenantLimits: tenant)))
        _ = try #require(Self.admission(Self.admit(limiter, key: "b", tenantLimits: tenant)))
        #expect(Self.refusal(Self.admit(limiter, key: "c", tenantLimits: tenant))?.which == .tenantConcurrency)
        #expect(Self.admission(Self.admit(limiter, key: "x", tenant: "other", tenantLimits: tenant)) != nil, "another tenant is not affected")
        limiter.settle(a, actualTokens: 0, now: 0, month: Self.month)
        #expect(Self.admission(Self.admit(limiter, key: "c", tenantLimits: tenant)) != nil)
    }

    // MARK: Monthly quota

    @Test("monthly quota: reservations count, settling corrects them, exhaustion is insufficient_quota")
    func monthlyQuota() throws {
        let limiter = RateLimiter()
        let first = try #require(Self.admission(Self.admit(limiter, quota: 1_000, tokens: 600)))
        #expect(limiter.monthUsed(tenantID: "t1") == 600)
        // Reserved 600 of 1,000: 500 more would overrun the quota.
        let refused = try #require(Self.refusal(Self.admit(limiter, quota: 1_000, tokens: 500)))
        #expect(refused.which == .monthlyQuota)
        let error = refused.error
        #expect(error.status == 429 && error.code == "insufficient_quota" && error.type == "insufficient_quota")
        #expect(Int(Self.headers(error.headers)["Retry-After"] ?? "") ?? 0 >= 1)
        limiter.settle(first, actualTokens: 450, now: 0, month: Self.month)
        #expect(limiter.monthUsed(tenantID: "t1") == 450)
        let second = try #require(Self.admission(Self.admit(limiter, quota: 1_000, tokens: 500)))
        limiter.settle(second, actualTokens: 550, now: 0, month: Self.month)
        #expect(limiter.monthUsed(tenantID: "t1") == 1_000)
        #expect(Self.refusal(Self.admit(limiter, quota: 1_000, tokens: 1))?.which == .monthlyQuota)
        // Another tenant has its own count.
        #expect(Self.admission(Self.admit(limiter, tenant: "t2", quota: 1_000, tokens: 1_000)) != nil)
    }

    @Test("monthly quota continues from stored usage after a restart (seedMonth)")
    func seedMonthContinues() {
        let limiter = RateLimiter()
        limiter.seedMonth(Self.month, used: ["t1": 990, "t2": 10])
        #expect(limiter.monthUsed(tenantID: "t1") == 990)
        #expect(Self.refusal(Self.admit(limiter, quota: 1_000, tokens: 11))?.which == .monthlyQuota)
        #expect(Self.admission(Self.admit(limiter, quota: 1_000, tokens: 10)) != nil)
        #expect(Self.admission(Self.admit(limiter, tenant: "t2", quota: 1_000, tokens: 990)) != nil)
    }

    @Test("a new month starts the quota over")
    func monthRollover() {
        let limiter = RateLimiter()
        limiter.seedMonth("2026-11", used: ["t1": 1_000])
        #expect(Self.refusal(Self.admit(limiter, quota: 1_000, tokens: 1, month: "2026-11")) != nil)
        #expect(Self.admission(Self.admit(limiter, quota: 1_000, tokens: 1_000, month: "2026-12")) != nil)
        #expect(limiter.monthUsed(tenantID: "t1") == 1_000)
        // December → January of the next year.
        limiter.seedMonth("2026-12", used: ["t1": 1_000])
        #expect(Self.admission(Self.admit(limiter, quota: 1_000, tokens: 5, month: "2027-01")) != nil)
    }

    @Test("a request admitted before the month changed does not settle against the new month's count")
    func settleAcrossRollover() throws {
        let limiter = RateLimiter()
        // Admitted on 30 November, reserving 500 of a 1,000 quota.
        let late = try #require(Self.admission(Self.admit(limiter, quota: 1_000, tokens: 500, month: "2026-11")))
        // 1 December: a new request reserves 800 of December's quota.
        _ = try #require(Self.admission(Self.admit(limiter, quota: 1_000, tokens: 800, month: "2026-12")))
        #expect(limiter.monthUsed(tenantID: "t1") == 800)
        // November's request ends having used 20: December still holds its 800.
        limiter.settle(late, actualTokens: 20, now: 0, month: "2026-12")
        #expect(limiter.monthUsed(tenantID: "t1") == 800)
        #expect(Self.refusal(Self.admit(limiter, quota: 1_000, tokens: 201, month: "2026-12"))?.which == .monthlyQuota)
    }

    @Test("a settle that comes first in a new month starts that month's count")
    func settleStartsNewMonth() throws {
        let limiter = RateLimiter()
        let late = try #require(Self.admission(Self.admit(limiter, quota: 1_000, tokens: 900, month: "2026-11")))
        limiter.settle(late, actualTokens: 900, now: 0, month: "2026-12")
        #expect(limiter.monthUsed(tenantID: "t1") == 0)
        #expect(Self.admission(Self.admit(limiter, quota: 1_000, tokens: 1_000, month: "2026-12")) != nil)
    }

    // MARK: Headers

    @Test("x-ratelimit headers show the tighter of the key's and the tenant's buckets")
    func headerValues() throws {
        let limiter = RateLimiter()
        let keyLimits = Limits(requestsPerMinute: 10, tokensPerMinute: 10_000)
        let tenantLimits = Limits(requestsPerMinute: 100, tokensPerMinute: 1_200)
        let a = try #require(Self.admission(Self.admit(limiter, keyLimits: keyLimits, tenantLimits: tenantLimits, tokens: 300)))
        let h = Self.headers(a.headers)
        // Requests: the key's 10 (9 left) is tighter than the tenant's 100; one request refills in 6 s.
        #expect(h["x-ratelimit-limit-requests"] == "10")
        #expect(h["x-ratelimit-remaining-requests"] == "9")
        #expect(h["x-ratelimit-reset-requests"] == "6s")
        // Tokens: the tenant's 1,200 (900 left) is tighter than the key's 10,000; 300 refill in 15 s.
        #expect(h["x-ratelimit-limit-tokens"] == "1200")
        #expect(h["x-ratelimit-remaining-tokens"] == "900")
        #expect(h["x-ratelimit-reset-tokens"] == "15s")
        #expect(h.count == 6)
        // No limits: no headers.
        #expect(Self.admission(Self.admit(RateLimiter()))?.headers.isEmpty == true)
    }

    @Test("a refusal carries the x-ratelimit headers too")
    func refusalHeaders() throws {
        let limiter = RateLimiter()
        let limits = Limits(requestsPerMinute: 2, tokensPerMinute: 100)
        _ = Self.admit(limiter, keyLimits: limits, tokens: 10, now: 0)
        _ = Self.admit(limiter, keyLimits: limits, tokens: 10, now: 0)
        let refused = try #require(Self.refusal(Self.admit(limiter, keyLimits: limits, tokens: 10, now: 0)))
        let h = Self.headers(refused.error.headers)
        #expect(h["x-ratelimit-limit-requests"] == "2")
        #expect(h["x-ratelimit-remaining-requests"] == "0")
        #expect(h["x-ratelimit-reset-requests"] == "1m0s")
        #expect(h["x-ratelimit-limit-tokens"] == "100")
        #expect(h["x-ratelimit-remaining-tokens"] == "80")
        #expect(h["x-ratelimit-reset-tokens"] == "12s")
        #expect(h["Retry-After"] == "30")
    }

    @Test("duration() writes reset times the way OpenAI does")
    func durationFormat() {
        #expect(RateLimiter.duration(0) == "0s")
        #expect(RateLimiter.duration(-3) == "0s")
        #expect(RateLimiter.duration(.infinity) == "0s")
        #expect(RateLimiter.duration(.nan) == "0s")
        #expect(RateLimiter.duration(0.25) == "250ms")
        #expect(RateLimiter.duration(0.0001) == "1ms")
        #expect(RateLimiter.duration(0.9991) == "1000ms")
        #expect(RateLimiter.duration(1) == "1s")
        #expect(RateLimiter.duration(1.2) == "2s")
        #expect(RateLimiter.duration(59) == "59s")
        #expect(RateLimiter.duration(60) == "1m0s")
        #expect(RateLimiter.duration(360) == "6m0s")
        #expect(RateLimiter.duration(3_725) == "62m5s")
    }

    @Test("month(of:) is the UTC month")
    func monthOfDate() {
        // 2026-11-30T23:30:00Z is still November in UTC (and already December east of UTC).
        #expect(RateLimiter.month(of: Date(timeIntervalSince1970: 1_796_081_400)) == "2026-11")
        #expect(RateLimiter.month(of: Date(timeIntervalSince1970: 1_796_083_200)) == "2026-12")
    }
}
