import Foundation

/// A key's metadata, as listed: never the key or its digest.
public struct APIKeyInfo: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var name: String
    public var prefix: String
    public var scopes: [Scope]
    public var models: [String]
    public var rpm: Int?
    public var tpm: Int?
    public var concurrency: Int?
    public var expiresAt: Date?
    public var createdAt: Date
    public var revokedAt: Date?

    public init(
        id: String, tenantID: String, name: String, prefix: String, scopes: [Scope], models: [String], rpm: Int?, tpm: Int?,
        expiresAt: Date?, createdAt: Date, revokedAt: Date?, concurrency: Int? = nil
    ) {
        self.concurrency = concurrency
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.prefix = prefix
        self.scopes = scopes
        self.models = models
        self.rpm = rpm
        self.tpm = tpm
        self.expiresAt = expiresAt
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// What an administrative change records about itself.
public struct AuditEntry: Sendable, Equatable {
    public var id: Int64
    public var at: Date
    public var actor: String
    public var tenantID: String?
    public var action: String
    public var target: String
    public var detail: String?

    public init(id: Int64, at: Date, actor: String, tenantID: String?, action: String, target: String, detail: String?) {
        self.id = id
        self.at = at
        self.actor = actor
        self.tenantID = tenantID
        self.action = action
        self.target = target
        self.detail = detail
    }
}

/// The fields of a new key.
public struct NewKey: Sendable {
    public var tenantID: String
    public var name: String
    public var scopes: [Scope]
    public var models: [String]
    public var rpm: Int?
    public var tpm: Int?
    public var concurrency: Int?
    public var expiresAt: Date?

    public init(
        tenantID: String, name: String, scopes: [Scope], models: [String], rpm: Int?, tpm: Int?, expiresAt: Date?, concurrency: Int? = nil
    ) {
        self.concurrency = concurrency
        self.tenantID = tenantID
        self.name = name
        self.scopes = scopes
        self.models = models
        self.rpm = rpm
        self.tpm = tpm
        self.expiresAt = expiresAt
    }
}

/// The fields of a new upstream.
public struct NewUpstream: Sendable {
    public var name: String
    public var baseURL: String
    public var kind: UpstreamKind
    public var labels: Set<UpstreamLabel>
    public var apiKeyEnv: String?
    public var timeouts: UpstreamTimeouts
    public var pricing: Pricing?

    public init(
        name: String, baseURL: String, kind: UpstreamKind, labels: Set<UpstreamLabel>, apiKeyEnv: String?, timeouts: UpstreamTimeouts,
        pricing: Pricing? = nil
    ) {
        self.pricing = pricing
        self.name = name
        self.baseURL = baseURL
        self.kind = kind
        self.labels = labels
        self.apiKeyEnv = apiKeyEnv
        self.timeouts = timeouts
    }
}
