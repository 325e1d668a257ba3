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
