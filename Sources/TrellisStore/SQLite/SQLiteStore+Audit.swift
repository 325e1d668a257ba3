import GRDB
import OpenAIWire
import TrellisCore

extension SQLiteStore {
    public func auditEntries(
        tenantID: String?, limit: Int, beforeID: Int64?, filter: AuditFilter
    ) async throws -> [AuditEntry] {
        try await pool.read { db in
            var request = AuditRecord.all().newestFirst().limit(limit)
            if let tenantID { request = request.forTenant(tenantID) }
            if let beforeID { request = request.filter(AuditRecord.Columns.id < beforeID) }
            if let action = filter.action {
                // An exact action, or a family with a trailing '*': 'model.*'.
                request =
                    action.hasSuffix("*")
                    ? request.filter(AuditRecord.Columns.action.like(String(action.dropLast()) + "%"))
                    : request.filter(AuditRecord.Columns.action == action)
            }
            if let actor = filter.actor { request = request.filter(AuditRecord.Columns.actor == actor) }
            if let target = filter.target { request = request.filter(AuditRecord.Columns.target == target) }
            if let from = filter.from { request = request.filter(AuditRecord.Columns.atMs >= from.unixMilliseconds) }
            if let to = filter.to { request = request.filter(AuditRecord.Columns.atMs < to.unixMilliseconds) }
            return try request.fetchAll(db).map(\.domain)
        }
    }
}
