import TrellisCore

/// The audit log. Rows are written by the other stores, each in the transaction of the change it records;
/// this reads them back, newest first.
public protocol AuditStore: Sendable {
    /// Up to `limit` entries with an id below `beforeID` (a page), of one tenant or all, matching `filter`.
    func auditEntries(tenantID: String?, limit: Int, beforeID: Int64?, filter: AuditFilter) async throws -> [AuditEntry]
}

extension AuditStore {
    public func auditEntries(
        tenantID: String? = nil, limit: Int = 100, beforeID: Int64? = nil, filter: AuditFilter = AuditFilter()
    ) async throws -> [AuditEntry] {
        try await auditEntries(tenantID: tenantID, limit: limit, beforeID: beforeID, filter: filter)
    }
}
