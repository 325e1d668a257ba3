import Foundation
import NIOCore
import PostgresNIO
import TrellisCore

/// The usage report: grouped and summed in SQL over the roll-ups; each group's histograms and user sets come
/// back as arrays and are merged here, as SQLite's aggregates merge them.
extension PostgresStore {
    /// The usage report (see `UsageStore.usageReport`), with the same rows, in the same order, as on SQLite.
    public func usageReport(_ query: UsageQuery) async throws -> [UsageRow] {
        if query.groupBy.contains(where: \.readsRows) { return try await rawUsageReport(query) }
        var sql = BoundSQL()
        var conditions: [String] = []
        let filters = [("tenant_id = ", query.tenantID), ("model = ", query.model), ("day >= ", query.fromDay), ("day <= ", query.toDay)]
        for case (let condition, let value?) in filters { conditions.append(condition + sql.bind(value)) }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let dims = query.groupBy
        let select = dims.map { $0.column + "::text, " }.joined()
        let groupClause = dims.isEmpty ? "" : " GROUP BY " + dims.map(\.column).joined(separator: ", ")
        let sums = """
            SUM(requests)::BIGINT, SUM(errors)::BIGINT, SUM(prompt_tokens)::BIGINT, SUM(completion_tokens)::BIGINT, SUM(cost_micros)::BIGINT,
                SUM(positive)::BIGINT, SUM(negative)::BIGINT
            """
        if dims.contains(.user) {
            // SQLite answers these in the order of its grouping: text byte by byte, versions as numbers.
            let order = dims.isEmpty ? "" : " ORDER BY " + dims.map { $0 == .version ? $0.column : $0.column + " COLLATE \"C\"" }.joined(separator: ", ")
            let statement = sql.query(
                "SELECT \(select)\(sums), COUNT(DISTINCT end_user) FROM usage_daily_users\(whereClause)\(groupClause)\(order)")
            return try await read { connection in
                var out: [UsageRow] = []
                for try await row in try await connection.query(statement, logger: Self.quiet) {
                    let cells = row.makeRandomAccess()
                    guard var r = try Self.reportRow(cells, dims: dims) else { continue }
                    r.users = try cells[dims.count + 7].decode(Int.self)
                    out.append(r)
                }
                return out
            }
        }
        let statement = sql.query(
            """
            SELECT \(select)\(sums), array_agg(latency_hist), array_agg(ttft_hist), array_agg(COALESCE(users, ''::bytea))
            FROM \(dims.contains(.key) ? "usage_daily" : "usage_daily_models")\(whereClause)\(groupClause)
            """)
        let rows = try await read { connection in
            var out: [UsageRow] = []
            for try await row in try await connection.query(statement, logger: Self.quiet) {
                let cells = row.makeRandomAccess()
                guard var r = try Self.reportRow(cells, dims: dims) else { continue }
                for histogram in try cells[dims.count + 7].decode([ByteBuffer].self) { r.latency.merge(encoded: histogram.readableBytesView) }
                for histogram in try cells[dims.count + 8].decode([ByteBuffer].self) { r.ttft.merge(encoded: histogram.readableBytesView) }
                var hashes: [UInt64] = []
                for users in try cells[dims.count + 9].decode([ByteBuffer].self) {
                    users.withUnsafeReadableBytes { UserSet.append(encoded: $0, to: &hashes) }
                }
                r.users = UserSet.distinctCount(hashes)
                out.append(r)
            }
            return out
        }
        return rows.sortedByGroup(dims)
    }

    /// A report row's group and sums (the group's columns, then requests, errors, prompt and completion tokens,
    /// cost, positive, negative); nil for the row of NULL sums an aggregate without GROUP BY makes when no
    /// roll-up matches.
    static func reportRow(_ cells: PostgresRandomAccessRow, dims: [UsageDimension]) throws -> UsageRow? {
        let n = dims.count
        guard let requests = try cells[n].decode(Int?.self) else { return nil }
        var group: [UsageDimension: String] = [:]
        for (i, d) in dims.enumerated() { group[d] = try cells[i].decode(String?.self) ?? "" }
        func sum(_ i: Int) throws -> Int { try cells[n + i].decode(Int?.self) ?? 0 }
        return UsageRow(
            group: group, requests: requests, errors: try sum(1), promptTokens: try sum(2), completionTokens: try sum(3), costMicros: try sum(4),
            positive: try sum(5), negative: try sum(6))
    }
}

extension PostgresStore {
    /// A report from the usage rows themselves (``RawUsageReport``), read in one pass.
    func rawUsageReport(_ query: UsageQuery) async throws -> [UsageRow] {
        let (from, to) = RawUsageReport.range(query)
        var sql = BoundSQL()
        var conditions = ["u.at_ms >= " + sql.bind(from), "u.at_ms < " + sql.bind(to)]
        if let tenantID = query.tenantID { conditions.append("u.tenant_id = " + sql.bind(tenantID)) }
        if let model = query.model { conditions.append("u.model = " + sql.bind(model)) }
        let statement = sql.query(RawUsageReport.select(conditions: conditions))
        let dims = query.groupBy
        return try await read { connection in
            var report = RawUsageReport(dims: dims)
            let rows = try await connection.query(statement, logger: Self.quiet)
            for try await row in rows {
                let c = row.makeRandomAccess()
                report.add(
                    RawUsageReport.Row(
                        atMs: try c[0].decode(Int64.self), endpoint: try c[1].decode(String.self), tenantID: try c[2].decode(String.self),
                        keyID: try c[3].decode(String.self), endUser: try c[4].decode(String?.self), model: try c[5].decode(String.self),
                        modelVersion: try c[6].decode(Int?.self), status: try c[7].decode(Int.self), promptTokens: try c[8].decode(Int.self),
                        completionTokens: try c[9].decode(Int.self), costMicros: try c[10].decode(Int.self), latencyMs: try c[11].decode(Double.self),
                        ttftMs: try c[12].decode(Double?.self), rating: try c[13].decode(Int?.self), routedTo: try c[14].decode(String?.self),
                        baselineCostMicros: try c[15].decode(Int?.self)))
            }
            return report.rows()
        }
    }
}
