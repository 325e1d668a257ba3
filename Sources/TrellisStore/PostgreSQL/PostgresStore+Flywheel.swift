import Foundation
import OpenAIWire
import PostgresNIO
import TrellisCore

/// Feedback and captured interactions.
extension PostgresStore {
    /// The class of the advisory locks that serialise ratings of one request (`pg_advisory_xact_lock(class,
    /// hashtext(request_id))`): "fdbk".
    static let feedbackLockClass: Int32 = 0x6664_626B

    /// Records a rating (and an optional comment and expert correction). A later rating of the same request
    /// replaces the earlier one in the counts; ratings of one request are taken one at a time (an advisory lock
    /// on it), so two gateways rating it at once still count it once.
    public func insertFeedback(
        requestID: String, owner: UsageOwner, keyID: String, rating: Int, comment: String?, correction: String?, now: Date
    ) async throws -> Int64 {
        try await write { connection in
            _ = try await connection.query(
                "SELECT pg_advisory_xact_lock(\(Self.feedbackLockClass), hashtext(\(requestID)))", logger: Self.quiet
            ).collect()
            let previous = try await connection.scalar(
                "SELECT rating FROM feedback WHERE request_id = \(requestID) ORDER BY id DESC LIMIT 1", as: Int.self)
            let inserted = try await connection.scalar(
                """
                INSERT INTO feedback(request_id, tenant_id, key_id, model, model_version, rating, comment, correction, at_ms)
                VALUES (\(requestID), \(owner.tenantID), \(keyID), \(owner.model), \(owner.modelVersion), \(rating), \(comment), \(correction),
                    \(now.unixMilliseconds))
                RETURNING id
                """, as: Int64.self)
            guard let id = inserted else {
                throw TrellisError(status: 500, type: "server_error", code: "internal_error", message: "The feedback was not stored.")
            }
            let day = UsageQuery.day(ms: owner.atMs)
            let version = owner.modelVersion ?? -1
            var pos = rating > 0 ? 1 : 0
            var neg = rating < 0 ? 1 : 0
            if let previous {
                if previous > 0 { pos -= 1 }
                if previous < 0 { neg -= 1 }
            }
            guard pos != 0 || neg != 0 else { return id }
            try await connection.query(
                """
                UPDATE usage_daily SET positive = positive + \(pos), negative = negative + \(neg)
                WHERE day = \(day) AND tenant_id = \(owner.tenantID) AND model = \(owner.model) AND model_version = \(version) AND key_id = \(owner.keyID)
                """, logger: Self.quiet)
            try await connection.query(
                """
                UPDATE usage_daily_models SET positive = positive + \(pos), negative = negative + \(neg)
                WHERE day = \(day) AND tenant_id = \(owner.tenantID) AND model = \(owner.model) AND model_version = \(version)
                """, logger: Self.quiet)
            if let user = owner.endUser, !user.isEmpty {
                try await connection.query(
                    """
                    UPDATE usage_daily_users SET positive = positive + \(pos), negative = negative + \(neg)
                    WHERE day = \(day) AND tenant_id = \(owner.tenantID) AND model = \(owner.model) AND model_version = \(version)
                        AND key_id = \(owner.keyID) AND end_user = \(user)
                    """, logger: Self.quiet)
            }
            return id
        }
    }

    // MARK: Interactions (the flywheel)

    /// Keeps an interaction for `retentionDays`; the same request id again replaces it.
    public func insertInteraction(
        requestID: String, tenantID: String, model: String, modelVersion: Int?, messages: JSONValue, answer: String, retentionDays: Int,
        now: Date
    ) async throws {
        let at = now.unixMilliseconds
        let expires = at + Int64(retentionDays) * 86_400_000
        try await write { connection in
            _ = try await connection.query(
                """
                INSERT INTO interactions(request_id, tenant_id, model, model_version, at_ms, messages, answer, expires_at_ms)
                VALUES (\(requestID), \(tenantID), \(model), \(modelVersion), \(at), \(JSONWriter.string(messages)), \(answer), \(expires))
                ON CONFLICT (request_id) DO UPDATE SET tenant_id = excluded.tenant_id, model = excluded.model,
                    model_version = excluded.model_version, at_ms = excluded.at_ms, messages = excluded.messages, answer = excluded.answer,
                    expires_at_ms = excluded.expires_at_ms
                """, logger: Self.quiet)
        }
    }

    /// Deletes captured interactions past their retention; returns how many.
    public func purgeInteractions(now: Date) async throws -> Int {
        try await write { connection in
            try await connection.scalar(
                """
                WITH gone AS (DELETE FROM interactions WHERE expires_at_ms < \(now.unixMilliseconds) RETURNING 1) SELECT COUNT(*) FROM gone
                """, as: Int.self) ?? 0
        }
    }

    /// Captured interactions with their latest feedback, for dataset export, by request id (compared byte by
    /// byte, as SQLite does, whatever the database's collation).
    public func ratedInteractions(tenantID: String?, model: String?, afterRequestID: String?, limit: Int) async throws -> [RatedInteraction] {
        var sql = BoundSQL()
        var conditions = ["f.id = (SELECT MAX(id) FROM feedback WHERE request_id = i.request_id)"]
        if let tenantID { conditions.append("i.tenant_id = " + sql.bind(tenantID)) }
        if let model { conditions.append("i.model = " + sql.bind(model)) }
        if let afterRequestID { conditions.append("i.request_id COLLATE \"C\" > " + sql.bind(afterRequestID)) }
        let limitPlaceholder = sql.bind(limit)
        let statement = sql.query(
            """
            SELECT i.request_id, i.model, i.messages, i.answer, f.rating, f.correction, i.at_ms
            FROM interactions i JOIN feedback f ON f.request_id = i.request_id
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY i.request_id COLLATE "C" LIMIT \(limitPlaceholder)
            """)
        return try await read { connection in
            var out: [RatedInteraction] = []
            let rows = try await connection.query(statement, logger: Self.quiet)
            for try await (requestID, model, messages, answer, rating, correction, atMs) in rows.decode(
                (String, String, String, String, Int, String?, Int64).self)
            {
                var rated = RatedInteraction(
                    requestID: requestID, model: model, messages: (try? JSONParser.parse(messages)) ?? .array([]), answer: answer, rating: rating,
                    correction: correction)
                rated.atMs = atMs
                out.append(rated)
            }
            return out
        }
    }
}

extension PostgresStore {
    public func feedbackSummary(tenantID: String?, fromMs: Int64, toMs: Int64) async throws -> [FeedbackCount] {
        var sql = BoundSQL()
        let tenant = tenantID.map { "f.tenant_id = \(sql.bind($0))" } ?? "TRUE"
        let from = sql.bind(fromMs)
        let to = sql.bind(toMs)
        let statement = sql.query(FeedbackCount.select(tenantCondition: tenant, from: from, to: to))
        return try await read { connection in
            var out: [FeedbackCount] = []
            let rows = try await connection.query(statement, logger: Self.quiet)
            for try await (model, version, rated, positive, negative, corrections) in rows.decode((String, Int?, Int, Int, Int, Int).self) {
                out.append(FeedbackCount(model: model, version: version, rated: rated, positive: positive, negative: negative, corrections: corrections))
            }
            return out
        }
    }
}
