import Foundation
import OpenAIWire
import TrellisCore
import TrellisStore

/// A real store whose usage writes go through `beforeInsert` first: it may throw (the store refuses the batch,
/// or is away) or do something while the batch is on its way (rows arriving meanwhile). Everything else is the
/// inner store's, except that an interaction's write awaits `beforeInteraction` first (a write held on its way), and
/// `afterInsert` runs once a usage batch is written.
final class HookedUsageStore: UsageStore, FlywheelStore, Sendable {
    let inner: any TrellisStoreEngine
    let beforeInsert: @Sendable ([UsageEvent]) throws -> Void
    let beforeInteraction: @Sendable () async -> Void
    let afterInsert: @Sendable () -> Void

    init(
        _ inner: any TrellisStoreEngine, beforeInteraction: @escaping @Sendable () async -> Void = {},
        afterInsert: @escaping @Sendable () -> Void = {}, beforeInsert: @escaping @Sendable ([UsageEvent]) throws -> Void
    ) {
        self.inner = inner
        self.beforeInsert = beforeInsert
        self.beforeInteraction = beforeInteraction
        self.afterInsert = afterInsert
    }

    func insertUsage(_ events: [UsageEvent]) async throws {
        try beforeInsert(events)
        try await inner.insertUsage(events)
        afterInsert()
    }
    func tokensThisMonth(_ month: String) async throws -> [String: Int] { try await inner.tokensThisMonth(month) }
    func usageReport(_ query: UsageQuery) async throws -> [UsageRow] { try await inner.usageReport(query) }
    func usageOwner(requestID: String) async throws -> UsageOwner? { try await inner.usageOwner(requestID: requestID) }
    func insertFeedback(
        requestID: String, owner: UsageOwner, keyID: String, rating: Int, comment: String?, correction: String?, now: Date
    ) async throws -> Int64 {
        try await inner.insertFeedback(requestID: requestID, owner: owner, keyID: keyID, rating: rating, comment: comment, correction: correction, now: now)
    }
    func insertInteraction(
        requestID: String, tenantID: String, model: String, modelVersion: Int?, messages: JSONValue, answer: String, retentionDays: Int, now: Date
    ) async throws {
        await beforeInteraction()
        try await inner.insertInteraction(
            requestID: requestID, tenantID: tenantID, model: model, modelVersion: modelVersion, messages: messages, answer: answer,
            retentionDays: retentionDays, now: now)
    }
    func purgeInteractions(now: Date) async throws -> Int { try await inner.purgeInteractions(now: now) }
    func ratedInteractions(tenantID: String?, model: String?, afterRequestID: String?, limit: Int) async throws -> [RatedInteraction] {
        try await inner.ratedInteractions(tenantID: tenantID, model: model, afterRequestID: afterRequestID, limit: limit)
    }

    func feedbackSummary(tenantID: String?, fromMs: Int64, toMs: Int64) async throws -> [FeedbackCount] {
        try await inner.feedbackSummary(tenantID: tenantID, fromMs: fromMs, toMs: toMs)
    }
}
