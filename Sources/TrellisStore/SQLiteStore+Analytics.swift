import Foundation
import GRDB
import OpenAIWire
import TrellisCore

/// Usage roll-ups, analytics, feedback and captured interactions.
extension SQLiteStore {
    // MARK: Roll-ups

    struct RollupKey: Hashable {
        var day: String
        var tenantID: String
        var model: String
        var version: Int
        var keyID: String
        var endUser: String?
    }

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
    }

    static let dayFormatter: DateFormatter = {
        let f = DateFormatter()
        f.calendar = Calendar(identifier: .gregorian)
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        return f
    }()

    /// The UTC day of a time, `yyyy-MM-dd`, computed without a formatter (days since the epoch).
    public static func day(ms: Int64) -> String {
        CivilDate(unixMs: ms).dayString
    }

    static func accumulate(_ events: [UsageRecord], into daily: inout [RollupKey: RollupDelta], users: inout [RollupKey: RollupDelta]) {
        for e in events {
            let base = RollupKey(day: day(ms: e.atMs), tenantID: e.tenantID, model: e.model, version: e.modelVersion ?? -1, keyID: e.keyID, endUser: nil)
            var d = daily[base] ?? RollupDelta()
            d.requests += 1
            if e.status >= 400 { d.errors += 1 }
            d.promptTokens += e.promptTokens
            d.completionTokens += e.completionTokens
            d.costMicros += e.costMicros
            if e.status < 400 {
                d.latency.add(e.latencyMs)
                if let t = e.ttftMs { d.ttft.add(t) }
            }
            if let user = e.endUser, !user.isEmpty { d.users.insert(UserSet.hash(user)) }
            daily[base] = d
            if let user = e.endUser, !user.isEmpty {
                var key = base
                key.endUser = user
                var u = users[key] ?? RollupDelta()
                u.requests += 1
                if e.status >= 400 { u.errors += 1 }
                u.promptTokens += e.promptTokens
                u.completionTokens += e.completionTokens
                u.costMicros += e.costMicros
                users[key] = u
            }
        }
    }

    static func applyRollups(_ db: Database, daily: [RollupKey: RollupDelta], users: [RollupKey: RollupDelta]) throws {
        // The same deltas without the key, for usage_daily_models.
        var byModel: [RollupKey: RollupDelta] = [:]
        for (k, d) in daily {
            var key = k
            key.keyID = ""
            var m = byModel[key] ?? RollupDelta()
            m.requests += d.requests
            m.errors += d.errors
            m.promptTokens += d.promptTokens
            m.completionTokens += d.completionTokens
            m.costMicros += d.costMicros
            m.positive += d.positive
            m.negative += d.negative
            m.latency.merge(d.latency)
            m.ttft.merge(d.ttft)
            m.users.formUnion(d.users)
            byModel[key] = m
        }
        try upsertDaily(db, table: "usage_daily", withKey: true, daily)
        try upsertDaily(db, table: "usage_daily_models", withKey: false, byModel)
        let upsertUser = try db.cachedStatement(
            sql: """
                INSERT INTO usage_daily_users(day, tenant_id, model, model_version, key_id, end_user, requests, errors, prompt_tokens,
                    completion_tokens, cost_micros, positive, negative)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(day, tenant_id, model, model_version, key_id, end_user) DO UPDATE SET
                    requests = requests + excluded.requests, errors = errors + excluded.errors,
                    prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
                    cost_micros = cost_micros + excluded.cost_micros, positive = positive + excluded.positive, negative = negative + excluded.negative
                """)
        for (k, d) in users {
            try upsertUser.execute(arguments: [
                k.day, k.tenantID, k.model, k.version, k.keyID, k.endUser ?? "", d.requests, d.errors, d.promptTokens, d.completionTokens, d.costMicros,
                d.positive, d.negative,
            ])
        }
    }

    /// Adds deltas to a daily roll-up table (`usage_daily`, or `usage_daily_models` without the key column),
    /// merging the stored histograms and user sets with the new ones.
    static func upsertDaily(_ db: Database, table: String, withKey: Bool, _ deltas: [RollupKey: RollupDelta]) throws {
        let keyColumns = withKey ? "day, tenant_id, model, model_version, key_id" : "day, tenant_id, model, model_version"
        let keyMatch = "day = ? AND tenant_id = ? AND model = ? AND model_version = ?" + (withKey ? " AND key_id = ?" : "")
        let select = try db.cachedStatement(sql: "SELECT latency_hist, ttft_hist, users FROM \(table) WHERE \(keyMatch)")
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO \(table)(\(keyColumns), requests, errors, prompt_tokens, completion_tokens, cost_micros,
                    positive, negative, latency_hist, ttft_hist, users)
                VALUES (\(withKey ? "?, " : "")?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(\(keyColumns)) DO UPDATE SET
                    requests = requests + excluded.requests, errors = errors + excluded.errors,
                    prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
                    cost_micros = cost_micros + excluded.cost_micros, positive = positive + excluded.positive, negative = negative + excluded.negative,
                    latency_hist = excluded.latency_hist, ttft_hist = excluded.ttft_hist, users = excluded.users
                """)
        for (k, d) in deltas {
            var latency = d.latency
            var ttft = d.ttft
            var users = d.users
            var key: [any DatabaseValueConvertible] = [k.day, k.tenantID, k.model, k.version]
            if withKey { key.append(k.keyID) }
            if let row = try Row.fetchOne(select, arguments: StatementArguments(key)) {
                latency.merge(encoded: row["latency_hist"] as Data)
                ttft.merge(encoded: row["ttft_hist"] as Data)
                if let stored = row["users"] as Data? { UserSet.insert(encoded: stored, into: &users) }
            }
            try upsert.execute(
                arguments: StatementArguments(
                    key + [
                        d.requests, d.errors, d.promptTokens, d.completionTokens, d.costMicros, d.positive, d.negative, Data(latency.encoded),
                        Data(ttft.encoded), Data(UserSet.encode(users)),
                    ]))
        }
    }

    /// Builds the roll-ups from the usage table when they are missing (a database from before they existed).
    public func rebuildRollupsIfNeeded() async throws {
        try await pool.write { db in
            let rollups = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM usage_daily") ?? 0
            let usage = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM usage") ?? 0
            guard rollups == 0, usage > 0 else { return }
            var daily: [RollupKey: RollupDelta] = [:]
            var users: [RollupKey: RollupDelta] = [:]
            let cursor = try UsageRecord.fetchCursor(db)
            var batch: [UsageRecord] = []
            while let row = try cursor.next() {
                batch.append(row)
                if batch.count == 10_000 {
                    Self.accumulate(batch, into: &daily, users: &users)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            Self.accumulate(batch, into: &daily, users: &users)
            try Self.applyRollups(db, daily: daily, users: users)
        }
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

    // MARK: Analytics

    public enum UsageDimension: String, Sendable, CaseIterable {
        case tenant, model, version, key, user, day

        var column: String {
            switch self {
            case .tenant: "tenant_id"
            case .model: "model"
            case .version: "model_version"
            case .key: "key_id"
            case .user: "end_user"
            case .day: "day"
            }
        }
    }

    public struct UsageQuery: Sendable {
        public var tenantID: String?
        public var model: String?
        public var fromDay: String?
        public var toDay: String?
        public var groupBy: [UsageDimension]

        public init(tenantID: String? = nil, model: String? = nil, fromDay: String? = nil, toDay: String? = nil, groupBy: [UsageDimension] = []) {
            self.tenantID = tenantID
            self.model = model
            self.fromDay = fromDay
            self.toDay = toDay
            self.groupBy = groupBy
        }
    }

    public struct UsageRow: Sendable {
        public var group: [UsageDimension: String]
        public var requests = 0
        public var users = 0
        public var errors = 0
        public var promptTokens = 0
        public var completionTokens = 0
        public var costMicros = 0
        public var positive = 0
        public var negative = 0
        public var latency = Histogram()
        public var ttft = Histogram()
        /// Percentiles computed exactly from raw rows (grouping by end user), else from the histograms.
        public var exactLatency: [Double]?
    }

    /// The usage report: sums, distinct end users, errors, tokens, cost, latency and time-to-first-token
    /// percentiles and feedback, for any grouping of tenant, model, version, key, end user and day, over
    /// whole UTC days. Reads the daily roll-ups, so a month is thousands of rows, not millions.
    public func usageReport(_ query: UsageQuery) async throws -> [UsageRow] {
        var conditions: [String] = []
        var values: [String] = []
        if let t = query.tenantID {
            conditions.append("tenant_id = ?")
            values.append(t)
        }
        if let m = query.model {
            conditions.append("model = ?")
            values.append(m)
        }
        if let f = query.fromDay {
            conditions.append("day >= ?")
            values.append(f)
        }
        if let t = query.toDay {
            conditions.append("day <= ?")
            values.append(t)
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
        func sorted(_ rows: [UsageRow]) -> [UsageRow] {
            rows.sorted { a, b in
                for d in dims where a.group[d] != b.group[d] { return (a.group[d] ?? "") < (b.group[d] ?? "") }
                return false
            }
        }
        if dims.contains(.user) {
            let sql = """
                SELECT \(select) SUM(requests) r, SUM(errors) e, SUM(prompt_tokens) p, SUM(completion_tokens) c, SUM(cost_micros) m,
                    SUM(positive) pos, SUM(negative) neg, COUNT(DISTINCT end_user) u
                FROM usage_daily_users\(whereClause)\(groupClause)
                """
            return try await pool.read { db in
                try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
                    UsageRow(
                        group: groupOf(row), requests: row["r"], users: row["u"], errors: row["e"], promptTokens: row["p"], completionTokens: row["c"],
                        costMicros: row["m"], positive: row["pos"], negative: row["neg"])
                }
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
                // Without GROUP BY, no matching roll-up still makes one row of NULL sums: nothing to report.
                guard let requests = row["r"] as Int? else { continue }
                var r = UsageRow(
                    group: groupOf(row), requests: requests, users: 0, errors: (row["e"] as Int?) ?? 0, promptTokens: (row["p"] as Int?) ?? 0,
                    completionTokens: (row["c"] as Int?) ?? 0, costMicros: (row["m"] as Int?) ?? 0, positive: (row["pos"] as Int?) ?? 0,
                    negative: (row["neg"] as Int?) ?? 0)
                r.users = (row["u"] as Int?) ?? 0
                if let latency = row["lh"] as Data? { r.latency.merge(encoded: latency) }
                if let ttft = row["th"] as Data? { r.ttft.merge(encoded: ttft) }
                out.append(r)
            }
            return out
        }
        return sorted(rows)
    }

    // MARK: Feedback

    public struct UsageOwner: Sendable {
        public var tenantID: String
        public var keyID: String
        public var model: String
        public var modelVersion: Int?
        public var endUser: String?
        public var atMs: Int64
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

    /// Records a rating (and an optional comment and expert correction). A later rating of the same request
    /// replaces the earlier one in the counts.
    public func insertFeedback(
        requestID: String, owner: UsageOwner, keyID: String, rating: Int, comment: String?, correction: String?, now: Date = Date()
    ) async throws -> Int64 {
        try await pool.write { db in
            let previous = try Int.fetchOne(db, sql: "SELECT rating FROM feedback WHERE request_id = ? ORDER BY id DESC LIMIT 1", arguments: [requestID])
            try db.execute(
                sql: """
                    INSERT INTO feedback(request_id, tenant_id, key_id, model, model_version, rating, comment, correction, at_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [requestID, owner.tenantID, keyID, owner.model, owner.modelVersion, rating, comment, correction, now.unixMilliseconds])
            let id = db.lastInsertedRowID
            let day = Self.day(ms: owner.atMs)
            var pos = rating > 0 ? 1 : 0
            var neg = rating < 0 ? 1 : 0
            if let previous {
                if previous > 0 { pos -= 1 }
                if previous < 0 { neg -= 1 }
            }
            if pos != 0 || neg != 0 {
                try db.execute(
                    sql: """
                        UPDATE usage_daily SET positive = positive + ?, negative = negative + ?
                        WHERE day = ? AND tenant_id = ? AND model = ? AND model_version = ? AND key_id = ?
                        """, arguments: [pos, neg, day, owner.tenantID, owner.model, owner.modelVersion ?? -1, owner.keyID])
                try db.execute(
                    sql: """
                        UPDATE usage_daily_models SET positive = positive + ?, negative = negative + ?
                        WHERE day = ? AND tenant_id = ? AND model = ? AND model_version = ?
                        """, arguments: [pos, neg, day, owner.tenantID, owner.model, owner.modelVersion ?? -1])
                if let user = owner.endUser, !user.isEmpty {
                    try db.execute(
                        sql: """
                            UPDATE usage_daily_users SET positive = positive + ?, negative = negative + ?
                            WHERE day = ? AND tenant_id = ? AND model = ? AND model_version = ? AND key_id = ? AND end_user = ?
                            """, arguments: [pos, neg, day, owner.tenantID, owner.model, owner.modelVersion ?? -1, owner.keyID, user])
                }
            }
            return id
        }
    }

    // MARK: Interactions (the flywheel)

    public func insertInteraction(
        requestID: String, tenantID: String, model: String, modelVersion: Int?, messages: JSONValue, answer: String, retentionDays: Int,
        now: Date = Date()
    ) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO interactions(request_id, tenant_id, model, model_version, at_ms, messages, answer, expires_at_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    requestID, tenantID, model, modelVersion, now.unixMilliseconds, JSONWriter.string(messages), answer,
                    now.unixMilliseconds + Int64(retentionDays) * 86_400_000,
                ])
        }
    }

    /// Deletes captured interactions past their retention; returns how many.
    public func purgeInteractions(now: Date = Date()) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM interactions WHERE expires_at_ms < ?", arguments: [now.unixMilliseconds])
            return db.changesCount
        }
    }

    public func interactionCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM interactions") ?? 0 }
    }

    public struct RatedInteraction: Sendable {
        public var requestID: String
        public var model: String
        public var messages: JSONValue
        public var answer: String
        public var rating: Int
        public var correction: String?
    }

    /// Captured interactions with their latest feedback, for dataset export.
    public func ratedInteractions(tenantID: String?, model: String?, afterRequestID: String? = nil, limit: Int = 1000) async throws -> [RatedInteraction] {
        try await pool.read { db in
            var conditions = ["f.id = (SELECT MAX(id) FROM feedback WHERE request_id = i.request_id)"]
            var arguments: [any DatabaseValueConvertible] = []
            if let tenantID {
                conditions.append("i.tenant_id = ?")
                arguments.append(tenantID)
            }
            if let model {
                conditions.append("i.model = ?")
                arguments.append(model)
            }
            if let afterRequestID {
                conditions.append("i.request_id > ?")
                arguments.append(afterRequestID)
            }
            arguments.append(limit)
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT i.request_id, i.model, i.messages, i.answer, f.rating, f.correction
                    FROM interactions i JOIN feedback f ON f.request_id = i.request_id
                    WHERE \(conditions.joined(separator: " AND ")) ORDER BY i.request_id LIMIT ?
                    """, arguments: StatementArguments(arguments))
            return rows.map { row in
                RatedInteraction(
                    requestID: row["request_id"], model: row["model"], messages: (try? JSONParser.parse(row["messages"] as String)) ?? .array([]),
                    answer: row["answer"], rating: row["rating"], correction: row["correction"])
            }
        }
    }
}

/// `trellis_hist_merge(blob)`: an SQL aggregate that merges encoded histograms (`Histogram.merge(encoded:)`)
/// into one, so a report groups and merges in one pass over the roll-ups.
struct HistogramMerge: DatabaseAggregate {
    static let function = DatabaseFunction("trellis_hist_merge", argumentCount: 1, pure: true, aggregate: HistogramMerge.self)

    var histogram = Histogram()

    init() {}

    mutating func step(_ values: [DatabaseValue]) throws {
        if let bytes = Data.fromDatabaseValue(values[0]) { histogram.merge(encoded: bytes) }
    }

    func finalize() throws -> (any DatabaseValueConvertible)? {
        Data(histogram.encoded)
    }
}

/// The distinct end users of a daily roll-up row: 64-bit FNV-1a hashes of their names, sorted, little-endian.
/// Sets merge by union, so a report counts the distinct users of any grouping from the daily rows alone
/// (exact up to a 64-bit hash collision), without reading a row per user.
enum UserSet {
    static func hash(_ user: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in user.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }

    static func encode(_ set: Set<UInt64>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(set.count * 8)
        for h in set.sorted() {
            for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8((h >> UInt64(shift)) & 0xFF)) }
        }
        return out
    }

    static func append(encoded bytes: Data, to hashes: inout [UInt64]) {
        guard bytes.count % 8 == 0 else { return }
        bytes.withUnsafeBytes { raw in
            var o = 0
            while o < raw.count {
                hashes.append(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self)))
                o += 8
            }
        }
    }

    static func distinctCount(_ hashes: [UInt64]) -> Int {
        guard !hashes.isEmpty else { return 0 }
        let sorted = hashes.sorted()
        var count = 1
        for i in 1..<sorted.count where sorted[i] != sorted[i - 1] { count += 1 }
        return count
    }

    static func insert(encoded bytes: Data, into set: inout Set<UInt64>) {
        guard bytes.count % 8 == 0 else { return }
        bytes.withUnsafeBytes { raw in
            var o = 0
            while o < raw.count {
                set.insert(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self)))
                o += 8
            }
        }
    }
}

/// `trellis_users_count(blob)`: the number of distinct end users across `UserSet`s. The hashes are gathered
/// into an array and counted once sorted at the end: appending is several times cheaper than inserting into
/// a hash set, and a month of roll-ups carries hundreds of thousands of them.
struct UserCount: DatabaseAggregate {
    static let function = DatabaseFunction("trellis_users_count", argumentCount: 1, pure: true, aggregate: UserCount.self)

    var hashes: [UInt64] = []

    init() {}

    mutating func step(_ values: [DatabaseValue]) throws {
        if let bytes = Data.fromDatabaseValue(values[0]) { UserSet.append(encoded: bytes, to: &hashes) }
    }

    func finalize() throws -> (any DatabaseValueConvertible)? {
        UserSet.distinctCount(hashes)
    }
}

/// `trellis_users_union(blob)`: the union of `UserSet`s, encoded as one.
struct UserUnion: DatabaseAggregate {
    static let function = DatabaseFunction("trellis_users_union", argumentCount: 1, pure: true, aggregate: UserUnion.self)

    var users = Set<UInt64>()

    init() {}

    mutating func step(_ values: [DatabaseValue]) throws {
        if let bytes = Data.fromDatabaseValue(values[0]) { UserSet.insert(encoded: bytes, into: &users) }
    }

    func finalize() throws -> (any DatabaseValueConvertible)? {
        Data(UserSet.encode(users))
    }
}
