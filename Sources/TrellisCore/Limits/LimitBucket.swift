/// One budget the replicas of a gateway share: a key's or a tenant's requests or tokens per minute, or a tenant's
/// token quota for one month (a bucket that never refills). Its id names it in the store (`key:<id>:rpm`,
/// `tenant:<id>:tpm`, `quota:<tenant id>:2026-11`); its capacity and rate are the limit in force now.
public struct LimitBucket: Sendable, Hashable {
    /// The tenant and month whose stored usage a month-quota pool starts from when it is first created.
    public struct UsageSeed: Sendable, Hashable {
        public var tenantID: String
        public var month: String

        public init(tenantID: String, month: String) {
            self.tenantID = tenantID
            self.month = month
        }
    }

    public var id: String
    public var capacity: Double
    public var refillPerSecond: Double
    public var usageSeed: UsageSeed?

    public init(id: String, capacity: Double, refillPerSecond: Double, usageSeed: UsageSeed? = nil) {
        self.id = id
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
        self.usageSeed = usageSeed
    }

    /// A bucket of `perMinute`, refilled continuously over a minute (as `TokenBucket`).
    public static func perMinute(_ id: String, _ perMinute: Int) -> LimitBucket {
        LimitBucket(id: id, capacity: Double(perMinute), refillPerSecond: Double(perMinute) / 60)
    }

    /// A tenant's quota for `month`: no refill; a new month is a new bucket.
    public static func monthQuota(tenantID: String, month: String, quota: Int) -> LimitBucket {
        LimitBucket(
            id: "quota:\(tenantID):\(month)", capacity: Double(quota), refillPerSecond: 0, usageSeed: UsageSeed(tenantID: tenantID, month: month))
    }
}

/// What one request asks of one bucket, and which limit refuses it when the bucket cannot give it.
public struct LeaseDemand: Sendable, Equatable {
    public var bucket: LimitBucket
    public var amount: Double
    public var which: LimitRefusal.Which

    public init(bucket: LimitBucket, amount: Double, which: LimitRefusal.Which) {
        self.bucket = bucket
        self.amount = amount
        self.which = which
    }

    /// The buckets one request takes from, in the order their refusals are reported (the month's quota, then
    /// the key's requests and tokens, then the tenant's): only the limits that are set.
    public static func forRequest(
        keyID: String, keyLimits: Limits, tenantID: String, tenantLimits: Limits, monthlyQuota: Int?, tokens: Int, month: String
    ) -> [LeaseDemand] {
        let tokens = Double(RateLimiter.clampTokens(tokens))
        var out: [LeaseDemand] = []
        if let quota = monthlyQuota {
            out.append(LeaseDemand(bucket: .monthQuota(tenantID: tenantID, month: month, quota: quota), amount: tokens, which: .monthlyQuota))
        }
        if let rpm = keyLimits.requestsPerMinute { out.append(LeaseDemand(bucket: .perMinute("key:\(keyID):rpm", rpm), amount: 1, which: .keyRequests)) }
        if let tpm = keyLimits.tokensPerMinute { out.append(LeaseDemand(bucket: .perMinute("key:\(keyID):tpm", tpm), amount: tokens, which: .keyTokens)) }
        if let rpm = tenantLimits.requestsPerMinute {
            out.append(LeaseDemand(bucket: .perMinute("tenant:\(tenantID):rpm", rpm), amount: 1, which: .tenantRequests))
        }
        if let tpm = tenantLimits.tokensPerMinute {
            out.append(LeaseDemand(bucket: .perMinute("tenant:\(tenantID):tpm", tpm), amount: tokens, which: .tenantTokens))
        }
        return out
    }

    /// Whether settling on actual use adjusts this bucket (tokens and the quota do; requests do not).
    public var settlesOnUse: Bool { which != .keyRequests && which != .tenantRequests }
}
