import TrellisCore

// The daily roll-ups of usage (`usage_daily`, `usage_daily_models`, `usage_daily_users`), as the engines
// compute them in Swift before writing them in the transaction that writes the usage rows: what is added to
// each roll-up row. Each engine has its own SQL for merging these deltas into the stored rows.

/// A roll-up row's key. `version` is -1 for no version; `keyID` is empty in `usage_daily_models`; `endUser`
/// is set in `usage_daily_users` only.
struct RollupKey: Hashable {
    var day: String
    var tenantID: String
    var model: String
    var version: Int
    var keyID: String
    var endUser: String?
}

/// What a batch of usage rows adds to one roll-up row.
struct RollupDelta {
    var requests = 0
    var errors = 0
    var promptTokens = 0
    var completionTokens = 0
    var costMicros = 0
    var positive = 0
    var negative = 0
    var latency = Histogram()
    var ttft = Histogram()
    /// The end users seen, as `UserSet` hashes (daily rows only).
    var users = Set<UInt64>()

    /// Counts one usage row's request, error and tokens.
    mutating func count(_ e: UsageRecord) {
        requests += 1
        if e.status >= 400 { errors += 1 }
        promptTokens += e.promptTokens
        completionTokens += e.completionTokens
        costMicros += e.costMicros
    }

    /// Counts one usage row in a daily row: its request, error and tokens, its latencies when it succeeded, and
    /// its end user.
    mutating func record(_ e: UsageRecord, user: String?) {
        count(e)
        if e.status < 400 {
            latency.add(e.latencyMs)
            if let t = e.ttftMs { ttft.add(t) }
        }
        if let user { users.insert(UserSet.hash(user)) }
    }

    /// Adds another delta: sums, histograms and user sets.
    mutating func add(_ d: RollupDelta) {
        requests += d.requests
        errors += d.errors
        promptTokens += d.promptTokens
        completionTokens += d.completionTokens
        costMicros += d.costMicros
        positive += d.positive
        negative += d.negative
        latency.merge(d.latency)
        ttft.merge(d.ttft)
        users.formUnion(d.users)
    }
}

/// The deltas of a batch of usage rows: per daily row (with the key) and per end user.
struct Rollups {
    var daily: [RollupKey: RollupDelta] = [:]
    var users: [RollupKey: RollupDelta] = [:]

    /// Counts usage rows: errors count as requests, but only successful requests have latencies; rows without
    /// an end user count in the daily rows only. Each delta is changed where it is stored (a copy taken out and
    /// put back would copy its two 1 KiB histograms for every row), and the day's text is made once per day
    /// of the batch, not once per row.
    mutating func accumulate(_ events: [UsageRecord]) {
        var day = (number: Int64.min, text: "")
        for e in events {
            let number = e.atMs >= 0 ? e.atMs / Self.msPerDay : (e.atMs - Self.msPerDay + 1) / Self.msPerDay
            if number != day.number { day = (number, UsageQuery.day(ms: e.atMs)) }
            let base = RollupKey(day: day.text, tenantID: e.tenantID, model: e.model, version: e.modelVersion ?? -1, keyID: e.keyID, endUser: nil)
            let user = e.endUser.flatMap { $0.isEmpty ? nil : $0 }
            daily[base, default: RollupDelta()].record(e, user: user)
            if let user {
                var key = base
                key.endUser = user
                users[key, default: RollupDelta()].count(e)
            }
        }
    }

    private static let msPerDay: Int64 = 86_400_000

    /// The daily deltas without the key, for `usage_daily_models`: sums added, histograms merged, user sets
    /// united.
    var byModel: [RollupKey: RollupDelta] {
        var out: [RollupKey: RollupDelta] = [:]
        for (k, d) in daily {
            var key = k
            key.keyID = ""
            out[key, default: RollupDelta()].add(d)
        }
        return out
    }
}

extension [UsageRow] {
    /// The rows ordered by their groups' values, dimension by dimension, compared as text.
    func sortedByGroup(_ dims: [UsageDimension]) -> [UsageRow] {
        sorted { a, b in
            for d in dims where a.group[d] != b.group[d] { return (a.group[d] ?? "") < (b.group[d] ?? "") }
            return false
        }
    }
}
