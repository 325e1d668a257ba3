import Foundation
import Logging
import OpenAIWire
import Synchronization
import TrellisCore
import TrellisStore
import TrellisUpstream

/// The state every request shares: configuration, the store, the current catalog snapshot, the upstream client,
/// the usage recorder and the metrics. Immutable references only; what changes lives behind locks in its own
/// type.
public final class Gateway: Sendable {
    public let config: TrellisConfig
    public let store: any TrellisStoreEngine
    public let upstreams: UpstreamClient
    public let usage: UsageRecorder
    public let metrics: GatewayMetrics
    let catalog: CatalogHolder
    let health: UpstreamHealth
    let adapterLoader = AdapterLoader()
    let knowledge: KnowledgeService
    public let limiter = RateLimiter()
    /// The limits shared with the other replicas on the same PostgreSQL database (`limits.sync_interval_ms`); nil
    /// when this process limits on its own (SQLite, or the setting 0): then `limiter` holds every limit.
    let limitSync: LimitSync?
    /// Seconds on a monotonic clock, for the rate limiter.
    let clock: @Sendable () -> Double
    let adminKeyDigest: KeyDigest?
    let logger: Logger
    let environment: [String: String]
    /// Requests in flight now (bounded by `config.maxInFlight`), and whether streams are being cut for shutdown.
    let inFlight: InFlightLimit
    /// Each tenant's share of those (`server.max_in_flight_per_tenant`).
    let tenantInFlight: TenantInFlightLimit
    /// Ratings per key per minute (`limits.feedback_rpm`).
    let feedbackLimit: KeyedRateLimit
    /// PDF conversions running at once (`knowledge.pdf_max_concurrent`).
    let pdfConversions: InFlightLimit
    let drain = DrainState()
    /// The evaluation runs this process executes.
    let evaluations = EvalTasks()
    /// Whether the store is prepared and the catalog loaded, and the store reachable now (`/readyz`).
    let readiness = StoreReadiness()
    /// The egress check every outbound call passes: verdicts per upstream host, with the addresses a name
    /// was checked at (the only ones its calls connect to).
    let egressCache: EgressCache

    init(
        config: TrellisConfig, store: any TrellisStoreEngine, upstreams: UpstreamClient, usage: UsageRecorder, metrics: GatewayMetrics,
        logger: Logger, environment: [String: String], clock: (@Sendable () -> Double)? = nil
    ) {
        let origin = ContinuousClock.now
        self.clock = clock ?? { (ContinuousClock.now - origin).seconds }
        self.config = config
        self.store = store
        self.upstreams = upstreams
        self.usage = usage
        self.metrics = metrics
        self.catalog = CatalogHolder()
        self.egressCache = EgressCache(policy: config.egress, clock: self.clock)
        self.knowledge = KnowledgeService(
            store: store, upstreams: upstreams, egress: egressCache, environment: environment,
            privacy: EmbeddingPrivacy(policy: config.externalEmbeddings, scope: config.piiMaskScope, masker: config.piiMasker))
        self.inFlight = InFlightLimit(limit: config.maxInFlight)
        self.tenantInFlight = TenantInFlightLimit(limit: config.effectiveMaxInFlightPerTenant)
        self.feedbackLimit = KeyedRateLimit(perMinute: config.feedbackPerMinute, clock: self.clock)
        self.pdfConversions = InFlightLimit(limit: config.pdfMaxConcurrent)
        self.health = UpstreamHealth(
            breakerConfig: .init(failureThreshold: config.circuitFailureThreshold, coolDown: Double(config.circuitCoolDownMs) / 1000),
            clock: self.clock)
        self.adminKeyDigest = config.adminKey.map { KeyDigest(of: $0) }
        self.limitSync =
            store.sharesLimits && config.limitsSyncIntervalMs > 0
            ? LimitSync(store: store, intervalMs: config.limitsSyncIntervalMs, clock: self.clock, logger: logger) : nil
        self.logger = logger
        self.environment = environment
    }

    public var snapshot: CatalogSnapshot { catalog.current }

    /// How long streams may run after a graceful shutdown begins: a second less than the grace period.
    var drainWindow: Duration { .seconds(max(0, config.shutdownGraceSeconds - 1)) }

