import Foundation
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

/// A knowledge base does not embed its documents (or search queries) through an `external` upstream unless the
/// deployment allows it (`privacy.external_embeddings: mask`), and then only masked.
@Suite struct ExternalEmbeddingsTests {
    static let document = "客户张三的电话是１３８１２３４５６７８，身份证110101 19900307 4514，邮箱alice@example.com。合同第三条约定按月付款。"
    static let forbidden = ["13812345678", "１３８", "110101", "19900307", "4514", "alice", "example.com"]

    /// The texts the upstream was asked to embed, so far.
    static func embedded(_ upstream: MockUpstream) -> [String] {
        upstream.requests.filter { $0.path.hasSuffix("/embeddings") }.flatMap { $0.body["input"]?.arrayValue ?? [] }.compactMap(\.stringValue)
    }

    static func leaks(_ texts: [String]) -> [String] {
        forbidden.filter { value in texts.contains { $0.contains(value) } }
    }

    static func setUp(_ gw: TestGateway, _ upstream: MockUpstream) async throws -> String {
        _ = try await gw.standardSetup(upstream: upstream)
        try await gw.createUpstream("cloud", baseURL: upstream.baseURL, extra: ["labels": ["external"]])
        return try await gw.issueKey(tenant: "acme", ["scopes": ["manage", "inference"]]).key
    }

    /// Runs `body` against a gateway (set up as `TestGateway.run` does) with a started mock upstream and `setUp`
    /// done: the gateway, the upstream and the manage-and-inference key.
    static func withCloudGateway<T>(
        dataDir: String? = nil, configure: (inout TrellisConfig) -> Void = { _ in }, _ body: (TestGateway, MockUpstream, String) async throws -> T
    ) async throws -> T {
        try await withMockUpstream { upstream in
            try await TestGateway.run(dataDir: dataDir, configure: configure) { gw in
                try await body(gw, upstream, try await setUp(gw, upstream))
            }
        }
    }

    static let external: JSONValue = ["upstream": "cloud", "model": "embed-small"]

    @Test("by default a knowledge base cannot be created on an external embedding upstream: 403 naming the field, nothing sent")
    func refusedByDefault() async throws {
        try await Self.withCloudGateway { gw, upstream, _ in
            let refused = try await gw.admin(.POST, "/knowledge-bases", ["name": "contracts", "tenant": "acme", "embedding": Self.external])
            #expect(refused.status == 403, "\(refused.text)")
            #expect(refused.errorCode == "external_embeddings_refused")
            #expect(refused.json["error"]?["type"]?.stringValue == "permission_error")
            #expect(refused.json["error"]?["param"]?.stringValue == "embedding.upstream")
            let local = try await gw.admin(
                .POST, "/knowledge-bases", ["name": "local", "tenant": "acme", "embedding": ["upstream": "mock", "model": "embed-small"]])
            #expect(local.status == 201, "an upstream not labelled external is fine: \(local.text)")
            #expect(Self.embedded(upstream).isEmpty)
        }
    }

    @Test("with mask, chunks and queries are embedded masked while search returns the text as stored; back on refuse, uploads and vector search are refused")
    func maskedThenRefused() async throws {
        let dataDir = TestGateway.makeDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        try await withMockUpstream { upstream in
            try await TestGateway.run(dataDir: dataDir, configure: { $0.externalEmbeddings = .mask }) { gw in
                let key = try await Self.setUp(gw, upstream)
                let created = try await gw.admin(.POST, "/knowledge-bases", ["name": "contracts", "tenant": "acme", "embedding": Self.external])
                #expect(created.status == 201, "\(created.text)")
                let uploaded = try await gw.request(
                    .POST, "/admin/v1/knowledge-bases/contracts/documents", key: key, json: ["title": "合同", "text": .string(Self.document)])
                #expect(uploaded.status == 201, "\(uploaded.text)")
                let search = try await gw.request(
                    .POST, "/v1/knowledge-bases/contracts/search", key: key, json: ["query": "电话13812345678的合同付款", "mode": "vector"])
                #expect(search.status == 200, "\(search.text)")
                let embedded = Self.embedded(upstream)
                #expect(embedded.count == 2, "one chunk and one query")
                #expect(Self.leaks(embedded).isEmpty, "sent for embedding: \(embedded)")
                #expect(embedded.allSatisfy { $0.contains("[PHONE_1]") })
                let hit = search.json["data"]?.arrayValue?.first?["text"]?.stringValue
                #expect(hit?.contains("１３８１２３４５６７８") == true, "the stored chunk is the document as uploaded")
            }
            try await TestGateway.run(dataDir: dataDir) { gw in
                let key = try await gw.issueKey(tenant: "acme", ["scopes": ["manage", "inference"]]).key
                let before = Self.embedded(upstream).count
                let upload = try await gw.request(
                    .POST, "/admin/v1/knowledge-bases/contracts/documents", key: key, json: ["title": "另一份", "text": "电话13912345678"])
                #expect(upload.status == 403 && upload.errorCode == "external_embeddings_refused", "\(upload.text)")
                let vector = try await gw.request(.POST, "/v1/knowledge-bases/contracts/search", key: key, json: ["query": "付款", "mode": "vector"])
                #expect(vector.status == 403 && vector.errorCode == "external_embeddings_refused", "\(vector.text)")
                let hybrid = try await gw.request(.POST, "/v1/knowledge-bases/contracts/search", key: key, json: ["query": "付款"])
                #expect(hybrid.status == 200 && hybrid.json["mode"] == "keyword", "hybrid answers from the keyword index: \(hybrid.text)")
                #expect(Self.embedded(upstream).count == before, "nothing more was sent")
            }
        }
    }

    @Test("/v1/embeddings for a model on an external upstream sends its input and user masked")
    func clientEmbeddingsMasked() async throws {
        try await Self.withCloudGateway { gw, upstream, key in
            try await gw.createModel("outside-embed", spec: ["upstream": "cloud", "model": "embed-small"])
            let reply = try await gw.request(
                .POST, "/v1/embeddings", key: key,
                json: ["model": "outside-embed", "input": ["电话１３８１２３４５６７８", "身份证110101 19900307 4514"], "user": "alice@example.com"])
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json["data"]?.arrayValue?.count == 2)
            let sent = try #require(upstream.requests.last(where: { $0.path.hasSuffix("/embeddings") })?.body)
            #expect(sent["input"] == ["电话[PHONE_1]", "身份证[ID_CARD_1]"])
            #expect(sent["user"] == "[EMAIL_1]")
            let local = try await gw.request(.POST, "/v1/embeddings", key: key, json: ["model": "echo", "input": "电话13812345678"])
            #expect(local.status == 200)
            #expect(upstream.requests.last?.body["input"] == "电话13812345678", "an upstream not labelled external gets the text as it is")
            await gw.flushUsage()
            #expect(try await gw.gateway.store.usageEvents().compactMap(\.endUser) == ["alice@example.com"], "the gateway records the caller's own user")
        }
    }
}
