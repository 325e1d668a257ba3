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
