import Foundation

public struct Tenant: Sendable, Equatable {
    public var id: String
    public var name: String
    public var createdAt: Date
    public var settings: TenantSettings

    public init(id: String, name: String, createdAt: Date, settings: TenantSettings = TenantSettings()) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.settings = settings
    }
}

public enum UpstreamKind: String, Sendable, CaseIterable, Codable {
    case openai, vllm, llamacpp, ollama
}

public enum UpstreamLabel: String, Sendable, CaseIterable, Codable {
    case `private`, external
}

/// Per-upstream limits on how long each phase of a call may take, in milliseconds.
public struct UpstreamTimeouts: Sendable, Equatable {
    public var connectMs: Int
    public var firstByteMs: Int
    public var idleMs: Int
    public var totalMs: Int

    public init(connectMs: Int = 5_000, firstByteMs: Int = 60_000, idleMs: Int = 60_000, totalMs: Int = 600_000) {
        self.connectMs = connectMs
        self.firstByteMs = firstByteMs
        self.idleMs = idleMs
        self.totalMs = totalMs
    }

    public static let `default` = UpstreamTimeouts()
}

/// A model server Trellis forwards to. `apiKeyEnv` names the environment variable holding its API key: the key
/// itself is never stored.
public struct Upstream: Sendable, Equatable {
    public var id: String
    public var name: String
    public var baseURL: String
    public var kind: UpstreamKind
    public var labels: Set<UpstreamLabel>
    public var apiKeyEnv: String?
    public var timeouts: UpstreamTimeouts
    public var createdAt: Date
    public var pricing: Pricing?

    public init(
        id: String, name: String, baseURL: String, kind: UpstreamKind, labels: Set<UpstreamLabel>, apiKeyEnv: String?,
        timeouts: UpstreamTimeouts, createdAt: Date, pricing: Pricing? = nil
    ) {
        self.pricing = pricing
        self.id = id
        self.name = name
        self.baseURL = baseURL
        self.kind = kind
        self.labels = labels
        self.apiKeyEnv = apiKeyEnv
        self.timeouts = timeouts
        self.createdAt = createdAt
    }
}

public struct ModelVersion: Sendable, Equatable {
    public var version: Int
    public var spec: ModelSpec
    public var createdAt: Date

    public init(version: Int, spec: ModelSpec, createdAt: Date) {
        self.version = version
        self.spec = spec
        self.createdAt = createdAt
    }
}

/// An industry model: a name (owned by one tenant, or shared), immutable versions, and the traffic split that
/// decides which version an unpinned request gets.
public struct IndustryModel: Sendable, Equatable {
    public var id: String
    public var name: String
    public var tenantID: String?
    public var description: String?
    public var createdAt: Date
    /// Ascending by version number.
    public var versions: [ModelVersion]
    /// Version number → weight. Only versions with a positive weight receive unpinned traffic.
    public var traffic: [Int: Int]

    public init(
        id: String, name: String, tenantID: String?, description: String?, createdAt: Date, versions: [ModelVersion],
        traffic: [Int: Int]
    ) {
        self.id = id
        self.name = name
        self.tenantID = tenantID
        self.description = description
        self.createdAt = createdAt
        self.versions = versions.sorted { $0.version < $1.version }
        self.traffic = traffic
    }

    public func version(_ number: Int) -> ModelVersion? {
        versions.first { $0.version == number }
    }

    public var latestVersion: Int { versions.last?.version ?? 0 }
}
