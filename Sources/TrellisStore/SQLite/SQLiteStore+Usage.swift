import GRDB
import OpenAIWire
import TrellisCore

/// Usage rows, written with their roll-ups.
extension SQLiteStore {

    /// Appends usage rows in one transaction.
    public func insertUsage(_ events: [UsageEvent]) async throws {
        guard !events.isEmpty else { return }
        try await pool.write { db in try Self.writeUsage(db, events) }
    }

    /// Rows and their roll-ups, in the caller's transaction.
    static func writeUsage(_ db: Database, _ events: [UsageEvent]) throws {
        var records: [UsageRecord] = []
        records.reserveCapacity(events.count)
        // One prepared statement for the batch, arguments bound positionally (a Codable record insert per row
        // costs several times more: encoding through a container, building the SQL).
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO usage (request_id, at_ms, endpoint, tenant_id, key_id, end_user, model, model_version, upstream,
                    prompt_tokens, completion_tokens, estimated, latency_ms, ttft_ms, status, error_code, stream, retrieval_ms, cost_micros,
                    routed_to, baseline_cost_micros)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for event in events {
            let r = UsageRecord(event)
            try insert.execute(arguments: [
                r.requestID, r.atMs, r.endpoint, r.tenantID, r.keyID, r.endUser, r.model, r.modelVersion, r.upstream,
                r.promptTokens, r.completionTokens, r.estimated, r.latencyMs, r.ttftMs, r.status, r.errorCode, r.stream, r.retrievalMs,
                r.costMicros, r.routedTo, r.baselineCostMicros,
            ])
            records.append(r)
        }
        var rollups = Rollups()
        rollups.accumulate(records)
        try applyRollups(db, rollups)
    }

    /// Tokens each tenant used since the start of `month` (`"2026-11"`), from the roll-ups.
    public func tokensThisMonth(_ month: String) async throws -> [String: Int] {
        try await pool.read { db in
            var out: [String: Int] = [:]
            let rows = try Row.fetchAll(
                db, sql: "SELECT tenant_id, SUM(prompt_tokens + completion_tokens) AS t FROM usage_daily WHERE day >= ? GROUP BY tenant_id",
                arguments: [month + "-01"])
            for row in rows { out[row["tenant_id"]] = row["t"] }
            return out
        }
    }

    /// Who a request belonged to, from its usage row.
    public func usageOwner(requestID: String) async throws -> UsageOwner? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT tenant_id, key_id, model, model_version, end_user, at_ms FROM usage WHERE request_id = ? LIMIT 1", arguments: [requestID]
            ).map {
                UsageOwner(
                    tenantID: $0["tenant_id"], keyID: $0["key_id"], model: $0["model"], modelVersion: $0["model_version"], endUser: $0["end_user"],
                    atMs: $0["at_ms"])
            }
        }
    }
}
