import TrellisCore

/// A usage report computed from the usage rows themselves, for groupings the daily roll-ups cannot answer
/// (`source`): one pass over the rows of the period, each group's sums, distinct end users, latency and
/// time-to-first-token histograms (successful requests only) and its requests' latest ratings, as the roll-ups
/// count them. Both engines run ``select`` (with their own placeholders) and feed the rows here.
struct RawUsageReport {
    /// One usage row as the report reads it.
    struct Row {
        var atMs: Int64
        var endpoint: String
        var tenantID: String
        var keyID: String
        var endUser: String?
        var model: String
        var modelVersion: Int?
        var status: Int
        var promptTokens: Int
        var completionTokens: Int
        var costMicros: Int
        var latencyMs: Double
        var ttftMs: Double?
        /// The request's latest rating, if it has any.
        var rating: Int?
        var routedTo: String?
        var baselineCostMicros: Int?
    }

    let dims: [UsageDimension]
    private var groups: [[UsageDimension: String]: UsageRow] = [:]
    private var users: [[UsageDimension: String]: Set<String>] = [:]

    init(dims: [UsageDimension]) {
        self.dims = dims
    }

    /// The columns read, in ``Row``'s order; `conditions` are the engine's filters joined with AND.
    static func select(conditions: [String]) -> String {
        """
        SELECT u.at_ms, u.endpoint, u.tenant_id, u.key_id, u.end_user, u.model, u.model_version, u.status, u.prompt_tokens,
            u.completion_tokens, u.cost_micros, u.latency_ms, u.ttft_ms,
            (SELECT f.rating FROM feedback f WHERE f.request_id = u.request_id ORDER BY f.id DESC LIMIT 1) AS rating,
            u.routed_to, u.baseline_cost_micros
        FROM usage u WHERE \(conditions.joined(separator: " AND "))
        """
    }

    /// The period's bounds in milliseconds: the start of `fromDay` and the end of `toDay` (exclusive).
    static func range(_ query: UsageQuery) -> (from: Int64, to: Int64) {
        let from = query.fromDay.flatMap(CivilDate.unixMs(ofDay:)) ?? Int64.min
        let to = query.toDay.flatMap(CivilDate.unixMs(ofDay:)).map { $0 + 86_400_000 } ?? Int64.max
        return (from, to)
    }

    mutating func add(_ row: Row) {
        var group: [UsageDimension: String] = [:]
        for d in dims {
            switch d {
            case .tenant: group[d] = row.tenantID
            case .model: group[d] = row.model
            case .version: group[d] = String(row.modelVersion ?? -1)
            case .key: group[d] = row.keyID
            case .user: group[d] = row.endUser ?? ""
            case .day: group[d] = UsageQuery.day(ms: row.atMs)
            case .source: group[d] = UsageSource.of(endpoint: row.endpoint)
            case .routedTo: group[d] = row.routedTo ?? ""
            }
        }
        var r = groups[group] ?? UsageRow(group: group)
        r.requests += 1
        if row.status >= 400 {
            r.errors += 1
        } else {
            r.latency.add(row.latencyMs)
            if let ttft = row.ttftMs { r.ttft.add(ttft) }
        }
        r.promptTokens += row.promptTokens
        r.completionTokens += row.completionTokens
        r.costMicros += row.costMicros
        if row.routedTo != nil {
            r.routedRequests = (r.routedRequests ?? 0) + 1
            r.savedMicros = (r.savedMicros ?? 0) + (row.baselineCostMicros ?? row.costMicros) - row.costMicros
        } else {
            r.routedRequests = r.routedRequests ?? 0
            r.savedMicros = r.savedMicros ?? 0
        }
        if let rating = row.rating {
            if rating > 0 { r.positive += 1 }
            if rating < 0 { r.negative += 1 }
        }
        if let user = row.endUser, !user.isEmpty { users[group, default: []].insert(user) }
        groups[group] = r
    }

    func rows() -> [UsageRow] {
        groups.map { group, row in
            var row = row
            row.users = users[group]?.count ?? 0
            return row
        }.sortedByGroup(dims)
    }
}
