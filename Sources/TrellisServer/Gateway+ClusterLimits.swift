import Foundation
import TrellisCore

extension Gateway {
    /// Admission when the replicas share their limits (`limitSync`): the concurrency caps are this replica's share
    /// (`max(1, cap / live replicas)`, counted here by `limiter`); requests and tokens per minute and the month's
    /// quota are taken from this replica's leases on the cluster's pools. A refusal takes nothing from either.
    func admitAcrossReplicas(
        _ key: TenantKey, sync: LimitSync, limits: (key: Limits, tenant: Limits, quota: Int?), estimatedTokens: Int, month: String
    ) async throws -> AdmissionTicket {
        let replicas = sync.liveReplicas
        func share(_ cap: Int?) -> Int? { cap.map { max(1, $0 / replicas) } }
        let local = limiter.admit(
            keyID: key.id, keyLimits: Limits(concurrency: share(limits.key.concurrency)), tenantID: key.tenantID,
            tenantLimits: Limits(concurrency: share(limits.tenant.concurrency)), monthlyQuota: nil, estimatedTokens: estimatedTokens, now: clock(),
            month: month)
        let admission: RateLimiter.Admission
        switch local {
        case .success(let admitted): admission = admitted
        case .failure(let refusal):
            metrics.limitRefused(tenant: key.tenantName, limit: refusal.which)
            throw refusal.error
        }
        let demands = LeaseDemand.forRequest(
            keyID: key.id, keyLimits: limits.key, tenantID: key.tenantID, tenantLimits: limits.tenant, monthlyQuota: limits.quota,
            tokens: estimatedTokens, month: month)
        let decision = await sync.admit(demands)
        if case .admitted(let headers) = decision {
            return AdmissionTicket(admission: admission, gateway: self, leases: (sync, demands, headers.map { ($0.name, $0.value) }))
        }
        limiter.settle(admission, actualTokens: 0, now: clock(), month: month)
        let refusal = Self.refusal(decision, interval: sync.settings.interval, month: month)
        metrics.limitRefused(tenant: key.tenantName, limit: refusal.which)
        throw refusal.error
    }

    /// The client's 429 for a lease refusal: a month's quota renews next month, the rest when the cluster's refill
    /// covers the request.
    static func refusal(_ decision: LeaseBook.Decision, interval: Double, month: String) -> LimitRefusal {
        guard case .refused(let which, let retryAfter, let headers) = decision else {
            return LimitRefusal(which: .keyRequests, retryAfter: interval)
        }
        let wait = which == .monthlyQuota ? RateLimiter.secondsToNextMonth(month: month) : retryAfter
        return LimitRefusal(which: which, retryAfter: wait, rateLimitHeaders: headers.map { ($0.name, $0.value) })
    }
}
