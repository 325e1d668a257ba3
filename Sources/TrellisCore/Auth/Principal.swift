import Foundation

/// Who is calling: the deployment's operator, or a tenant key.
public enum Principal: Sendable {
    case `operator`
    case tenantKey(TenantKey)

    public var tenantID: String? {
        switch self {
        case .operator: nil
        case .tenantKey(let key): key.tenantID
        }
    }

    /// The audit log's name for the caller: `operator` or `key:<prefix>` (a prefix never authenticates).
    public var actor: String {
        switch self {
        case .operator: "operator"
        case .tenantKey(let key): "key:\(key.prefix)"
        }
    }
}

/// A tenant key as the hot path sees it: everything needed to authorise a request, without the secret.
public struct TenantKey: Sendable, Equatable {
    public var id: String
    public var name: String
    public var prefix: String
    public var tenantID: String
    public var tenantName: String
    public var scopes: Set<Scope>
    public var models: ModelAllowlist
    public var rpm: Int?
    public var tpm: Int?
    public var concurrency: Int?
    public var expiresAt: Date?

    public init(
        id: String, name: String, prefix: String, tenantID: String, tenantName: String, scopes: Set<Scope>,
        models: ModelAllowlist, rpm: Int?, tpm: Int?, expiresAt: Date?, concurrency: Int? = nil
    ) {
        self.concurrency = concurrency
        self.id = id
        self.name = name
        self.prefix = prefix
        self.tenantID = tenantID
        self.tenantName = tenantName
        self.scopes = scopes
        self.models = models
        self.rpm = rpm
        self.tpm = tpm
        self.expiresAt = expiresAt
    }

    public func isExpired(at now: Date) -> Bool {
        if let expiresAt { return now >= expiresAt }
        return false
    }
}

/// The models a key may call: `["*"]` for all its tenant can see, or exact names, or prefixes ending in `*`.
public struct ModelAllowlist: Sendable, Equatable {
    public let patterns: [String]

    public init(_ patterns: [String]) {
        self.patterns = patterns
    }

    public static let all = ModelAllowlist(["*"])

    public func allows(_ model: String) -> Bool {
        for pattern in patterns {
            if pattern == "*" || pattern == model { return true }
            if pattern.hasSuffix("*"), model.hasPrefix(pattern.dropLast()) { return true }
        }
        return false
    }

    /// Each pattern is `*`, a model name, or a name prefix followed by `*`.
    public static func validate(_ pattern: String) -> Bool {
        if pattern == "*" { return true }
        let base = pattern.hasSuffix("*") ? String(pattern.dropLast()) : pattern
        return !base.isEmpty && !base.contains("*") && base.utf8.count <= 128
    }
}
