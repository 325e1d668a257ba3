import Foundation
import HTTPTypes
import Logging
import OpenAIWire
import TrellisCore
import TrellisStore
import TrellisUpstream

/// The state every request shares: configuration, the store, the current catalog snapshot, the upstream client,
/// the usage recorder and the metrics. Immutable references only; what changes lives behind locks in its own
/// type.
public final class Gateway: Sendable {
    public let config: TrellisConfig
    public let store: SQLiteStore
    public let upstreams: UpstreamClient
    public let usage: UsageRecorder
    public let metrics: GatewayMetrics
    let catalog: CatalogHolder
    let health: UpstreamHealth
    let adapterLoader = AdapterLoader()
    let knowledge: KnowledgeService
    let adminKeyDigest: KeyDigest?
    let logger: Logger
    let environment: [String: String]

    init(
        config: TrellisConfig, store: SQLiteStore, upstreams: UpstreamClient, usage: UsageRecorder, metrics: GatewayMetrics,
        logger: Logger, environment: [String: String]
    ) {
        self.config = config
        self.store = store
        self.upstreams = upstreams
        self.usage = usage
        self.metrics = metrics
        self.catalog = CatalogHolder()
        self.knowledge = KnowledgeService(store: store, upstreams: upstreams)
        self.health = UpstreamHealth()
        self.adminKeyDigest = config.adminKey.map { KeyDigest(of: $0) }
        self.logger = logger
        self.environment = environment
    }

    public var snapshot: CatalogSnapshot { catalog.current }

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
