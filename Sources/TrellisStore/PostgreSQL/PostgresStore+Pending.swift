import Foundation
import OpenAIWire
import TrellisCore

// Operations not yet written for PostgreSQL. Each aggregate's file takes its operations out of here.
extension PostgresStore {
    static func pending(_ what: String) -> TrellisError {
        TrellisError(status: 501, type: "server_error", code: "not_implemented", message: "\(what) is not available on PostgreSQL yet.")
    }

    // MARK: UsageStore
    public func insertUsage(_ events: [UsageEvent]) async throws { throw Self.pending("insertUsage") }
    public func tokensThisMonth(_ month: String) async throws -> [String: Int] { throw Self.pending("tokensThisMonth") }
    public func usageReport(_ query: UsageQuery) async throws -> [UsageRow] { throw Self.pending("usageReport") }
    public func usageOwner(requestID: String) async throws -> UsageOwner? { throw Self.pending("usageOwner") }
    public func rebuildRollupsIfNeeded() async throws { throw Self.pending("rebuildRollupsIfNeeded") }

    // MARK: FlywheelStore
    public func insertFeedback(
        requestID: String, owner: UsageOwner, keyID: String, rating: Int, comment: String?, correction: String?, now: Date
    ) async throws -> Int64 { throw Self.pending("insertFeedback") }
    public func insertInteraction(
        requestID: String, tenantID: String, model: String, modelVersion: Int?, messages: JSONValue, answer: String, retentionDays: Int, now: Date
    ) async throws { throw Self.pending("insertInteraction") }
    public func purgeInteractions(now: Date) async throws -> Int { throw Self.pending("purgeInteractions") }
    public func ratedInteractions(tenantID: String?, model: String?, afterRequestID: String?, limit: Int) async throws -> [RatedInteraction] {
        throw Self.pending("ratedInteractions")
    }
}
