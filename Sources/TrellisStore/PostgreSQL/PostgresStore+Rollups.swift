import Foundation
import NIOCore
import PostgresNIO
import TrellisCore

/// The daily roll-ups (`usage_daily`, `usage_daily_models`, `usage_daily_users`), kept in the transaction that
/// writes the usage rows, exact when several gateways write at once: counters are added by the database
/// (`x = t.x + excluded.x`), and rows whose histograms and user sets must be merged in Swift are locked first,
/// in key order (so two writers never wait on each other in a cycle), then read, merged and written back.
extension PostgresStore {
    /// Writes a batch's roll-up deltas in the caller's transaction, the tables always in this order.
    static func applyRollups(_ connection: PostgresConnection, _ rollups: Rollups) async throws {
        try await mergeDaily(connection, table: "usage_daily", withKey: true, rollups.daily)
        try await mergeDaily(connection, table: "usage_daily_models", withKey: false, rollups.byModel)
        try await addUserRows(connection, rollups.users)
    }

    /// Adds deltas to `usage_daily` (or `usage_daily_models`, without the key): rows not there yet are inserted
    /// as they are; the others are locked, merged with the stored histograms and user sets, and updated.
    static func mergeDaily(_ connection: PostgresConnection, table: String, withKey: Bool, _ deltas: [RollupKey: RollupDelta]) async throws {
        guard !deltas.isEmpty else { return }
        let keyColumns = withKey ? "day, tenant_id, model, model_version, key_id" : "day, tenant_id, model, model_version"
        let keyOut = withKey ? "key_id" : "''::text"
        var insert = BoundSQL()
        let rows = RollupColumns(deltas).all(&insert)
        let inserted = try await connection.query(
            insert.query(
                """
                INSERT INTO \(table) (\(keyColumns), requests, errors, prompt_tokens, completion_tokens, cost_micros,
                    positive, negative, latency_hist, ttft_hist, users)
                SELECT \(keyColumns), requests, errors, prompt_tokens, completion_tokens, cost_micros, positive, negative,
                    latency_hist, ttft_hist, users
                FROM \(rows) ORDER BY \(keyColumns)
                ON CONFLICT (\(keyColumns)) DO NOTHING
                RETURNING day, tenant_id, model, model_version, \(keyOut)
                """), logger: quiet)
        var done = Set<RollupKey>()
        for try await (day, tenantID, model, version, keyID) in inserted.decode((String, String, String, Int, String).self) {
            done.insert(RollupKey(day: day, tenantID: tenantID, model: model, version: version, keyID: keyID))
        }
        let rest = deltas.filter { !done.contains($0.key) }
        guard !rest.isEmpty else { return }
        let keyMatch =
            "t.day = v.day AND t.tenant_id = v.tenant_id AND t.model = v.model AND t.model_version = v.model_version"
            + (withKey ? " AND t.key_id = v.key_id" : "")
        var select = BoundSQL()
        let keys = RollupColumns(rest).keys(&select)
        let stored = try await connection.query(
            select.query(
                """
                SELECT t.day, t.tenant_id, t.model, t.model_version, \(withKey ? "t.key_id" : "''::text"), t.latency_hist, t.ttft_hist, t.users
                FROM \(table) t JOIN \(keys) ON \(keyMatch)
                ORDER BY \(keyColumns.split(separator: ", ").map { "t." + $0 }.joined(separator: ", ")) FOR UPDATE OF t
                """), logger: quiet)
        var merged = rest
        for try await (day, tenantID, model, version, keyID, latency, ttft, users) in stored.decode(
            (String, String, String, Int, String, ByteBuffer, ByteBuffer, ByteBuffer?).self)
        {
            let key = RollupKey(day: day, tenantID: tenantID, model: model, version: version, keyID: keyID)
            guard var d = merged[key] else { continue }
            d.latency.merge(encoded: latency.readableBytesView)
            d.ttft.merge(encoded: ttft.readableBytesView)
            users?.withUnsafeReadableBytes { UserSet.insert(encoded: $0, into: &d.users) }
            merged[key] = d
        }
        var update = BoundSQL()
        let values = RollupColumns(merged).all(&update)
        try await connection.query(
            update.query(
                """
                UPDATE \(table) t SET
                    requests = t.requests + v.requests, errors = t.errors + v.errors, prompt_tokens = t.prompt_tokens + v.prompt_tokens,
                    completion_tokens = t.completion_tokens + v.completion_tokens, cost_micros = t.cost_micros + v.cost_micros,
                    positive = t.positive + v.positive, negative = t.negative + v.negative,
                    latency_hist = v.latency_hist, ttft_hist = v.ttft_hist, users = v.users
                FROM \(values) WHERE \(keyMatch)
                """), logger: quiet)
    }

