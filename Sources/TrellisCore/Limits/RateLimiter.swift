import Foundation
import Synchronization

/// Admission control for the OpenAI API: request and token buckets per key and per tenant, concurrent
/// request counts, and each tenant's monthly token quota. A request reserves its estimated tokens (prompt
/// estimate plus `max_tokens`, or the model's ceiling) when admitted and settles on its actual use when it
/// ends — a stream cut short included — so concurrent requests cannot overrun a budget.
///
/// All methods take the time (`now`, seconds on a monotonic clock) and the month (`"2026-11"`), so tests
/// drive them without sleeping.
public final class RateLimiter: Sendable {
    struct Buckets {
        var requests: TokenBucket?
        var tokens: TokenBucket?
        var inFlight = 0
        var rpm: Int?
        var tpm: Int?
    }

    struct State {
        var keys: [String: Buckets] = [:]
        var tenants: [String: Buckets] = [:]
        /// Tokens used this month, per tenant, including reservations not yet settled.
        var monthUsed: [String: Int] = [:]
        var month = ""
    }

    private let state = Mutex(State())

    public init() {}

    /// A request let through: what it reserved, to settle later exactly once.
    public struct Admission: Sendable {
        public let keyID: String
        public let tenantID: String
        public let reservedTokens: Int
        public let countsConcurrency: Bool
        /// The month (`"2026-11"`) whose quota count holds the reservation.
        public let month: String
        /// The most restrictive limits and what remains, for the `x-ratelimit-*` headers.
        public let headers: [(String, String)]
    }

    /// Loads month-to-date use from stored usage (at start), so a restart does not reset quotas.
    public func seedMonth(_ month: String, used: [String: Int]) {
        state.withLock { s in
            s.month = month
            s.monthUsed = used
        }
    }

    /// Lets a request in or refuses it with the limit that stopped it.
    /// The most tokens one request may reserve or report: far above any real request, and low enough that
    /// sums over many requests cannot overflow. A client's `max_tokens` of 10^17 times `n` must not trap.
    public static let maxTokensPerRequest = 1 << 40

    public static func clampTokens(_ n: Int) -> Int { min(max(0, n), maxTokensPerRequest) }

