import Foundation
import GRDB
import OpenAIWire
import Testing
import TrellisCore
import TrellisStoreTestSupport

@testable import TrellisStore

@Suite("SQLite records: snake_case columns by the column coding strategies")
struct RecordColumnTests {
    @Test func propertyNamesAndColumnsConvertBothWays() {
        let pairs = [
            ("id", "id"), ("tenantID", "tenant_id"), ("baseURL", "base_url"), ("apiKeyEnv", "api_key_env"), ("atMs", "at_ms"), ("kbID", "kb_id"),
            ("sha256", "sha256"), ("loraID", "lora_id"), ("modelVersion", "model_version"), ("ttftMs", "ttft_ms"), ("requestID", "request_id"),
        ]
        for (key, column) in pairs {
            #expect(SnakeCase.column(forKey: key) == column)
            #expect(SnakeCase.key(forColumn: column).stringValue == key)
            #expect(Column(snakeCase: SnakeCase.Key(key)).name == column)
        }
    }

    /// Why decoding does not use GRDB's `.convertFromSnakeCase`: it turns `tenant_id` into `tenantId`, so a
    /// property named `tenantID` is not found. Should GRDB learn acronyms, this fails and the custom
    /// strategy can go.
    @Test func grdbsOwnSnakeCaseDecodingMissesAcronyms() throws {
        struct Probe: Decodable, FetchableRecord {
            static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
            var tenantID: String
        }
        struct Ours: Decodable, FetchableRecord {
            static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.custom(SnakeCase.key(forColumn:))
            var tenantID: String
        }
        let row: Row = ["tenant_id": "tnt_1"]
        #expect(throws: (any Error).self) { try Probe(row: row) }
        #expect(try Ours(row: row).tenantID == "tnt_1")
    }

    /// Every table written through the store, read back row by row into its record and encoded again: the
    /// record's columns are the table's, and nothing is lost or renamed on the way.
    @Test func everyRecordDecodesAndEncodesItsTableRowUnchanged() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        let store = temp.store
        let tenant = try await store.createTenant(name: "acme", actor: "test")
        _ = try await store.createKey(Fixtures.newKey(tenantID: tenant.id), actor: "test")
        _ = try await store.createUpstream(
            NewUpstream(name: "local", baseURL: "http://127.0.0.1:8081/v1", kind: .llamacpp, labels: [.private], apiKeyEnv: "K", timeouts: .default),
            actor: "test")
        _ = try await store.createModel(name: "claims", tenantID: tenant.id, description: "d", spec: Fixtures.spec, actor: "test")
        _ = try await store.writePrompt(
            name: "greet", tenantID: nil, description: nil, definition: ["messages": [["role": "system", "content": "hi"]]], labels: ["prod"],
            actor: "test")
        _ = try await store.createAdapter(
            Adapter(
                id: "", name: "lora", tenantID: tenant.id, upstream: "local", baseModel: "base", serving: .loraID(3, scale: 0.5), method: .lora,
                dataset: nil, evaluation: nil, description: nil, createdAt: Date()), actor: "test")
        let kb = try await store.createKnowledgeBase(
            name: "kb", tenantID: tenant.id, description: nil, embedding: .init(upstream: "local", model: "e"), chunkSize: 256, chunkOverlap: 32,
            actor: "test")
        _ = try await store.insertDocument(
            knowledgeBase: kb, title: "T", contentType: "text/plain", sha256: "s", bytes: 3, metadata: "{}",
            chunks: [NewChunk(position: 0, heading: "h", text: "hail", terms: ["hail"], embedding: [0.5, 0.25])], actor: "test")
        try await store.insertUsage([
            UsageEvent(
                requestID: "req_1", at: Date(), endpoint: "chat", tenantID: tenant.id, keyID: "key_1", endUser: "u", model: "claims", modelVersion: 1,
                upstream: "local", promptTokens: 1, completionTokens: 2, estimated: false, latencyMs: 3, ttftMs: 1, status: 200, errorCode: nil,
                stream: true, retrievalMs: 0.5)
        ])

        let sqlite = try #require(store as? SQLiteStore)
        try await sqlite.pool.read { db in
            try Self.check(TenantRecord.self, db)
            try Self.check(APIKeyRecord.self, db)
            try Self.check(UpstreamRecord.self, db)
            try Self.check(ModelRecord.self, db)
            try Self.check(ModelVersionRecord.self, db)
            try Self.check(PromptRecord.self, db)
            try Self.check(PromptVersionRecord.self, db)
            try Self.check(AdapterRecord.self, db)
            try Self.check(KnowledgeBaseRecord.self, db)
            try Self.check(DocumentRecord.self, db)
            try Self.check(ChunkRecord.self, db)
            try Self.check(UsageRecord.self, db)
            try Self.check(AuditRecord.self, db)
        }
    }

    static func check<R: SnakeCaseRecord & TableRecord>(_ type: R.Type, _ db: Database) throws {
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM \(R.databaseTableName)")
        #expect(!rows.isEmpty, "\(R.databaseTableName) has rows")
        for row in rows {
            let encoded = try R(row: row).databaseDictionary
            #expect(Set(encoded.keys) == Set(row.columnNames), "\(R.databaseTableName): the record's columns are the table's")
            for column in row.columnNames {
                #expect(encoded[column] == row[column] as DatabaseValue, "\(R.databaseTableName).\(column) survives the round trip")
            }
        }
    }
}
