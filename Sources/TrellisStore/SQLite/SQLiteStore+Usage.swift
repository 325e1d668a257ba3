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
        // One prepared statement for the batch, each row's values bound to it directly (`StatementBindings`: about
        // a quarter of what `execute(arguments:)` costs for 21 values; a Codable record insert costs more still).
        let insert = try StatementBindings(
            db.cachedStatement(
                sql: """
                    INSERT INTO usage (request_id, at_ms, endpoint, tenant_id, key_id, end_user, model, model_version, upstream,
                        prompt_tokens, completion_tokens, estimated, latency_ms, ttft_ms, status, error_code, stream, retrieval_ms, cost_micros,
                        routed_to, baseline_cost_micros)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """))
        for event in events {
            let r = UsageRecord(event)
            try bindUsage(r, to: insert)
            try insert.execute()
            records.append(r)
        }
        var rollups = Rollups()
        rollups.accumulate(records)
        try applyRollups(db, rollups)
    }

    /// A usage row's 21 values, in the insert's column order.
    private static func bindUsage(_ r: UsageRecord, to insert: StatementBindings) throws {
        try insert.bind(r.requestID, at: 1)
        try insert.bind(r.atMs, at: 2)
        try insert.bind(r.endpoint, at: 3)
        try insert.bind(r.tenantID, at: 4)
        try insert.bind(r.keyID, at: 5)
        try insert.bind(r.endUser, at: 6)
        try insert.bind(r.model, at: 7)
        try insert.bind(r.modelVersion, at: 8)
        try insert.bind(r.upstream, at: 9)
        try insert.bind(r.promptTokens, at: 10)
        try insert.bind(r.completionTokens, at: 11)
        try insert.bind(r.estimated, at: 12)
        try insert.bind(r.latencyMs, at: 13)
        try insert.bind(r.ttftMs, at: 14)
        try insert.bind(r.status, at: 15)
        try insert.bind(r.errorCode, at: 16)
        try insert.bind(r.stream, at: 17)
        try insert.bind(r.retrievalMs, at: 18)
        try insert.bind(r.costMicros, at: 19)
        try insert.bind(r.routedTo, at: 20)
        try insert.bind(r.baselineCostMicros, at: 21)
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
