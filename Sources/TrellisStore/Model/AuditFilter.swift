import Foundation

/// Narrows an audit listing (`AuditStore.auditEntries`); every field set must match.
public struct AuditFilter: Sendable {
    /// An exact action, or a family with a trailing `*` (`model.*`).
    public var action: String?
    public var actor: String?
    public var target: String?
    /// From this time, inclusive.
    public var from: Date?
    /// Up to this time, exclusive.
    public var to: Date?

    public init() {}
}
