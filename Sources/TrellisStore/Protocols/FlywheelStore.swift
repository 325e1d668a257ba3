import Foundation
import OpenAIWire

/// The data flywheel: feedback on answers, captured interactions (kept for their retention), and what dataset
/// export reads.
public protocol FlywheelStore: Sendable {
    /// Records a rating (and an optional comment and correction) and counts it in the usage roll-ups; a later
    /// rating of the same request replaces the earlier one in the counts. Returns the feedback's id.
    func insertFeedback(
        requestID: String, owner: UsageOwner, keyID: String, rating: Int, comment: String?, correction: String?, now: Date
    ) async throws -> Int64
    /// Keeps an interaction for `retentionDays`; the same request id again replaces it.
    func insertInteraction(
        requestID: String, tenantID: String, model: String, modelVersion: Int?, messages: JSONValue, answer: String, retentionDays: Int, now: Date
    ) async throws
    /// Deletes captured interactions past their retention; returns how many.
    func purgeInteractions(now: Date) async throws -> Int
    /// Captured interactions with their latest feedback, by request id after `afterRequestID`.
    func ratedInteractions(tenantID: String?, model: String?, afterRequestID: String?, limit: Int) async throws -> [RatedInteraction]
    /// Per model version, the requests rated in `[fromMs, toMs)` (each by its latest rating): how many, how many
    /// positively and negatively, and how many with a correction.
    func feedbackSummary(tenantID: String?, fromMs: Int64, toMs: Int64) async throws -> [FeedbackCount]
}

/// Ratings of one model version's requests (each request by its latest rating).
public struct FeedbackCount: Sendable, Equatable {
    public var model: String
    public var version: Int?
    public var rated: Int
    public var positive: Int
    public var negative: Int
    public var corrections: Int

    public init(model: String, version: Int?, rated: Int, positive: Int, negative: Int, corrections: Int) {
        self.model = model
        self.version = version
        self.rated = rated
        self.positive = positive
        self.negative = negative
        self.corrections = corrections
    }

    /// The query both engines run, with `?`-style placeholders named by the caller: tenant (when given), from, to.
    static func select(tenantCondition: String, from: String, to: String) -> String {
        """
        SELECT f.model, f.model_version, COUNT(*),
            SUM(CASE WHEN f.rating > 0 THEN 1 ELSE 0 END), SUM(CASE WHEN f.rating < 0 THEN 1 ELSE 0 END),
            SUM(CASE WHEN f.correction IS NOT NULL AND f.correction <> '' THEN 1 ELSE 0 END)
        FROM feedback f
        WHERE f.id = (SELECT MAX(g.id) FROM feedback g WHERE g.request_id = f.request_id)
            AND \(tenantCondition) AND f.at_ms >= \(from) AND f.at_ms < \(to)
        GROUP BY f.model, f.model_version ORDER BY f.model, f.model_version
        """
    }
}

extension FlywheelStore {
    public func insertFeedback(
        requestID: String, owner: UsageOwner, keyID: String, rating: Int, comment: String?, correction: String?
    ) async throws -> Int64 {
        try await insertFeedback(requestID: requestID, owner: owner, keyID: keyID, rating: rating, comment: comment, correction: correction, now: Date())
    }

    public func insertInteraction(
        requestID: String, tenantID: String, model: String, modelVersion: Int?, messages: JSONValue, answer: String, retentionDays: Int
    ) async throws {
        try await insertInteraction(
            requestID: requestID, tenantID: tenantID, model: model, modelVersion: modelVersion, messages: messages, answer: answer,
            retentionDays: retentionDays, now: Date())
    }

    public func purgeInteractions() async throws -> Int {
        try await purgeInteractions(now: Date())
    }

    public func ratedInteractions(tenantID: String?, model: String?, afterRequestID: String? = nil, limit: Int = 1000) async throws -> [RatedInteraction] {
        try await ratedInteractions(tenantID: tenantID, model: model, afterRequestID: afterRequestID, limit: limit)
    }
}
