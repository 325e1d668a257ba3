import Foundation
import OpenAIWire
import TrellisCore

// Operations not yet written for PostgreSQL. Each aggregate's file takes its operations out of here.
extension PostgresStore {
    static func pending(_ what: String) -> TrellisError {
        TrellisError(status: 501, type: "server_error", code: "not_implemented", message: "\(what) is not available on PostgreSQL yet.")
    }

    // MARK: CatalogStore
    public func loadSnapshot(now: Date) async throws -> CatalogSnapshot { throw Self.pending("loadSnapshot") }
    public func createTenant(name: String, settings: TenantSettings, actor: String, now: Date) async throws -> Tenant { throw Self.pending("createTenant") }
    public func setTenantSettings(id: String, settings: TenantSettings, actor: String, now: Date) async throws -> Tenant {
        throw Self.pending("setTenantSettings")
    }
    public func tenants() async throws -> [Tenant] { throw Self.pending("tenants") }
    public func createUpstream(_ new: NewUpstream, actor: String, now: Date) async throws -> Upstream { throw Self.pending("createUpstream") }
    public func updateUpstream(name: String, _ new: NewUpstream, actor: String, now: Date) async throws { throw Self.pending("updateUpstream") }
    public func createModel(name: String, tenantID: String?, description: String?, spec: JSONValue, actor: String, now: Date) async throws -> IndustryModel {
        throw Self.pending("createModel")
    }
    public func addModelVersion(modelID: String, spec: JSONValue, actor: String, now: Date) async throws -> Int { throw Self.pending("addModelVersion") }
    public func setModelDescription(modelID: String, description: String?, actor: String, now: Date) async throws { throw Self.pending("setModelDescription") }
    public func setTraffic(modelID: String, traffic: [Int: Int], actor: String, now: Date) async throws { throw Self.pending("setTraffic") }
    public func writePrompt(
        name: String, tenantID: String?, description: String?, definition: JSONValue, labels: [String], actor: String, now: Date
    ) async throws -> PromptWrite { throw Self.pending("writePrompt") }
    public func setPromptLabels(promptID: String, labels: [String: Int?], actor: String, now: Date) async throws -> Prompt {
        throw Self.pending("setPromptLabels")
    }
    public func createAdapter(_ adapter: Adapter, actor: String, now: Date) async throws -> Adapter { throw Self.pending("createAdapter") }
    public func updateAdapter(_ adapter: Adapter, actor: String, now: Date) async throws { throw Self.pending("updateAdapter") }

    // MARK: KeyStore
    public func createKey(_ new: NewKey, actor: String, now: Date) async throws -> (APIKeyInfo, String) { throw Self.pending("createKey") }
    public func keys(tenantID: String) async throws -> [APIKeyInfo] { throw Self.pending("keys") }
    public func key(id: String) async throws -> APIKeyInfo? { throw Self.pending("key") }
    public func revokeKey(id: String, actor: String, now: Date) async throws -> APIKeyInfo { throw Self.pending("revokeKey") }

    // MARK: AuditStore
    public func auditEntries(tenantID: String?, limit: Int, beforeID: Int64?, filter: AuditFilter) async throws -> [AuditEntry] {
        throw Self.pending("auditEntries")
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
