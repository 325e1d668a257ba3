import Foundation
import GRDB
import OpenAIWire
import TrellisCore

/// Feedback and captured interactions.
extension SQLiteStore {
    /// Records a rating (and an optional comment and expert correction). A later rating of the same request
    /// replaces the earlier one in the counts.
    public func insertFeedback(
        requestID: String, owner: UsageOwner, keyID: String, rating: Int, comment: String?, correction: String?, now: Date
    ) async throws -> Int64 {
        try await pool.write { db in
            let previous = try Int.fetchOne(db, sql: "SELECT rating FROM feedback WHERE request_id = ? ORDER BY id DESC LIMIT 1", arguments: [requestID])
            try db.execute(
                sql: """
                    INSERT INTO feedback(request_id, tenant_id, key_id, model, model_version, rating, comment, correction, at_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [requestID, owner.tenantID, keyID, owner.model, owner.modelVersion, rating, comment, correction, now.unixMilliseconds])
            let id = db.lastInsertedRowID
            let day = UsageQuery.day(ms: owner.atMs)
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
        now: Date
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
    public func purgeInteractions(now: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM interactions WHERE expires_at_ms < ?", arguments: [now.unixMilliseconds])
            return db.changesCount
        }
    }

    /// Captured interactions with their latest feedback, for dataset export.
    public func ratedInteractions(tenantID: String?, model: String?, afterRequestID: String?, limit: Int) async throws -> [RatedInteraction] {
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
                    SELECT i.request_id, i.model, i.messages, i.answer, f.rating, f.correction, i.at_ms
                    FROM interactions i JOIN feedback f ON f.request_id = i.request_id
                    WHERE \(conditions.joined(separator: " AND ")) ORDER BY i.request_id LIMIT ?
                    """, arguments: StatementArguments(arguments))
            return rows.map { row in
                var rated = RatedInteraction(
                    requestID: row["request_id"], model: row["model"], messages: (try? JSONParser.parse(row["messages"] as String)) ?? .array([]),
                    answer: row["answer"], rating: row["rating"], correction: row["correction"])
                rated.atMs = row["at_ms"]
                return rated
            }
        }
    }
}

extension SQLiteStore {
    public func feedbackSummary(tenantID: String?, fromMs: Int64, toMs: Int64) async throws -> [FeedbackCount] {
        let sql = FeedbackCount.select(tenantCondition: tenantID == nil ? "1 = 1" : "f.tenant_id = ?", from: "?", to: "?")
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let tenantID { arguments.append(tenantID) }
        arguments += [fromMs, toMs]
        let bound = StatementArguments(arguments)
        return try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).map {
                FeedbackCount(model: $0[0], version: $0[1], rated: $0[2], positive: $0[3], negative: $0[4], corrections: $0[5])
            }
        }
    }
}
