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

    // MARK: KnowledgeStore
    public func createKnowledgeBase(
        name: String, tenantID: String, description: String?, embedding: KnowledgeBase.Embedding?, chunkSize: Int, chunkOverlap: Int, actor: String, now: Date
    ) async throws -> KnowledgeBase { throw Self.pending("createKnowledgeBase") }
    public func setKnowledgeBaseDescription(id: String, description: String?, actor: String, now: Date) async throws {
        throw Self.pending("setKnowledgeBaseDescription")
    }
    public func knowledgeGeneration() async throws -> Int64 { throw Self.pending("knowledgeGeneration") }
    public func document(sha256: String, knowledgeBaseID: String) async throws -> DocumentInfo? { throw Self.pending("document") }
    public func document(id: String, knowledgeBaseID: String) async throws -> DocumentInfo? { throw Self.pending("document") }
    public func documents(knowledgeBaseID: String, limit: Int, afterID: String?) async throws -> [DocumentInfo] { throw Self.pending("documents") }
    public func insertDocument(
        knowledgeBase: KnowledgeBase, title: String, contentType: String, sha256: String, bytes: Int, metadata: String?, chunks: [NewChunk], actor: String,
        now: Date
    ) async throws -> DocumentWrite { throw Self.pending("insertDocument") }
    public func deleteDocument(id: String, knowledgeBase: KnowledgeBase, actor: String, now: Date) async throws -> (chunkIDs: [Int64], generation: Int64) {
        throw Self.pending("deleteDocument")
    }
    public func chunks(ids: [Int64]) async throws -> [RetrievedChunk] { throw Self.pending("chunks") }
    public func chunkCount(knowledgeBaseID: String) async throws -> Int { throw Self.pending("chunkCount") }
    public func indexSnapshot(knowledgeBases: [KnowledgeBase]) async throws -> IndexSnapshot { throw Self.pending("indexSnapshot") }
}