    /// Adds deltas to `usage_daily_users`: counters only, added by the database.
    static func addUserRows(_ connection: PostgresConnection, _ deltas: [RollupKey: RollupDelta]) async throws {
        guard !deltas.isEmpty else { return }
        let c = RollupColumns(deltas)
        try await connection.query(
            """
            INSERT INTO usage_daily_users AS t (day, tenant_id, model, model_version, key_id, end_user, requests, errors, prompt_tokens,
                completion_tokens, cost_micros, positive, negative)
            SELECT * FROM unnest(\(c.day)::text[], \(c.tenantID)::text[], \(c.model)::text[], \(c.version)::bigint[], \(c.keyID)::text[],
                \(c.endUser)::text[], \(c.requests)::bigint[], \(c.errors)::bigint[], \(c.promptTokens)::bigint[], \(c.completionTokens)::bigint[],
                \(c.costMicros)::bigint[], \(c.positive)::bigint[], \(c.negative)::bigint[])
                AS v(day, tenant_id, model, model_version, key_id, end_user, requests, errors, prompt_tokens, completion_tokens, cost_micros,
                    positive, negative)
            ORDER BY day, tenant_id, model, model_version, key_id, end_user
            ON CONFLICT (day, tenant_id, model, model_version, key_id, end_user) DO UPDATE SET
                requests = t.requests + excluded.requests, errors = t.errors + excluded.errors,
                prompt_tokens = t.prompt_tokens + excluded.prompt_tokens, completion_tokens = t.completion_tokens + excluded.completion_tokens,
                cost_micros = t.cost_micros + excluded.cost_micros, positive = t.positive + excluded.positive, negative = t.negative + excluded.negative
            """, logger: quiet)
    }

