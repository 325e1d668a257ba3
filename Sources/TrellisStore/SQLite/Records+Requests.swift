import GRDB

// The filters and orders used more than once, as requests of their records (GRDB's recommended practice).

extension DerivableRequest<TenantRecord> {
    func named(_ name: String) -> Self { filter(TenantRecord.Columns.name == name) }
}

extension DerivableRequest<UpstreamRecord> {
    func named(_ name: String) -> Self { filter(UpstreamRecord.Columns.name == name) }
}

extension DerivableRequest<APIKeyRecord> {
    func forTenant(_ tenantID: String) -> Self { filter(APIKeyRecord.Columns.tenantID == tenantID) }
    func notRevoked() -> Self { filter(APIKeyRecord.Columns.revokedAt == nil) }
    func inCreationOrder() -> Self { order(APIKeyRecord.Columns.createdAt, APIKeyRecord.Columns.id) }
}

extension DerivableRequest<ModelVersionRecord> {
    func byVersion() -> Self { order(ModelVersionRecord.Columns.version) }
}

extension DerivableRequest<PromptRecord> {
    /// The prompt of this name in a tenant's namespace, or among the shared ones when `tenantID` is nil.
    func named(_ name: String, tenantID: String?) -> Self {
        filter(PromptRecord.Columns.name == name && PromptRecord.Columns.tenantID == tenantID)
    }
}

extension DerivableRequest<PromptVersionRecord> {
    func ofPrompt(_ promptID: String) -> Self { filter(PromptVersionRecord.Columns.promptID == promptID) }
    func byVersion() -> Self { order(PromptVersionRecord.Columns.version) }
    func latestFirst() -> Self { order(PromptVersionRecord.Columns.version.desc) }
}

extension DerivableRequest<AuditRecord> {
    func forTenant(_ tenantID: String) -> Self { filter(AuditRecord.Columns.tenantID == tenantID) }
    func newestFirst() -> Self { order(AuditRecord.Columns.id.desc) }
}

extension DerivableRequest<KnowledgeBaseRecord> {
    func named(_ name: String, tenantID: String) -> Self {
        filter(KnowledgeBaseRecord.Columns.tenantID == tenantID && KnowledgeBaseRecord.Columns.name == name)
    }
    func byName() -> Self { order(KnowledgeBaseRecord.Columns.name) }
}

extension DerivableRequest<DocumentRecord> {
    func inKnowledgeBase(_ knowledgeBaseID: String) -> Self { filter(DocumentRecord.Columns.kbID == knowledgeBaseID) }
    func withContent(sha256: String) -> Self { filter(DocumentRecord.Columns.sha256 == sha256) }
    func withID(_ id: String) -> Self { filter(DocumentRecord.Columns.id == id) }
}

extension DerivableRequest<ChunkRecord> {
    func inKnowledgeBase(_ knowledgeBaseID: String) -> Self { filter(ChunkRecord.Columns.kbID == knowledgeBaseID) }
}