    static func adding(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? Int.max : Int.min) : sum
    }

    public func admit(
        keyID: String, keyLimits: Limits, tenantID: String, tenantLimits: Limits, monthlyQuota: Int?, estimatedTokens: Int, now: Double,
        month: String
    ) -> Result<Admission, LimitRefusal> {
        state.withLock { s in
            if s.month != month {
                s.month = month
                s.monthUsed = [:]
            }
            var key = Self.configured(s.keys[keyID], keyLimits, now: now)
            var tenant = Self.configured(s.tenants[tenantID], tenantLimits, now: now)
            let estimatedTokens = Self.clampTokens(estimatedTokens)
            let tokens = Double(estimatedTokens)

            // A refusal still tells the client where it stands (the x-ratelimit-* headers), and takes nothing.
            func refuse(_ which: LimitRefusal.Which, retryAfter: Double) -> Result<Admission, LimitRefusal> {
                let headers = Self.headers(key: &key, tenant: &tenant, now: now)
                s.keys[keyID] = key
                s.tenants[tenantID] = tenant
                return .failure(LimitRefusal(which: which, retryAfter: retryAfter, rateLimitHeaders: headers))
            }
            if let quota = monthlyQuota, Self.adding(s.monthUsed[tenantID] ?? 0, estimatedTokens) > quota {
                return refuse(.monthlyQuota, retryAfter: Self.secondsToNextMonth(month: month))
            }
            if let cap = keyLimits.concurrency, key.inFlight >= cap {
                return refuse(.keyConcurrency, retryAfter: 1)
            }
            if let cap = tenantLimits.concurrency, tenant.inFlight >= cap {
                return refuse(.tenantConcurrency, retryAfter: 1)
            }
            // Check every bucket before taking from any, so a refusal takes nothing.
            let checks: [(LimitRefusal.Which, Double, Double)] = [
                (.keyRequests, 1, Self.wait(key.requests, for: 1, now: now)),
                (.keyTokens, tokens, Self.wait(key.tokens, for: tokens, now: now)),
                (.tenantRequests, 1, Self.wait(tenant.requests, for: 1, now: now)),
                (.tenantTokens, tokens, Self.wait(tenant.tokens, for: tokens, now: now)),
            ]
            if let refused = checks.first(where: { $0.2 > 0 }) {
                return refuse(refused.0, retryAfter: refused.2)
            }
            _ = key.requests?.take(1, now: now)
            _ = key.tokens?.take(tokens, now: now)
            _ = tenant.requests?.take(1, now: now)
            _ = tenant.tokens?.take(tokens, now: now)
            key.inFlight += 1
            tenant.inFlight += 1
            s.monthUsed[tenantID] = Self.adding(s.monthUsed[tenantID] ?? 0, estimatedTokens)
            let headers = Self.headers(key: &key, tenant: &tenant, now: now)
            s.keys[keyID] = key
            s.tenants[tenantID] = tenant
            return .success(
                Admission(
                    keyID: keyID, tenantID: tenantID, reservedTokens: estimatedTokens, countsConcurrency: true, month: month, headers: headers))
        }
    }

    /// How long `bucket` would make `amount` wait (0 without a bucket), taking nothing from it.
    private static func wait(_ bucket: TokenBucket?, for amount: Double, now: Double) -> Double {
        guard var bucket else { return 0 }
        return bucket.wait(for: amount, now: now)
    }

    /// Settles a request on what it actually used (0 when it failed before generating anything). `month` is
    /// the current month: a request admitted in an earlier one settles nothing against the new month's count,
    /// which never held its reservation.
    public func settle(_ admission: Admission, actualTokens: Int, now: Double, month: String) {
        state.withLock { s in
            if month > s.month {
                s.month = month
                s.monthUsed = [:]
            }
            let actualTokens = Self.clampTokens(actualTokens)
            let delta = Double(actualTokens - admission.reservedTokens)
            if var key = s.keys[admission.keyID] {
                key.tokens?.settle(delta, now: now)
                key.inFlight = max(0, key.inFlight - 1)
                s.keys[admission.keyID] = key
            }
            if var tenant = s.tenants[admission.tenantID] {
                tenant.tokens?.settle(delta, now: now)
                tenant.inFlight = max(0, tenant.inFlight - 1)
                s.tenants[admission.tenantID] = tenant
            }
            if admission.month == s.month {
                s.monthUsed[admission.tenantID] = max(0, Self.adding(s.monthUsed[admission.tenantID] ?? 0, actualTokens - admission.reservedTokens))
            }
        }
    }

    public func monthUsed(tenantID: String) -> Int {
        state.withLock { $0.monthUsed[tenantID] ?? 0 }
    }

    public func inFlight(keyID: String) -> Int {
        state.withLock { $0.keys[keyID]?.inFlight ?? 0 }
    }

    /// Buckets matching the current limits: created on first use, replaced when a limit changed.
    static func configured(_ existing: Buckets?, _ limits: Limits, now: Double) -> Buckets {
        var b = existing ?? Buckets()
        if b.rpm != limits.requestsPerMinute {
            b.rpm = limits.requestsPerMinute
            b.requests = limits.requestsPerMinute.map { TokenBucket(capacity: $0, now: now) }
        }
        if b.tpm != limits.tokensPerMinute {
            b.tpm = limits.tokensPerMinute
            b.tokens = limits.tokensPerMinute.map { TokenBucket(capacity: $0, now: now) }
        }
        return b
    }

    /// OpenAI's rate-limit headers for the tighter of the key's and the tenant's buckets.
    static func headers(key: inout Buckets, tenant: inout Buckets, now: Double) -> [(String, String)] {
        var out: [(String, String)] = []
        func pick(_ a: inout TokenBucket?, _ b: inout TokenBucket?) -> (Int, Int, Double)? {
            var best: (Int, Int, Double)?
            for bucket in [a, b].compactMap({ $0 }) {
                var copy = bucket
                let remaining = copy.remaining(now: now)
                let entry = (Int(copy.capacity), remaining, copy.secondsToFull(now: now))
                if best == nil || remaining < best?.1 ?? .max { best = entry }
            }
            return best
        }
        if let (limit, remaining, reset) = pick(&key.requests, &tenant.requests) {
            out += [
                ("x-ratelimit-limit-requests", String(limit)), ("x-ratelimit-remaining-requests", String(remaining)),
                ("x-ratelimit-reset-requests", duration(reset)),
            ]
        }
        if let (limit, remaining, reset) = pick(&key.tokens, &tenant.tokens) {
            out += [
                ("x-ratelimit-limit-tokens", String(limit)), ("x-ratelimit-remaining-tokens", String(remaining)),
                ("x-ratelimit-reset-tokens", duration(reset)),
            ]
        }
        return out
    }

    /// OpenAI writes reset times like `1s`, `6m0s`, `250ms`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds > 0 else { return "0s" }
        if seconds < 1 { return "\(max(1, Int((seconds * 1000).rounded(.up))))ms" }
        let total = Int(seconds.rounded(.up))
        if total < 60 { return "\(total)s" }
        return "\(total / 60)m\(total % 60)s"
    }

    /// `"2026-11"` for a date, in UTC.
    public static func month(of date: Date) -> String {
        CivilDate(date).monthString
    }

    public static func secondsToNextMonth(month: String) -> Double {
        let parts = month.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 2 else { return 86_400 }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .gmt
        let next = parts[1] == 12 ? DateComponents(year: parts[0] + 1, month: 1, day: 1) : DateComponents(year: parts[0], month: parts[1] + 1, day: 1)
        guard let date = calendar.date(from: next) else { return 86_400 }
        return max(1, date.timeIntervalSinceNow)
    }
}
