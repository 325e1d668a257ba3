/// The limits that apply to one request: its key's and its tenant's, each optional (nil: not limited).
public struct Limits: Sendable, Equatable {
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    public var concurrency: Int?

    public init(requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, concurrency: Int? = nil) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.concurrency = concurrency
    }

    public var isEmpty: Bool { requestsPerMinute == nil && tokensPerMinute == nil && concurrency == nil }

    /// Per limit, the stricter of the two where both are set, else whichever is set.
    public func tightened(by other: Limits) -> Limits {
        func pick(_ a: Int?, _ b: Int?) -> Int? { a.flatMap { a in b.map { min(a, $0) } ?? a } ?? b }
        return Limits(
            requestsPerMinute: pick(requestsPerMinute, other.requestsPerMinute), tokensPerMinute: pick(tokensPerMinute, other.tokensPerMinute),
            concurrency: pick(concurrency, other.concurrency))
    }

    /// These limits, none above `ceiling`'s: a limit asked for above the ceiling is lowered to it; one left
    /// unset stays unset (the defaults apply to it when a request is admitted, so it is never above them).
    public func clamped(to ceiling: Limits) -> Limits {
        func clamp(_ a: Int?, _ c: Int?) -> Int? { a.map { a in c.map { min(a, $0) } ?? a } }
        return Limits(
            requestsPerMinute: clamp(requestsPerMinute, ceiling.requestsPerMinute), tokensPerMinute: clamp(tokensPerMinute, ceiling.tokensPerMinute),
            concurrency: clamp(concurrency, ceiling.concurrency))
    }
}

/// A tenant's settings beyond its name.
public struct TenantSettings: Sendable, Equatable {
    public var limits = Limits()
    /// Tokens (prompt + completion) per calendar month (UTC); nil: no quota.
    public var monthlyTokenQuota: Int?
    /// Interaction capture for the data flywheel, off by default.
    public var capture: CaptureSettings?

    public init(limits: Limits = Limits(), monthlyTokenQuota: Int? = nil, capture: CaptureSettings? = nil) {
        self.limits = limits
        self.monthlyTokenQuota = monthlyTokenQuota
        self.capture = capture
    }
}

public struct CaptureSettings: Sendable, Equatable {
    public var enabled: Bool
    public var retentionDays: Int

    public init(enabled: Bool, retentionDays: Int) {
        self.enabled = enabled
        self.retentionDays = retentionDays
    }
}

/// Why a request was refused, and what the client is told.
public struct LimitRefusal: Error, Sendable, Equatable {
    public enum Which: String, Sendable {
        case keyRequests = "key requests per minute"
        case keyTokens = "key tokens per minute"
        case keyConcurrency = "key concurrent requests"
        case tenantRequests = "tenant requests per minute"
        case tenantTokens = "tenant tokens per minute"
        case tenantConcurrency = "tenant concurrent requests"
        case monthlyQuota = "tenant monthly token quota"
    }

    public var which: Which
    public var retryAfter: Double
    /// The `x-ratelimit-*` headers at the moment of refusal (the tighter of the key's and tenant's buckets).
    public var rateLimitHeaders: [(String, String)]

    public init(which: Which, retryAfter: Double, rateLimitHeaders: [(String, String)] = []) {
        self.which = which
        self.retryAfter = retryAfter
        self.rateLimitHeaders = rateLimitHeaders
    }

    public static func == (lhs: LimitRefusal, rhs: LimitRefusal) -> Bool {
        lhs.which == rhs.which && lhs.retryAfter == rhs.retryAfter && lhs.rateLimitHeaders.elementsEqual(rhs.rateLimitHeaders, by: { $0 == $1 })
    }

    public var error: TrellisError {
        let seconds = max(1, Int(retryAfter.isFinite ? retryAfter.rounded(.up) : 60))
        if which == .monthlyQuota {
            return TrellisError(
                status: 429, type: "insufficient_quota", code: "insufficient_quota",
                message: "The tenant has used its monthly token quota. It renews at the start of next month (UTC).",
                headers: [("Retry-After", String(seconds))] + rateLimitHeaders)
        }
        let tooBig = !retryAfter.isFinite
        return TrellisError(
            status: 429, type: "rate_limit_error", code: "rate_limit_exceeded",
            message: tooBig
                ? "The request needs more tokens than the \(which.rawValue) limit allows at once; lower max_tokens."
                : "Rate limit reached: \(which.rawValue). Try again in \(seconds) s.",
            headers: [("Retry-After", String(seconds))] + rateLimitHeaders)
    }
}