    /// Re-reads the catalog and installs it; called after every change made through this process, and by the
    /// refresher when another process changed the file.
    public func reloadCatalog() async throws {
        let snapshot = try await store.loadSnapshot()
        catalog.install(snapshot)
    }

    /// The caller behind a bearer token, or nil when the token is unknown, revoked or expired.
    func authenticate(token: String, now: Date = Date()) -> Principal? {
        let digest = KeyDigest(of: token)
        if let adminKeyDigest, adminKeyDigest.constantTimeEquals(digest) {
            return .operator
        }
        guard let key = catalog.current.key(for: digest), !key.isExpired(at: now) else { return nil }
        return .tenantKey(key)
    }

    enum Credential {
        case none
        case key(String)
        /// The upstream names a variable that is not set: calling it would fail, so it is skipped.
        case missing(String)
    }

    /// The API key for an upstream, read from the environment variable it names.
    func credential(for upstream: Upstream) -> Credential {
        guard let name = upstream.apiKeyEnv else { return .none }
        guard let value = environment[name], !value.isEmpty else { return .missing(name) }
        return .key(value)
    }
}

extension Gateway {
    /// The limits that apply to a key and its tenant: their own settings, else the deployment's defaults.
    func limits(for key: TenantKey) -> (key: Limits, tenant: Limits, quota: Int?) {
        let tenant = catalog.current.tenants[key.tenantID]?.settings ?? TenantSettings()
        let d = config.defaultKeyLimits
        let t = config.defaultTenantLimits
        return (
            Limits(
                requestsPerMinute: key.rpm ?? d.requestsPerMinute, tokensPerMinute: key.tpm ?? d.tokensPerMinute,
                concurrency: key.concurrency ?? d.concurrency),
            Limits(
                requestsPerMinute: tenant.limits.requestsPerMinute ?? t.requestsPerMinute,
                tokensPerMinute: tenant.limits.tokensPerMinute ?? t.tokensPerMinute, concurrency: tenant.limits.concurrency ?? t.concurrency),
            tenant.monthlyTokenQuota ?? config.defaultMonthlyTokenQuota
        )
    }

    /// Admits a request that may use `estimatedTokens`, or throws the 429 that says which limit refused it.
    /// The ticket settles the reservation once, on actual use, or with nothing used if the request is
    /// dropped on any path that did not settle it (its `deinit`), so no concurrency slot can leak.
    func admit(_ key: TenantKey, estimatedTokens: Int) async throws -> AdmissionTicket {
        let (keyLimits, tenantLimits, quota) = limits(for: key)
        if let limitSync {
            return try await admitAcrossReplicas(
                key, sync: limitSync, limits: (keyLimits, tenantLimits, quota), estimatedTokens: estimatedTokens, month: RateLimiter.month(of: Date()))
        }
        switch limiter.admit(
            keyID: key.id, keyLimits: keyLimits, tenantID: key.tenantID, tenantLimits: tenantLimits, monthlyQuota: quota,
            estimatedTokens: estimatedTokens, now: clock(), month: RateLimiter.month(of: Date()))
        {
        case .success(let admission):
            return AdmissionTicket(admission: admission, gateway: self)
        case .failure(let refusal):
            metrics.limitRefused(tenant: key.tenantName, limit: refusal.which)
            throw refusal.error
        }
    }

}

final class AdmissionTicket: Sendable {
    let admission: RateLimiter.Admission
    private let limiter: RateLimiter
    private let clock: @Sendable () -> Double
    private let settled = Mutex(false)
    /// What the request took from the leases on the cluster-wide limits, when they apply.
    private let leases: (sync: LimitSync, demands: [LeaseDemand], headers: [(String, String)])?

    init(admission: RateLimiter.Admission, gateway: Gateway, leases: (LimitSync, [LeaseDemand], [(String, String)])? = nil) {
        self.admission = admission
        self.limiter = gateway.limiter
        self.clock = gateway.clock
        self.leases = leases
    }

    var headers: [(String, String)] { leases?.headers ?? admission.headers }

    func settle(actualTokens: Int) {
        let first = settled.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        limiter.settle(admission, actualTokens: actualTokens, now: clock(), month: RateLimiter.month(of: Date()))
        if let leases {
            let delta = RateLimiter.clampTokens(actualTokens) - admission.reservedTokens
            leases.sync.settle(leases.demands, delta: Double(delta))
        }
    }

    deinit {
        settle(actualTokens: 0)
    }
}
