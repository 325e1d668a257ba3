import Foundation
import GRDB
import OpenAIWire
import TrellisCore

/// The usage report, grouped and merged in SQL over the roll-ups.
extension SQLiteStore {
    /// The usage report: sums, distinct end users, errors, tokens, cost, latency and time-to-first-token
    /// percentiles and feedback, for any grouping of tenant, model, version, key, end user and day, over
    /// whole UTC days. Reads the daily roll-ups, so a month is thousands of rows, not millions.
    public func usageReport(_ query: UsageQuery) async throws -> [UsageRow] {
        if query.groupBy.contains(where: \.readsRows) { return try await rawUsageReport(query) }
        var conditions: [String] = []
        var values: [String] = []
        let filters = [("tenant_id = ?", query.tenantID), ("model = ?", query.model), ("day >= ?", query.fromDay), ("day <= ?", query.toDay)]
        for case (let condition, let value?) in filters {
            conditions.append(condition)
            values.append(value)
        }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let arguments = values
        let dims = query.groupBy
        let groupColumns = dims.map(\.column)
        let select = groupColumns.isEmpty ? "" : groupColumns.joined(separator: ", ") + ", "
        let groupClause = groupColumns.isEmpty ? "" : " GROUP BY " + groupColumns.joined(separator: ", ")
        @Sendable func groupOf(_ row: Row) -> [UsageDimension: String] {
            var g: [UsageDimension: String] = [:]
            for d in dims {
                let value: DatabaseValue = row[d.column]
                g[d] = value.isNull ? "" : (String.fromDatabaseValue(value) ?? Int.fromDatabaseValue(value).map(String.init) ?? "")
            }
            return g
        }
        // The sums every report reads (r, e, p, c, m, pos, neg) and its distinct users (u); nil for the row of NULL
        // sums an aggregate without GROUP BY makes when no roll-up matches.
        @Sendable func reportRow(_ row: Row) -> UsageRow? {
            guard let requests = row["r"] as Int? else { return nil }
            return UsageRow(
                group: groupOf(row), requests: requests, users: (row["u"] as Int?) ?? 0, errors: (row["e"] as Int?) ?? 0,
                promptTokens: (row["p"] as Int?) ?? 0, completionTokens: (row["c"] as Int?) ?? 0, costMicros: (row["m"] as Int?) ?? 0,
                positive: (row["pos"] as Int?) ?? 0, negative: (row["neg"] as Int?) ?? 0)
        }
        if dims.contains(.user) {
            let sql = """
                SELECT \(select) SUM(requests) r, SUM(errors) e, SUM(prompt_tokens) p, SUM(completion_tokens) c, SUM(cost_micros) m,
                    SUM(positive) pos, SUM(negative) neg, COUNT(DISTINCT end_user) u
                FROM usage_daily_users\(whereClause)\(groupClause)
                """
            return try await pool.read { db in
                try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).compactMap(reportRow)
            }
        }
        // Grouped in SQL; histograms merged by the trellis_hist_merge aggregate as SQLite reads the rows.
        let sql = """
            SELECT \(select) SUM(requests) r, SUM(errors) e, SUM(prompt_tokens) p, SUM(completion_tokens) c, SUM(cost_micros) m,
                SUM(positive) pos, SUM(negative) neg, trellis_hist_merge(latency_hist) lh, trellis_hist_merge(ttft_hist) th,
                trellis_users_count(users) u
            FROM \(dims.contains(.key) ? "usage_daily" : "usage_daily_models")\(whereClause)\(groupClause)
            """
        let rows = try await pool.read { db in
            var out: [UsageRow] = []
            for row in try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)) {
                guard var r = reportRow(row) else { continue }
                if let latency = row["lh"] as Data? { r.latency.merge(encoded: latency) }
                if let ttft = row["th"] as Data? { r.ttft.merge(encoded: ttft) }
                out.append(r)
            }
            return out
        }
        return rows.sortedByGroup(dims)
    }
}

extension SQLiteStore {
    /// A report from the usage rows themselves (``RawUsageReport``), read in one pass.
    func rawUsageReport(_ query: UsageQuery) async throws -> [UsageRow] {
        let (from, to) = RawUsageReport.range(query)
        var conditions = ["u.at_ms >= ?", "u.at_ms < ?"]
        var arguments: [(any DatabaseValueConvertible)?] = [from, to]
        if let tenantID = query.tenantID {
            conditions.append("u.tenant_id = ?")
            arguments.append(tenantID)
        }
        if let model = query.model {
            conditions.append("u.model = ?")
            arguments.append(model)
        }
        let sql = RawUsageReport.select(conditions: conditions)
        let bound = StatementArguments(arguments)
        return try await pool.read { db in
            var report = RawUsageReport(dims: query.groupBy)
            let rows = try Row.fetchCursor(db, sql: sql, arguments: bound)
            while let row = try rows.next() {
                report.add(
                    RawUsageReport.Row(
                        atMs: row[0], endpoint: row[1], tenantID: row[2], keyID: row[3], endUser: row[4], model: row[5], modelVersion: row[6],
                        status: row[7], promptTokens: row[8], completionTokens: row[9], costMicros: row[10], latencyMs: row[11], ttftMs: row[12],
                        rating: row[13], routedTo: row[14], baselineCostMicros: row[15]))
            }
            return report.rows()
        }
    }
}

extension UsageDimension {
    /// The roll-up column a dimension groups by.
    var column: String {
        switch self {
        case .tenant: "tenant_id"
        case .model: "model"
        case .version: "model_version"
        case .key: "key_id"
        case .user: "end_user"
        case .day: "day"
        // Never a roll-up column: grouping by source reads the usage rows (``RawUsageReport``).
        case .source: "endpoint"
        case .routedTo: "routed_to"
        }
    }
}
