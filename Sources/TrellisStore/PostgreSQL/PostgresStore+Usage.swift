import Foundation
import NIOCore
import PostgresNIO
import TrellisCore

/// Usage rows, written with their roll-ups.
extension PostgresStore {
    /// Appends usage rows and their roll-ups in one transaction.
    public func insertUsage(_ events: [UsageEvent]) async throws {
        guard !events.isEmpty else { return }
        try await write { connection in try await Self.writeUsage(connection, events) }
    }

    /// Rows and their roll-ups, in the caller's transaction: the rows in one statement, each column bound as one
    /// array that `unnest` turns back into rows (in order, so ids follow the batch), then the roll-ups.
    static func writeUsage(_ connection: PostgresConnection, _ events: [UsageEvent]) async throws {
        let records = events.map(UsageRecord.init)
        try await connection.query(
            """
            INSERT INTO usage (request_id, at_ms, endpoint, tenant_id, key_id, end_user, model, model_version, upstream,
                prompt_tokens, completion_tokens, estimated, latency_ms, ttft_ms, status, error_code, stream, retrieval_ms, cost_micros,
                routed_to, baseline_cost_micros)
            SELECT * FROM unnest(
                \(records.map(\.requestID))::text[], \(records.map(\.atMs))::bigint[], \(records.map(\.endpoint))::text[],
                \(records.map(\.tenantID))::text[], \(records.map(\.keyID))::text[], \(NullableArray(records.map(\.endUser)))::text[],
                \(records.map(\.model))::text[], \(NullableArray(records.map(\.modelVersion)))::bigint[],
                \(NullableArray(records.map(\.upstream)))::text[], \(records.map(\.promptTokens))::bigint[],
                \(records.map(\.completionTokens))::bigint[], \(records.map { $0.estimated ? 1 : 0 })::bigint[],
                \(records.map(\.latencyMs))::float8[], \(NullableArray(records.map(\.ttftMs)))::float8[], \(records.map(\.status))::bigint[],
                \(NullableArray(records.map(\.errorCode)))::text[], \(records.map { $0.stream ? 1 : 0 })::bigint[],
                \(NullableArray(records.map(\.retrievalMs)))::float8[], \(records.map(\.costMicros))::bigint[],
                \(NullableArray(records.map(\.routedTo)))::text[], \(NullableArray(records.map(\.baselineCostMicros)))::bigint[])
            """, logger: quiet)
        var rollups = Rollups()
        rollups.accumulate(records)
        try await applyRollups(connection, rollups)
    }

    /// Tokens each tenant used since the start of `month` (`"2026-11"`), from the roll-ups.
    public func tokensThisMonth(_ month: String) async throws -> [String: Int] {
        try await read { connection in
            var out: [String: Int] = [:]
            let rows = try await connection.query(
                "SELECT tenant_id, SUM(prompt_tokens + completion_tokens)::BIGINT FROM usage_daily WHERE day >= \(month + "-01") GROUP BY tenant_id",
                logger: Self.quiet)
            for try await (tenantID, tokens) in rows.decode((String, Int).self) { out[tenantID] = tokens }
            return out
        }
    }

    /// Who a request belonged to, from its (first) usage row.
    public func usageOwner(requestID: String) async throws -> UsageOwner? {
        try await read { connection in
            let rows = try await connection.query(
                """
                SELECT tenant_id, key_id, model, model_version, end_user, at_ms FROM usage WHERE request_id = \(requestID) ORDER BY id LIMIT 1
                """, logger: Self.quiet)
            for try await (tenantID, keyID, model, version, endUser, atMs) in rows.decode((String, String, String, Int?, String?, Int64).self) {
                return UsageOwner(tenantID: tenantID, keyID: keyID, model: model, modelVersion: version, endUser: endUser, atMs: atMs)
            }
            return nil
        }
    }
}