    /// Builds the roll-ups from the usage rows when they are missing (rows copied in without them). Usage
    /// writes wait meanwhile (the table is locked against writes), so no row is counted twice. It reads the
    /// whole usage table: the bulk deadline.
    public func rebuildRollupsIfNeeded() async throws {
        guard try await read({ connection in try await Self.rollupsMissing(connection) }) else { return }
        try await write(bulk: true) { connection in
            try await connection.query("LOCK TABLE usage IN EXCLUSIVE MODE", logger: Self.quiet)
            guard try await Self.rollupsMissing(connection) else { return }
            var rollups = Rollups()
            var batch: [UsageRecord] = []
            let rows = try await connection.query(
                """
                SELECT request_id, at_ms, endpoint, tenant_id, key_id, end_user, model, model_version, upstream, prompt_tokens,
                    completion_tokens, estimated, latency_ms, ttft_ms, status, error_code, stream, retrieval_ms, cost_micros
                FROM usage ORDER BY id
                """, logger: Self.quiet)
            for try await row in rows {
                batch.append(try Self.usageRecord(row))
                if batch.count == 10_000 {
                    rollups.accumulate(batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            rollups.accumulate(batch)
            try await Self.applyRollups(connection, rollups)
        }
    }

    /// True when there are usage rows but no roll-ups.
    static func rollupsMissing(_ connection: PostgresConnection) async throws -> Bool {
        try await connection.scalar(
            "SELECT NOT EXISTS (SELECT 1 FROM usage_daily) AND EXISTS (SELECT 1 FROM usage)", as: Bool.self) ?? false
    }

    /// A usage row, selected with the columns in `UsageRecord`'s order.
    static func usageRecord(_ row: PostgresRow) throws -> UsageRecord {
        let (
            requestID, atMs, endpoint, tenantID, keyID, endUser, model, modelVersion, upstream, promptTokens, completionTokens, estimated,
            latencyMs, ttftMs, status, errorCode, stream, retrievalMs, costMicros
        ) = try row.decode(
            (String, Int64, String, String, String, String?, String, Int?, String?, Int, Int, Int, Double, Double?, Int, String?, Int, Double?, Int).self)
        return UsageRecord(
            id: nil, requestID: requestID, atMs: atMs, endpoint: endpoint, tenantID: tenantID, keyID: keyID, endUser: endUser, model: model,
            modelVersion: modelVersion, upstream: upstream, promptTokens: promptTokens, completionTokens: completionTokens, estimated: estimated != 0,
            latencyMs: latencyMs, ttftMs: ttftMs, status: status, errorCode: errorCode, stream: stream != 0, retrievalMs: retrievalMs,
            costMicros: costMicros)
    }
}

/// Roll-up deltas as one array per column, for statements that read them back as rows with `unnest`.
struct RollupColumns {
    var day: [String] = []
    var tenantID: [String] = []
    var model: [String] = []
    var version: [Int] = []
    var keyID: [String] = []
    var endUser: [String] = []
    var requests: [Int] = []
    var errors: [Int] = []
    var promptTokens: [Int] = []
    var completionTokens: [Int] = []
    var costMicros: [Int] = []
    var positive: [Int] = []
    var negative: [Int] = []
    var latency: [ByteBuffer] = []
    var ttft: [ByteBuffer] = []
    var users: [ByteBuffer] = []

    init(_ deltas: [RollupKey: RollupDelta]) {
        for (k, d) in deltas {
            day.append(k.day)
            tenantID.append(k.tenantID)
            model.append(k.model)
            version.append(k.version)
            keyID.append(k.keyID)
            endUser.append(k.endUser ?? "")
            requests.append(d.requests)
            errors.append(d.errors)
            promptTokens.append(d.promptTokens)
            completionTokens.append(d.completionTokens)
            costMicros.append(d.costMicros)
            positive.append(d.positive)
            negative.append(d.negative)
            if k.endUser == nil {
                latency.append(ByteBuffer(bytes: d.latency.encoded))
                ttft.append(ByteBuffer(bytes: d.ttft.encoded))
                users.append(ByteBuffer(bytes: UserSet.encode(d.users)))
            }
        }
    }

    /// The keys as rows `v(day, tenant_id, model, model_version, key_id)`, bound in `sql`.
    func keys(_ sql: inout BoundSQL) -> String {
        """
        unnest(\(sql.bind(day))::text[], \(sql.bind(tenantID))::text[], \(sql.bind(model))::text[], \(sql.bind(version))::bigint[],
            \(sql.bind(keyID))::text[]) AS v(day, tenant_id, model, model_version, key_id)
        """
    }

    /// The keys and the daily deltas as rows `v(day, …, latency_hist, ttft_hist, users)`, bound in `sql`.
    func all(_ sql: inout BoundSQL) -> String {
        """
        unnest(\(sql.bind(day))::text[], \(sql.bind(tenantID))::text[], \(sql.bind(model))::text[], \(sql.bind(version))::bigint[],
            \(sql.bind(keyID))::text[], \(sql.bind(requests))::bigint[], \(sql.bind(errors))::bigint[], \(sql.bind(promptTokens))::bigint[],
            \(sql.bind(completionTokens))::bigint[], \(sql.bind(costMicros))::bigint[], \(sql.bind(positive))::bigint[],
            \(sql.bind(negative))::bigint[], \(sql.bind(latency))::bytea[], \(sql.bind(ttft))::bytea[], \(sql.bind(users))::bytea[])
            AS v(day, tenant_id, model, model_version, key_id, requests, errors, prompt_tokens, completion_tokens, cost_micros, positive,
                negative, latency_hist, ttft_hist, users)
        """
    }
}
