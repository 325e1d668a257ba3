import Foundation
import GRDB
import OpenAIWire
import TrellisCore

/// The daily roll-ups (`usage_daily`, `usage_daily_models`, `usage_daily_users`), kept in the transaction that
/// writes the usage rows; the deltas are computed by `Rollups` (Usage/Rollups.swift).
extension SQLiteStore {
    /// Writes a batch's roll-up deltas (`Rollups`) in the caller's transaction.
    static func applyRollups(_ db: Database, _ rollups: Rollups) throws {
        try upsertDaily(db, table: "usage_daily", withKey: true, rollups.daily)
        try upsertDaily(db, table: "usage_daily_models", withKey: false, rollups.byModel)
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
        for (k, d) in rollups.users {
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
            let rollupRows = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM usage_daily") ?? 0
            let usage = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM usage") ?? 0
            guard rollupRows == 0, usage > 0 else { return }
            var rollups = Rollups()
            let cursor = try UsageRecord.fetchCursor(db)
            var batch: [UsageRecord] = []
            while let row = try cursor.next() {
                batch.append(row)
                if batch.count == 10_000 {
                    rollups.accumulate(batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            rollups.accumulate(batch)
            try Self.applyRollups(db, rollups)
        }
    }

}
