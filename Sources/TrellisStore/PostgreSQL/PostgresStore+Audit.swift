import PostgresNIO
import TrellisCore

/// The audit log, read back newest first (see `SQLiteStore+Audit.swift`: the same filters and paging).
extension PostgresStore {
    public func auditEntries(tenantID: String?, limit: Int, beforeID: Int64?, filter: AuditFilter) async throws -> [AuditEntry] {
        // An exact action, or a family with a trailing '*': 'model.*'; ILIKE without an escape character, as SQLite's LIKE.
        let exactAction = filter.action.flatMap { $0.hasSuffix("*") ? nil : $0 }
        let actionPattern = filter.action.flatMap { $0.hasSuffix("*") ? String($0.dropLast()) + "%" : nil }
        let from = filter.from?.unixMilliseconds
        let to = filter.to?.unixMilliseconds
        let actor = filter.actor
        let target = filter.target
        // PostgreSQL text cannot hold NUL, so no stored row has one: a filter with one matches nothing (as on
        // SQLite) rather than failing the query.
        if [tenantID, filter.action, actor, target].contains(where: { $0?.contains("\u{0}") == true }) { return [] }
        // SQLite reads a negative limit as none.
        let rowLimit: Int? = limit < 0 ? nil : limit
        return try await read { connection in
            try await Self.auditRows(
                connection,
                """
                SELECT \(unescaped: PostgresColumns.audit) FROM audit_log
                WHERE (\(tenantID)::text IS NULL OR tenant_id = \(tenantID))
                    AND (\(beforeID)::bigint IS NULL OR id < \(beforeID))
                    AND (\(exactAction)::text IS NULL OR action = \(exactAction))
                    AND (\(actionPattern)::text IS NULL OR action ILIKE \(actionPattern) ESCAPE '')
                    AND (\(actor)::text IS NULL OR actor = \(actor))
                    AND (\(target)::text IS NULL OR target = \(target))
                    AND (\(from)::bigint IS NULL OR at_ms >= \(from))
                    AND (\(to)::bigint IS NULL OR at_ms < \(to))
                ORDER BY id DESC LIMIT \(rowLimit)
                """
            ).map(\.domain)
        }
    }
}
