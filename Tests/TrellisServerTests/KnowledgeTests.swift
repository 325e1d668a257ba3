import Foundation
import NIOHTTP1
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

/// Knowledge bases end to end: upload in every format, keyword search that works for Chinese, vector and
/// hybrid search against the mock's bigram embeddings, deletion and restart, tenant isolation, RAG models with
/// citations, and the size and type limits.
@Suite struct KnowledgeTests {
    static let embedding: JSONValue = ["upstream": "mock", "model": "embed-small"]

    /// No background catalog refresh during the test: it would rebuild the vector indexes from the store and
    /// hide what the in-memory index itself does.
    static func noRefresh(_ config: inout TrellisConfig) { config.catalogRefreshIntervalMs = 3_600_000 }

    struct Keys {
        var manage: String
        var inference: String
    }

    /// Tenant `acme` with a manage key and an inference key, the mock upstream as `mock`, and the plain model
    /// `echo`.
    func setUp(_ gw: TestGateway, _ upstream: MockUpstream) async throws -> Keys {
        let inference = try await gw.standardSetup(upstream: upstream)
        let manage = try await gw.issueKey(tenant: "acme", ["scopes": ["manage"]]).key
        return Keys(manage: manage, inference: inference)
    }

    /// Runs `body` against a gateway (set up as `TestGateway.run` does) with a started mock upstream and `setUp`
    /// done: the gateway, the upstream and acme's keys.
    func withKnowledgeGateway<T>(
        dataDir: String? = nil, configure: (inout TrellisConfig) -> Void = { _ in }, _ body: (TestGateway, MockUpstream, Keys) async throws -> T
    ) async throws -> T {
        try await withMockUpstream { upstream in
            try await TestGateway.run(dataDir: dataDir, configure: configure) { gw in
                try await body(gw, upstream, try await setUp(gw, upstream))
            }
        }
    }

    func createKB(_ gw: TestGateway, _ name: String, tenant: String = "acme", embedding: Bool = true, extra: JSONObject = [:]) async throws {
        var body: JSONObject = ["name": .string(name), "tenant": .string(tenant)]
        if embedding { body["embedding"] = Self.embedding }
        for m in extra { body[m.key] = m.value }
        let reply = try await gw.admin(.POST, "/knowledge-bases", .object(body))
        try #require(reply.status == 201, "create knowledge base: \(reply.text)")
    }

    static func encoded(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")) ?? s
    }

    func uploadRaw(
        _ gw: TestGateway, kb: String, key: String, title: String?, type: String, _ body: [UInt8], query: String = ""
    ) async throws
        -> TestGateway.Reply
    {
        var path = "/admin/v1/knowledge-bases/\(kb)/documents"
        var parameters: [String] = []
        if let title { parameters.append("title=" + Self.encoded(title)) }
        if !query.isEmpty { parameters.append(query) }
        if !parameters.isEmpty { path += "?" + parameters.joined(separator: "&") }
        return try await gw.request(.POST, path, key: key, rawBody: body, headers: [("Content-Type", type)])
    }

    func uploadRaw(_ gw: TestGateway, kb: String, key: String, title: String?, type: String, _ text: String) async throws -> TestGateway.Reply {
        try await uploadRaw(gw, kb: kb, key: key, title: title, type: type, Array(text.utf8))
    }

    func uploadJSON(_ gw: TestGateway, kb: String, key: String, _ body: JSONObject) async throws -> TestGateway.Reply {
        try await gw.request(.POST, "/admin/v1/knowledge-bases/\(kb)/documents", key: key, json: .object(body))
    }

    func search(_ gw: TestGateway, kb: String, key: String, _ query: String, mode: String? = nil, topK: Int? = nil) async throws -> TestGateway.Reply {
        var body: JSONObject = ["query": .string(query)]
        if let mode { body["mode"] = .string(mode) }
        if let topK { body["top_k"] = .int(topK) }
        return try await gw.request(.POST, "/v1/knowledge-bases/\(kb)/search", key: key, json: .object(body))
    }

    func hits(_ reply: TestGateway.Reply) -> [JSONValue] { reply.json["data"]?.arrayValue ?? [] }
    func documents(_ reply: TestGateway.Reply) -> [String] { hits(reply).compactMap { $0["document_id"]?.stringValue } }
    func chunkIDs(_ reply: TestGateway.Reply) -> [Int] { hits(reply).compactMap { $0["chunk_id"]?.numberValue?.intValue } }
    func score(_ hit: JSONValue) -> Double { hit["score"]?.numberValue?.doubleValue ?? .nan }

    func kbInfo(_ gw: TestGateway, _ kb: String, key: String) async throws -> JSONValue {
        let reply = try await gw.request(.GET, "/admin/v1/knowledge-bases/\(kb)", key: key)
        try #require(reply.status == 200, "\(reply.text)")
        return reply.json
    }

    func int(_ v: JSONValue?) -> Int? { v?.numberValue?.intValue }

    // MARK: The corpus

    struct Corpus {
        var carClaims = ""  // 车险理赔指南 (JSON, Markdown)
        var travel = ""  // Travel insurance FAQ (text/plain)
        var home = ""  // Home policy (text/markdown, two sections)
        var health = ""  // 健康险说明 (text/html)
        var mixed = ""  // Mixed form (JSON, Chinese and English)
    }

    static let carText = "# 车险理赔\n\n发生交通事故后，被保险人应在48小时内报案。理赔需要提交以下材料：驾驶证、行驶证和事故认定书。"
    static let travelText = "Travel insurance covers trip cancellation and lost luggage. File a claim within thirty days of returning home."
    static let homeText =
        "# Home insurance\n\n## Water damage\n\nBurst pipes are covered; gradual leaks are not.\n\n## Fire\n\nFire damage is covered up to the sum insured."
    static let healthHTML =
        "<html><head><title>忽略这个标题</title><style>p { color: red; }</style></head><body><h1>健康险</h1><p>住院费用按比例报销，门诊不在保障范围内。</p><script>var secret = \"机密\";</script></body></html>"
    static let mixedText = "车险 claim 需要填写 claim form 并附上保单号。"

    /// Uploads the five documents to `kb` in every supported way, checking each answer.
    func uploadCorpus(_ gw: TestGateway, kb: String, key: String) async throws -> Corpus {
        var corpus = Corpus()
        let car = try await uploadJSON(
            gw, kb: kb, key: key,
            ["title": "车险理赔指南", "text": .string(Self.carText), "content_type": "text/markdown", "metadata": ["source": "intranet", "year": 2024]])
        try #require(car.status == 201, "\(car.text)")
        #expect(car.json["created"] == true)
        #expect(car.json["content_type"]?.stringValue == "text/markdown")
        #expect(car.json["metadata"] == ["source": "intranet", "year": 2024])
        #expect(int(car.json["bytes"]) == Self.carText.utf8.count)
        #expect(int(car.json["chunks"]) == 1)
        corpus.carClaims = try #require(car.json["id"]?.stringValue)

        let travel = try await uploadRaw(gw, kb: kb, key: key, title: "Travel insurance FAQ", type: "text/plain; charset=utf-8", Self.travelText)
        try #require(travel.status == 201, "\(travel.text)")
        #expect(travel.json["title"]?.stringValue == "Travel insurance FAQ")
        #expect(travel.json["content_type"]?.stringValue == "text/plain")
        #expect(int(travel.json["chunks"]) == 1)
        corpus.travel = try #require(travel.json["id"]?.stringValue)

        let home = try await uploadRaw(gw, kb: kb, key: key, title: "Home policy", type: "text/markdown", Self.homeText)
        try #require(home.status == 201, "\(home.text)")
        #expect(home.json["content_type"]?.stringValue == "text/markdown")
        #expect(int(home.json["chunks"]) == 2, "one chunk per section")
        corpus.home = try #require(home.json["id"]?.stringValue)

        let health = try await uploadRaw(gw, kb: kb, key: key, title: "健康险说明", type: "text/html", Self.healthHTML)
        try #require(health.status == 201, "\(health.text)")
        #expect(health.json["title"]?.stringValue == "健康险说明", "a percent-encoded Chinese title")
        #expect(health.json["content_type"]?.stringValue == "text/html")
        #expect(int(health.json["chunks"]) == 1)
        corpus.health = try #require(health.json["id"]?.stringValue)

        let mixed = try await uploadJSON(gw, kb: kb, key: key, ["title": "Mixed form", "text": .string(Self.mixedText)])
        try #require(mixed.status == 201, "\(mixed.text)")
        corpus.mixed = try #require(mixed.json["id"]?.stringValue)
        return corpus
    }

    // MARK: Creating knowledge bases

    @Test func knowledgeBasesBelongToOneTenant() async throws {
        try await withKnowledgeGateway { gw, _, keys in
            let byOperator = try await gw.admin(.POST, "/knowledge-bases", ["name": "policies", "tenant": "acme", "embedding": Self.embedding])
            #expect(byOperator.status == 201, "\(byOperator.text)")
            #expect(byOperator.json["tenant"]?.stringValue == "acme")
            #expect(byOperator.json["embedding"] == Self.embedding)
            let noTenant = try await gw.admin(.POST, "/knowledge-bases", ["name": "orphan"])
            #expect(noTenant.status == 400 && noTenant.json["error"]?["param"]?.stringValue == "tenant")
            let byManager = try await gw.request(.POST, "/admin/v1/knowledge-bases", key: keys.manage, json: ["name": "handbook"])
            #expect(byManager.status == 201, "\(byManager.text)")
            #expect(byManager.json["tenant"]?.stringValue == "acme", "a manage key creates in its own tenant")
            #expect(byManager.json["embedding"] == .null)
            let duplicate = try await gw.request(.POST, "/admin/v1/knowledge-bases", key: keys.manage, json: ["name": "handbook"])
            #expect(duplicate.status == 409)
            let inferenceOnly = try await gw.request(.POST, "/admin/v1/knowledge-bases", key: keys.inference, json: ["name": "x"])
            #expect(inferenceOnly.status == 403)
            try await gw.createTenant("rival")
            let intoRival = try await gw.request(.POST, "/admin/v1/knowledge-bases", key: keys.manage, json: ["name": "x", "tenant": "rival"])
            #expect(intoRival.status == 404, "another tenant is not the manager's to create in")
            let badUpstream = try await gw.admin(
                .POST, "/knowledge-bases", ["name": "x", "tenant": "acme", "embedding": ["upstream": "nowhere", "model": "embed-small"]])
            #expect(badUpstream.status == 400)
            let badOverlap = try await gw.admin(.POST, "/knowledge-bases", ["name": "x", "tenant": "acme", "chunk_size": 64, "chunk_overlap": 40])
            #expect(badOverlap.status == 400)
            let listed = try await gw.request(.GET, "/admin/v1/knowledge-bases", key: keys.manage)
            #expect(Set(listed.json["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []) == ["policies", "handbook"])
        }
    }

    // MARK: Upload and keyword search

    @Test func uploadsInEveryFormatAndSearchByKeywordInChinese() async throws {
        try await withKnowledgeGateway { gw, _, keys in
            try await createKB(gw, "policies")
            let docs = try await uploadCorpus(gw, kb: "policies", key: keys.manage)
            let info = try await kbInfo(gw, "policies", key: keys.manage)
            #expect(int(info["documents"]) == 5)
            #expect(int(info["chunks"]) == 6)
            #expect(int(info["vectors"]) == 6, "every chunk embedded")

            func keyword(_ q: String) async throws -> TestGateway.Reply {
                let reply = try await search(gw, kb: "policies", key: keys.inference, q, mode: "keyword", topK: 10)
                #expect(reply.status == 200, "\(reply.text)")
                #expect(reply.json["mode"]?.stringValue == "keyword")
                return reply
            }
            // One Chinese character: only the documents that contain it.
            #expect(Set(documents(try await keyword("赔"))) == [docs.carClaims])
            #expect(Set(documents(try await keyword("险"))) == [docs.carClaims, docs.health, docs.mixed])
            // Two characters.
            #expect(Set(documents(try await keyword("门诊"))) == [docs.health])
            #expect(Set(documents(try await keyword("保单"))) == [docs.mixed])
            #expect(Set(documents(try await keyword("报案"))) == [docs.carClaims])
            #expect(documents(try await keyword("车险理赔需要什么材料")).first == docs.carClaims)
            // Mixed Chinese and English: the document with both ranks first.
            #expect(documents(try await keyword("车险 claim")).first == docs.mixed)
            #expect(documents(try await keyword("车险claim")).first == docs.mixed)
            // English, and full-width Latin normalised.
            #expect(documents(try await keyword("luggage")) == [docs.travel])
            #expect(documents(try await keyword("ＬＵＧＧＡＧＥ")) == [docs.travel])
            #expect(documents(try await keyword("nothing matches this")).isEmpty)
            #expect(documents(try await keyword("？！。")).isEmpty)

            // Markdown and HTML keep their structure as heading paths; HTML loses scripts, styles, head.
            let water = hits(try await keyword("pipes"))
            #expect(water.count == 1)
            #expect(water.first?["heading"]?.stringValue == "Home insurance › Water damage")
            #expect(water.first?["title"]?.stringValue == "Home policy")
            let fire = hits(try await keyword("sum insured"))
            #expect(fire.first?["heading"]?.stringValue == "Home insurance › Fire")
            let health = try #require(hits(try await keyword("门诊")).first)
            #expect(health["heading"]?.stringValue == "健康险")
            #expect(health["text"]?.stringValue == "住院费用按比例报销，门诊不在保障范围内。")
            #expect(documents(try await keyword("机密")).isEmpty, "script text is not indexed")
            #expect(documents(try await keyword("忽略")).isEmpty, "the head's title is not indexed")
            #expect(documents(try await keyword("color")).isEmpty)
            // Scores: higher is better, best first.
            let ranked = hits(try await keyword("险"))
            #expect(zip(ranked, ranked.dropFirst()).allSatisfy { score($0) >= score($1) })

            // The documents list.
            let listed = try await gw.request(.GET, "/admin/v1/knowledge-bases/policies/documents", key: keys.manage)
            #expect(
                Set(listed.json["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []) == [
                    docs.carClaims, docs.travel, docs.home, docs.health, docs.mixed,
                ])
            let page = try await gw.request(.GET, "/admin/v1/knowledge-bases/policies/documents?limit=2", key: keys.manage)
            #expect(page.json["data"]?.arrayValue?.count == 2 && page.json["has_more"] == true)

            // Bad uploads.
            let noTitle = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: nil, type: "text/plain", "untitled text")
            #expect(noTitle.status == 400)
            let empty = try await uploadJSON(gw, kb: "policies", key: keys.manage, ["title": "Empty", "text": "  \n "])
            #expect(empty.status == 400)
            let notUTF8 = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Bad", type: "text/plain", [0x66, 0xFF, 0xFE, 0x67])
            #expect(notUTF8.status == 400)
            let byInference = try await uploadJSON(gw, kb: "policies", key: keys.inference, ["title": "T", "text": "inference keys do not upload"])
            #expect(byInference.status == 403)
            #expect(int(try await kbInfo(gw, "policies", key: keys.manage)["documents"]) == 5)
        }
    }

    static func form(boundary: String, _ parts: [(headers: String, body: String)]) -> [UInt8] {
        var out = ""
        for part in parts { out += "--\(boundary)\r\n\(part.headers)\r\n\r\n\(part.body)\r\n" }
        out += "--\(boundary)--\r\n"
        return Array(out.utf8)
    }

    @Test func multipartFormUploadsAndPlusJSON() async throws {
        try await withKnowledgeGateway(configure: Self.noRefresh) { gw, _, keys in
            try await createKB(gw, "policies", embedding: false)
            let b = "----trellis-test-7d3"
            let type = "multipart/form-data; boundary=\(b)"
            func upload(_ parts: [(headers: String, body: String)]) async throws -> TestGateway.Reply {
                try await uploadRaw(gw, kb: "policies", key: keys.manage, title: nil, type: type, Self.form(boundary: b, parts))
            }
            // The file part with its own type, a title field and metadata.
            let withTitle = try await upload(
                [
                    ("Content-Disposition: form-data; name=\"title\"", "宠物保险 FAQ"),
                    ("Content-Disposition: form-data; name=\"metadata\"", "{\"source\":\"intranet\"}"),
                    (
                        "Content-Disposition: form-data; name=\"file\"; filename=\"pets.md\"\r\nContent-Type: text/markdown",
                        "# 宠物保险\n\n猫和狗可以投保，按 70% 赔付。"
                    ),
                ])
            #expect(withTitle.status == 201, "\(withTitle.text)")
            #expect(withTitle.json["title"]?.stringValue == "宠物保险 FAQ")
            #expect(withTitle.json["content_type"]?.stringValue == "text/markdown")
            let petID = withTitle.json["id"]?.stringValue ?? "?"
            #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "宠物", mode: "keyword")) == [petID])
            // No title field: the file name is the title; the kind comes from the extension when the part's
            // type says nothing useful (curl sends application/octet-stream).
            let byName = try await uploadRaw(
                gw, kb: "policies", key: keys.manage, title: nil, type: "multipart/form-data; boundary=\"\(b)\"",
                Self.form(
                    boundary: b,
                    [
                        (
                            "Content-Disposition: form-data; name=\"file\"; filename=\"grace-period.txt\"\r\nContent-Type: application/octet-stream",
                            "The grace period for premiums is 30 days."
                        )
                    ]))
            #expect(byName.status == 201, "\(byName.text)")
            #expect(byName.json["title"]?.stringValue == "grace-period.txt")
            #expect(byName.json["content_type"]?.stringValue == "text/plain")
            // Refusals: no file part, a file of another kind, no boundary, a broken body, bad metadata.
            let noFile = try await upload([("Content-Disposition: form-data; name=\"title\"", "x")])
            #expect(noFile.status == 400 && noFile.json["error"]?["param"]?.stringValue == "file", "\(noFile.text)")
            let exe = try await upload([
                ("Content-Disposition: form-data; name=\"file\"; filename=\"tool.exe\"\r\nContent-Type: application/octet-stream", "MZ")
            ])
            #expect(exe.status == 415, "\(exe.text)")
            let noBoundary = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: nil, type: "multipart/form-data", Array("x".utf8))
            #expect(noBoundary.status == 400 && noBoundary.json["error"]?["code"]?.stringValue == "invalid_multipart")
            let broken = try await uploadRaw(
                gw, kb: "policies", key: keys.manage, title: nil, type: type, Array("--\(b)\r\nContent-Disposition: form-da".utf8))
            #expect(broken.status == 400 && broken.json["error"]?["code"]?.stringValue == "invalid_multipart", "\(broken.text)")
            let badMetadata = try await upload(
                [
                    ("Content-Disposition: form-data; name=\"metadata\"", "[1,2]"),
                    ("Content-Disposition: form-data; name=\"file\"; filename=\"a.md\"", "# A\n\ntext"),
                ])
            #expect(badMetadata.status == 400 && badMetadata.json["error"]?["param"]?.stringValue == "metadata", "\(badMetadata.text)")
            // A +json media type is JSON, as on every other route.
            let plusJSON = try await uploadRaw(
                gw, kb: "policies", key: keys.manage, title: nil, type: "application/vnd.trellis+json",
                Array(#"{"title":"Rental car","text":"The courtesy car limit is 40 dollars a day."}"#.utf8))
            #expect(plusJSON.status == 201, "\(plusJSON.text)")
            #expect(int(try await kbInfo(gw, "policies", key: keys.manage)["documents"]) == 3)
            // A nested field's error names it in full.
            let noModel = try await gw.admin(.POST, "/knowledge-bases", ["name": "half", "tenant": "acme", "embedding": ["upstream": "mock"]])
            #expect(noModel.status == 400 && noModel.json["error"]?["param"]?.stringValue == "embedding.model", "\(noModel.text)")
        }
    }

    @Test func uploadingTheSameContentAgainChangesNothing() async throws {
        try await withKnowledgeGateway(configure: Self.noRefresh) { gw, upstream, keys in
            try await createKB(gw, "policies")
            let first = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Travel insurance FAQ", type: "text/plain", Self.travelText)
            #expect(first.status == 201)
            let id = try #require(first.json["id"]?.stringValue)
            let calls = upstream.embeddingCalls.count
            let before = try await kbInfo(gw, "policies", key: keys.manage)

            let again = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Travel insurance FAQ", type: "text/plain", Self.travelText)
            #expect(again.status == 200, "\(again.text)")
            #expect(again.json["created"] == false)
            #expect(again.json["id"]?.stringValue == id)
            let asJSON = try await uploadJSON(gw, kb: "policies", key: keys.manage, ["title": "Travel insurance FAQ", "text": .string(Self.travelText)])
            #expect(asJSON.status == 200 && asJSON.json["id"]?.stringValue == id, "the same bytes as JSON text are the same content")

            let after = try await kbInfo(gw, "policies", key: keys.manage)
            #expect(int(after["documents"]) == 1)
            #expect(int(after["chunks"]) == int(before["chunks"]))
            #expect(int(after["vectors"]) == int(before["vectors"]))
            #expect(upstream.embeddingCalls.count == calls, "nothing embedded again")
            let found = try await search(gw, kb: "policies", key: keys.inference, "luggage", mode: "keyword", topK: 10)
            #expect(chunkIDs(found).count == 1, "one chunk, not two copies")
            let vector = try await search(gw, kb: "policies", key: keys.inference, Self.travelText, mode: "vector", topK: 10)
            #expect(chunkIDs(vector).count == 1 && Set(chunkIDs(vector)).count == 1)

            let changed = try await uploadRaw(
                gw, kb: "policies", key: keys.manage, title: "Travel insurance FAQ", type: "text/plain", Self.travelText + " Updated.")
            #expect(changed.status == 201 && changed.json["id"]?.stringValue != id, "different content is a new document")
        }
    }

    // MARK: Vector and hybrid search

    @Test func vectorAndHybridSearch() async throws {
        try await withKnowledgeGateway(configure: Self.noRefresh) { gw, _, keys in
            try await createKB(gw, "policies")
            let docs = try await uploadCorpus(gw, kb: "policies", key: keys.manage)

            // A misspelling no keyword matches, that the bigram embeddings still place near "luggage".
            let keyword = try await search(gw, kb: "policies", key: keys.inference, "lugage", mode: "keyword")
            #expect(keyword.status == 200 && hits(keyword).isEmpty)
            let vector = try await search(gw, kb: "policies", key: keys.inference, "lugage", mode: "vector", topK: 3)
            #expect(vector.status == 200, "\(vector.text)")
            #expect(vector.json["mode"]?.stringValue == "vector")
            #expect(documents(vector).first == docs.travel)
            #expect(hits(vector).count == 3)
            #expect(hits(vector).allSatisfy { (-1.0...1.0).contains(score($0)) }, "cosine similarity")
            #expect(zip(hits(vector), hits(vector).dropFirst()).allSatisfy { score($0) >= score($1) })

            // A query that is exactly what was embedded for a chunk finds that chunk with similarity 1: the
            // stored vectors are the right chunks' (the mock answers out of order, by index).
            let fire = try await search(
                gw, kb: "policies", key: keys.inference, "Home insurance › Fire\nFire damage is covered up to the sum insured.", mode: "vector")
            let best = try #require(hits(fire).first)
            #expect(best["heading"]?.stringValue == "Home insurance › Fire")
            #expect(abs(score(best) - 1) < 1e-4)
            let chinese = try await search(gw, kb: "policies", key: keys.inference, "交通事故后多久报案", mode: "vector")
            #expect(documents(chinese).first == docs.carClaims)

            // Hybrid: reciprocal-rank fusion with k = 60. "lost luggage" is first in both lists: 2/61.
            let hybrid = try await search(gw, kb: "policies", key: keys.inference, "lost luggage", mode: "hybrid", topK: 5)
            #expect(hybrid.json["mode"]?.stringValue == "hybrid")
            let fused = hits(hybrid)
            #expect(fused.first?["document_id"]?.stringValue == docs.travel)
            #expect(abs(score(fused.first ?? .null) - 2.0 / 61) < 1e-5)
            #expect(fused.dropFirst().allSatisfy { score($0) <= 1.0 / 61 + 1.0 / 62 + 1e-6 }, "nothing else is first in either list")
            #expect(fused.allSatisfy { score($0) > 0 && score($0) <= 2.0 / 61 + 1e-6 }, "scores are rounded to 6 places")
            // The default for a knowledge base with embeddings is hybrid; a typo still finds by vector, and a
            // Chinese keyword still finds by keyword.
            let byDefault = try await search(gw, kb: "policies", key: keys.inference, "lugage 门诊", topK: 5)
            #expect(byDefault.json["mode"]?.stringValue == "hybrid")
            #expect(Set(documents(byDefault)).isSuperset(of: [docs.travel, docs.health]))
            // The search routes take both inference and manage keys; the operator is not a tenant.
            #expect(try await search(gw, kb: "policies", key: keys.manage, "门诊").status == 200)
            #expect(try await search(gw, kb: "policies", key: TestGateway.adminKey, "门诊").status == 403)
            let badMode = try await search(gw, kb: "policies", key: keys.inference, "x", mode: "semantic")
            #expect(badMode.status == 400)

            // The embedding model down: hybrid answers from the keyword index and says so, with keyword
            // scores; vector alone is a 502.
            let fallback = try await search(gw, kb: "policies", key: keys.inference, "lost luggage FAIL-EMBED", mode: "hybrid", topK: 5)
            #expect(fallback.status == 200, "\(fallback.text)")
            #expect(fallback.json["mode"]?.stringValue == "keyword")
            #expect(documents(fallback).first == docs.travel)
            #expect(score(hits(fallback).first ?? .null) > 2.0 / 61, "a keyword (BM25) score, not a fused one")
            let vectorDown = try await search(gw, kb: "policies", key: keys.inference, "lost luggage FAIL-EMBED", mode: "vector")
            #expect(vectorDown.status == 502, "\(vectorDown.text)")
            #expect(vectorDown.json["error"]?["code"]?.stringValue == "embedding_failed")
        }
    }

    @Test func aKnowledgeBaseWithoutEmbeddingsSearchesByKeyword() async throws {
        try await withKnowledgeGateway { gw, upstream, keys in
            try await createKB(gw, "notes", embedding: false)
            let docs = try await uploadCorpus(gw, kb: "notes", key: keys.manage)
            #expect(upstream.embeddingCalls.isEmpty, "nothing to embed with")
            #expect(int(try await kbInfo(gw, "notes", key: keys.manage)["vectors"]) == 0)
            let vector = try await search(gw, kb: "notes", key: keys.inference, "门诊", mode: "vector")
            #expect(vector.status == 400)
            #expect(vector.json["error"]?["param"]?.stringValue == "mode")
            let hybrid = try await search(gw, kb: "notes", key: keys.inference, "车险 claim", mode: "hybrid", topK: 10)
            #expect(hybrid.status == 200)
            #expect(hybrid.json["mode"]?.stringValue == "keyword")
            let keyword = try await search(gw, kb: "notes", key: keys.inference, "车险 claim", mode: "keyword", topK: 10)
            #expect(hits(hybrid) == hits(keyword), "hybrid without vectors is keyword search")
            #expect(documents(keyword).first == docs.mixed)
            let byDefault = try await search(gw, kb: "notes", key: keys.inference, "车险 claim", topK: 10)
            #expect(byDefault.json["mode"]?.stringValue == "keyword" && hits(byDefault) == hits(keyword))
        }
    }

    @Test func embeddingsAreComputedInBatchesAndStayAligned() async throws {
        try await withKnowledgeGateway(configure: Self.noRefresh) { gw, upstream, keys in
            try await createKB(gw, "clauses", extra: ["chunk_size": 32, "chunk_overlap": 0])
            // 70 paragraphs of weight 24: one chunk each at size 32.
            var generator = SeededGenerator(seed: 11)
            let han = Array("天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏闰余成岁律吕调阳云腾致雨露结为霜金生丽水玉出昆冈剑号巨阙珠称夜光")
            let paragraphs = (0..<70).map { i in
                "条款\(i % 10)：" + String((0..<20).map { _ in han[Int(generator.next() % UInt64(han.count))] })
            }
            let before = upstream.embeddingCalls.count
            let reply = try await uploadJSON(
                gw, kb: "clauses", key: keys.manage, ["title": "Clauses", "text": .string(paragraphs.joined(separator: "\n\n"))])
            try #require(reply.status == 201, "\(reply.text)")
            #expect(int(reply.json["chunks"]) == 70)
            let calls = upstream.embeddingCalls.dropFirst(before)
            #expect(calls.allSatisfy { $0.model == "embed-small" })
            #expect(calls.map(\.inputs).reduce(0, +) == 70, "every chunk embedded once")
            #expect(calls.count == (70 + KnowledgeService.embeddingBatch - 1) / KnowledgeService.embeddingBatch, "in batches, not one call per chunk")
            #expect(calls.allSatisfy { $0.inputs <= KnowledgeService.embeddingBatch })
            #expect(calls.count > 1 && calls.dropLast().allSatisfy { $0.inputs == KnowledgeService.embeddingBatch })
            // Each chunk's vector is its own, in every batch.
            for i in [0, 31, 32, 37, 64, 69] {
                let found = try await search(gw, kb: "clauses", key: keys.inference, paragraphs[i], mode: "vector", topK: 1)
                let top = try #require(hits(found).first)
                #expect(top["text"]?.stringValue == paragraphs[i], "paragraph \(i)")
                #expect(abs(score(top) - 1) < 1e-4)
            }
        }
    }

    // MARK: Deletion and restart

    @Test func deletingADocumentRemovesItFromEveryIndex() async throws {
        try await withKnowledgeGateway(configure: Self.noRefresh) { gw, _, keys in
            try await createKB(gw, "policies")
            let docs = try await uploadCorpus(gw, kb: "policies", key: keys.manage)
            let vectorBefore = try await search(gw, kb: "policies", key: keys.inference, "lugage", mode: "vector", topK: 50)
            #expect(documents(vectorBefore).first == docs.travel)
            let travelChunks = Set(zip(documents(vectorBefore), chunkIDs(vectorBefore)).filter { $0.0 == docs.travel }.map(\.1))
            #expect(travelChunks.count == 1)

            let deleted = try await gw.request(.DELETE, "/admin/v1/knowledge-bases/policies/documents/\(docs.travel)", key: keys.manage)
            #expect(deleted.status == 200, "\(deleted.text)")
            #expect(deleted.json["deleted"] == true)
            let again = try await gw.request(.DELETE, "/admin/v1/knowledge-bases/policies/documents/\(docs.travel)", key: keys.manage)
            #expect(again.status == 404)

            #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "luggage", mode: "keyword")).isEmpty)
            let vectorAfter = try await search(gw, kb: "policies", key: keys.inference, "lugage", mode: "vector", topK: 50)
            #expect(!documents(vectorAfter).contains(docs.travel))
            #expect(Set(chunkIDs(vectorAfter)).isDisjoint(with: travelChunks))
            #expect(hits(vectorAfter).count == 5, "the other documents' chunks are all still there")
            let best = try await search(gw, kb: "policies", key: keys.inference, "lugage", mode: "vector", topK: 1)
            #expect(hits(best).count == 1, "a deleted chunk's vector does not take the only place")
            #expect(documents(best) != [docs.travel])
            let hybrid = try await search(gw, kb: "policies", key: keys.inference, "lost luggage", mode: "hybrid", topK: 50)
            #expect(!documents(hybrid).contains(docs.travel))
            let info = try await kbInfo(gw, "policies", key: keys.manage)
            #expect(int(info["documents"]) == 4 && int(info["chunks"]) == 5 && int(info["vectors"]) == 5)
            // The same content can come back, as a new document.
            let back = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Travel insurance FAQ", type: "text/plain", Self.travelText)
            #expect(back.status == 201 && back.json["created"] == true)
            #expect(
                documents(try await search(gw, kb: "policies", key: keys.inference, "luggage", mode: "keyword")) == [back.json["id"]?.stringValue ?? "?"])
        }
    }

    @Test func concurrentUploadsAndDeletesRacingTheRefresherKeepOneVectorPerChunk() async throws {
        // The refresher at its fastest, so full reloads interleave with the uploads' own index changes.
        try await withKnowledgeGateway(configure: { $0.catalogRefreshIntervalMs = 100 }) { gw, _, keys in
            try await createKB(gw, "policies")
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<24 {
                    group.addTask {
                        let reply = try await uploadRaw(
                            gw, kb: "policies", key: keys.manage, title: "Note \(i)", type: "text/plain",
                            "Note number \(i) about claim handling step \(i * 7).")
                        try #require(reply.status == 201, "\(reply.text)")
                        return reply.json["id"]?.stringValue ?? ""
                    }
                }
                var ids: [String] = []
                for try await id in group { ids.append(id) }
                return ids
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in ids.prefix(8) {
                    group.addTask {
                        let reply = try await gw.request(.DELETE, "/admin/v1/knowledge-bases/policies/documents/\(id)", key: keys.manage)
                        #expect(reply.status == 200, "\(reply.text)")
                    }
                }
                try await group.waitForAll()
            }
            let info = try await kbInfo(gw, "policies", key: keys.manage)
            #expect(int(info["documents"]) == 16 && int(info["chunks"]) == 16)
            #expect(int(info["vectors"]) == 16, "no vector twice, none lost")
            let all = try await search(gw, kb: "policies", key: keys.inference, "claim handling", mode: "vector", topK: 50)
            #expect(hits(all).count == 16)
            #expect(Set(chunkIDs(all)).count == 16, "each chunk once")
        }
    }

    @Test func aWriteByAnotherProcessIsPickedUpByTheNextLocalUpload() async throws {
        try await withKnowledgeGateway(configure: Self.noRefresh) { gw, _, keys in
            try await createKB(gw, "policies", embedding: false)
            let kb = try #require(gw.gateway.snapshot.allKnowledgeBases.first { $0.name == "policies" })
            // Another process (here: the store directly, past the gateway's indexes) adds a document.
            let text = "Windscreen chips are repaired free of charge"
            let foreign = try await gw.gateway.store.insertDocument(
                knowledgeBase: kb, title: "Glass", contentType: "text/plain", sha256: "foreign", bytes: text.utf8.count, metadata: nil,
                chunks: [NewChunk(position: 0, heading: "", text: text, terms: SearchTokenizer.indexTerms("Glass\n\n" + text), embedding: nil)],
                actor: "other-process")
            #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "windscreen", mode: "keyword")).isEmpty, "not seen yet")
            // This process's next upload commits the generation after it: the gap is closed by a full load.
            let local = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Hail", type: "text/plain", "Hail damage is covered")
            #expect(local.status == 201)
            #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "windscreen", mode: "keyword")) == [foreign.document.id])
            #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "hail", mode: "keyword")) == [local.json["id"]?.stringValue ?? "?"])
        }
    }

    @Test func theVectorIndexIsRebuiltFromTheStoreAfterARestart() async throws {
        let directory = TestGateway.makeDataDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withMockUpstream { upstream in
            let (keys, docs, deletedChunks) = try await TestGateway.run(dataDir: directory) { gw in
                let keys = try await setUp(gw, upstream)
                try await createKB(gw, "policies")
                let docs = try await uploadCorpus(gw, kb: "policies", key: keys.manage)
                let home = try await search(gw, kb: "policies", key: keys.inference, "pipes fire damage", mode: "keyword", topK: 10)
                let homeChunks = Set(zip(documents(home), chunkIDs(home)).filter { $0.0 == docs.home }.map(\.1))
                #expect(homeChunks.count == 2)
                let deleted = try await gw.request(.DELETE, "/admin/v1/knowledge-bases/policies/documents/\(docs.home)", key: keys.manage)
                #expect(deleted.status == 200)
                return (keys, docs, homeChunks)
            }
            let callsBefore = upstream.embeddingCalls.count
            try await TestGateway.run(dataDir: directory) { gw in
                let info = try await kbInfo(gw, "policies", key: keys.manage)
                #expect(int(info["documents"]) == 4)
                #expect(int(info["chunks"]) == 4)
                #expect(int(info["vectors"]) == 4, "the index holds exactly the stored chunks' vectors")
                let vector = try await search(gw, kb: "policies", key: keys.inference, "lugage", mode: "vector", topK: 50)
                #expect(vector.status == 200, "\(vector.text)")
                #expect(documents(vector).first == docs.travel)
                #expect(Set(chunkIDs(vector)).isDisjoint(with: deletedChunks), "deleted chunks stay deleted")
                #expect(hits(vector).count == 4)
                let exact = try await search(gw, kb: "policies", key: keys.inference, Self.travelText, mode: "vector", topK: 1)
                #expect(abs(score(hits(exact).first ?? .null) - 1) < 1e-4, "the reloaded vector is the stored one")
                #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "pipes", mode: "keyword")).isEmpty)
                #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "门诊", mode: "keyword")) == [docs.health])
                let hybrid = try await search(gw, kb: "policies", key: keys.inference, "lost luggage", topK: 5)
                #expect(abs(score(hits(hybrid).first ?? .null) - 2.0 / 61) < 1e-5)
                let after = upstream.embeddingCalls.dropFirst(callsBefore)
                #expect(!after.isEmpty && after.allSatisfy { $0.inputs == 1 }, "after the restart only queries are embedded")
            }
        }
    }

    // MARK: Tenant isolation

    @Test func anotherTenantCannotReachOrLearnOfAKnowledgeBase() async throws {
        try await withKnowledgeGateway { gw, _, keys in
            try await createKB(gw, "policies")
            let docs = try await uploadCorpus(gw, kb: "policies", key: keys.manage)
            try await gw.createTenant("rival")
            let rivalManage = try await gw.issueKey(tenant: "rival", ["scopes": ["manage", "inference"]]).key
            let rivalInference = try await gw.issueKey(tenant: "rival").key

            /// The answer for `path`, and for the same path with a knowledge base that does not exist.
            func both(_ method: HTTPMethod, _ path: String, key: String, json: JSONValue? = nil) async throws -> (TestGateway.Reply, TestGateway.Reply) {
                let real = try await gw.request(method, path.replacingOccurrences(of: "{kb}", with: "policies"), key: key, json: json)
                let missing = try await gw.request(method, path.replacingOccurrences(of: "{kb}", with: "no-such-kb"), key: key, json: json)
                return (real, missing)
            }
            let probes: [(HTTPMethod, String, String, JSONValue?)] = [
                (.GET, "/admin/v1/knowledge-bases/{kb}", rivalManage, nil),
                (.GET, "/admin/v1/knowledge-bases/{kb}/documents", rivalManage, nil),
                (.POST, "/admin/v1/knowledge-bases/{kb}/documents", rivalManage, ["title": "Planted", "text": "planted text"]),
                (.DELETE, "/admin/v1/knowledge-bases/{kb}/documents/\(docs.travel)", rivalManage, nil),
                (.POST, "/v1/knowledge-bases/{kb}/search", rivalInference, ["query": "luggage"]),
                (.POST, "/v1/knowledge-bases/{kb}/search", rivalManage, ["query": "门诊", "mode": "keyword"]),
            ]
            for (method, path, key, json) in probes {
                let (real, missing) = try await both(method, path, key: key, json: json)
                #expect(real.status == 404, "\(method) \(path): \(real.text)")
                #expect(real.errorCode == missing.errorCode && real.status == missing.status, "\(method) \(path) answers as for a missing one")
                #expect(!real.text.contains("acme") && !real.text.contains(docs.travel))
            }
            let rivalList = try await gw.request(.GET, "/admin/v1/knowledge-bases", key: rivalManage)
            #expect(rivalList.status == 200 && rivalList.json["data"]?.arrayValue?.isEmpty == true)
            // Nothing was planted or deleted.
            let info = try await kbInfo(gw, "policies", key: keys.manage)
            #expect(int(info["documents"]) == 5)
            #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "luggage", mode: "keyword")) == [docs.travel])
            #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "planted", mode: "keyword")).isEmpty)

            // A model of the rival's that names it is refused as naming an unknown base, not an existing one.
            let model = try await gw.request(
                .POST, "/admin/v1/models", key: rivalManage,
                json: ["name": "spy", "spec": ["upstream": "mock", "model": "echo", "knowledge": ["bases": ["policies"]]]])
            #expect(model.status == 400, "\(model.text)")
            #expect(model.json["error"]?["param"]?.stringValue == "spec.knowledge.bases[0]")
            let message = model.json["error"]?["message"]?.stringValue ?? ""
            #expect(!message.contains("exist") && !message.contains("acme") && !message.contains("another"), "\(message)")
            let viaOperator = try await gw.admin(
                .POST, "/models", ["name": "spy", "tenant": "rival", "spec": ["upstream": "mock", "model": "echo", "knowledge": ["bases": ["policies"]]]])
            #expect(viaOperator.status == 400)
            let shared = try await gw.admin(
                .POST, "/models", ["name": "shared-rag", "spec": ["upstream": "mock", "model": "echo", "knowledge": ["bases": ["policies"]]]])
            #expect(shared.status == 400, "a shared model would expose a tenant's knowledge to everyone")

            // The rival may have its own "policies"; the two never mix.
            let own = try await gw.request(.POST, "/admin/v1/knowledge-bases", key: rivalManage, json: ["name": "policies"])
            #expect(own.status == 201, "\(own.text)")
            let planted = try await uploadJSON(gw, kb: "policies", key: rivalManage, ["title": "Rival doc", "text": "rival luggage rules"])
            #expect(planted.status == 201)
            let rivalDoc = try #require(planted.json["id"]?.stringValue)
            #expect(documents(try await search(gw, kb: "policies", key: rivalInference, "luggage", mode: "keyword")) == [rivalDoc])
            #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "luggage", mode: "keyword")) == [docs.travel])
            // A document id from the other tenant is not found through one's own knowledge base.
            let crossDelete = try await gw.request(.DELETE, "/admin/v1/knowledge-bases/policies/documents/\(docs.travel)", key: rivalManage)
            #expect(crossDelete.status == 404)
            #expect(int(try await kbInfo(gw, "policies", key: keys.manage)["documents"]) == 5)

            // The operator sees every tenant's, and names the tenant when the name is ambiguous.
            let all = try await gw.admin(.GET, "/knowledge-bases")
            #expect(all.json["data"]?.arrayValue?.filter { $0["name"]?.stringValue == "policies" }.count == 2)
            #expect(try await gw.admin(.GET, "/knowledge-bases/policies").status == 409)
            let acmes = try await gw.admin(.GET, "/knowledge-bases/policies?tenant=acme")
            #expect(acmes.status == 200 && int(acmes.json["documents"]) == 5 && acmes.json["tenant"]?.stringValue == "acme")
            let rivals = try await gw.admin(.GET, "/knowledge-bases/policies?tenant=rival")
            #expect(rivals.status == 200 && int(rivals.json["documents"]) == 1)
            let acmeDocs = try await gw.admin(.GET, "/knowledge-bases/policies/documents?tenant=acme")
            #expect(acmeDocs.json["data"]?.arrayValue?.count == 5)
        }
    }

    @Test func theOperatorSeesAKnowledgeBaseWhenTheNameIsUnambiguous() async throws {
        try await withKnowledgeGateway { gw, _, keys in
            try await createKB(gw, "policies")
            let docs = try await uploadCorpus(gw, kb: "policies", key: TestGateway.adminKey)
            let shown = try await gw.admin(.GET, "/knowledge-bases/policies")
            #expect(shown.status == 200 && int(shown.json["documents"]) == 5)
            #expect(try await gw.admin(.GET, "/knowledge-bases/policies?tenant=nobody").status == 404)
            #expect(documents(try await search(gw, kb: "policies", key: keys.inference, "门诊", mode: "keyword")) == [docs.health])
        }
    }

    // MARK: RAG models

    /// Checks that `system` numbers exactly the cited passages, in order.
    func expectContext(_ system: String, matches citations: [JSONValue], sourceLocation: SourceLocation = #_sourceLocation) {
        var last = system.startIndex
        for (i, c) in citations.enumerated() {
            #expect(int(c["index"]) == i + 1, sourceLocation: sourceLocation)
            let title = c["title"]?.stringValue ?? "?"
            let snippet = c["snippet"]?.stringValue ?? "?"
            guard let marker = system.range(of: "[\(i + 1)] \(title)", range: last..<system.endIndex) else {
                Issue.record("passage [\(i + 1)] \(title) is not in order in: \(system)", sourceLocation: sourceLocation)
                return
            }
            // This passage's text is the cited snippet (whole, for these short chunks), before the next marker.
            let next = system.range(of: "[\(i + 2)] ", range: marker.upperBound..<system.endIndex)?.lowerBound ?? system.endIndex
            #expect(system[marker.upperBound..<next].contains("— " + snippet), "passage [\(i + 1)] holds its citation's text", sourceLocation: sourceLocation)
            last = marker.upperBound
        }
        #expect(system.range(of: "[\(citations.count + 1)] ") == nil, "no more passages than citations", sourceLocation: sourceLocation)
    }

    @Test func aRefusedRequestCostsNoRetrieval() async throws {
        try await withKnowledgeGateway(configure: Self.noRefresh) { gw, upstream, keys in
            try await createKB(gw, "policies")
            _ = try await uploadCorpus(gw, kb: "policies", key: keys.manage)
            try await gw.createModel(
                "policy-bot", tenant: "acme",
                spec: ["upstream": "mock", "model": "echo", "knowledge": ["bases": ["policies"], "top_k": 3, "mode": "hybrid"]])
            let limited = try await gw.issueKey(tenant: "acme", ["rpm": 1]).key
            let body: JSONValue = ["model": "policy-bot", "messages": [["role": "user", "content": "lost luggage"]]]
            let callsBefore = upstream.embeddingCalls.count
            let first = try await gw.request(.POST, "/v1/chat/completions", key: limited, json: body)
            #expect(first.status == 200, "\(first.text)")
            #expect(upstream.embeddingCalls.count == callsBefore + 1, "the admitted request embedded its query")
            let second = try await gw.request(.POST, "/v1/chat/completions", key: limited, json: body)
            #expect(second.status == 429, "\(second.text)")
            #expect(upstream.embeddingCalls.count == callsBefore + 1, "the refused one called no embedding model")
        }
    }

    @Test func ragModelsInjectNumberedContextAndCite() async throws {
        try await withKnowledgeGateway { gw, upstream, keys in
            try await createKB(gw, "policies")
            let docs = try await uploadCorpus(gw, kb: "policies", key: keys.manage)
            try await gw.createModel(
                "policy-bot", tenant: "acme",
                spec: ["upstream": "mock", "model": "echo", "knowledge": ["bases": ["policies"], "top_k": 3, "mode": "keyword"]])
            let question = "车险理赔需要什么材料？"
            let reply = try await gw.request(
                .POST, "/v1/chat/completions", key: keys.inference,
                json: [
                    "model": "policy-bot",
                    "messages": [
                        ["role": "system", "content": "You are the claims desk."], ["role": "user", "content": "earlier question"],
                        ["role": "assistant", "content": "earlier answer"], ["role": "user", "content": .string(question)],
                    ],
                ])
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "echo:" + question)
            let citations = try #require(reply.json["citations"]?.arrayValue)
            #expect(!citations.isEmpty && citations.count <= 3)
            #expect(citations.first?["document_id"]?.stringValue == docs.carClaims)
            #expect(citations.first?["title"]?.stringValue == "车险理赔指南")
            for c in citations {
                #expect(c["chunk_id"]?.numberValue?.intValue != nil && c["score"]?.numberValue?.doubleValue != nil)
                #expect(Set(c.objectValue?.keys ?? []) == ["index", "document_id", "title", "chunk_id", "score", "snippet"])
            }

            // What reached the upstream: the caller's system message, then the context, then the conversation.
            let sent = try #require(upstream.lastBody?["messages"]?.arrayValue)
            #expect(sent.compactMap { $0["role"]?.stringValue } == ["system", "system", "user", "assistant", "user"])
            #expect(sent[0]["content"]?.stringValue == "You are the claims desk.")
            let system = try #require(sent[1]["content"]?.stringValue)
            #expect(system.hasPrefix("请根据"), "a Chinese question gets the Chinese instruction")
            #expect(system.contains("没有答案"), "the model is told to say when the passages do not answer")
            expectContext(system, matches: citations)

            // The citations are the search the last user message makes, in the same order, with the same scores.
            let search = try await search(gw, kb: "policies", key: keys.inference, question, mode: "keyword", topK: 3)
            #expect(hits(search).map { $0["chunk_id"] } == citations.map { $0["chunk_id"] })
            #expect(hits(search).map { $0["document_id"] } == citations.map { $0["document_id"] })
            #expect(hits(search).map { $0["score"] } == citations.map { $0["score"] })

            // English question, English instruction; nothing found: no passages, and the model is told so.
            let english = try await gw.request(
                .POST, "/v1/chat/completions", key: keys.inference,
                json: ["model": "policy-bot", "messages": [["role": "user", "content": "What about lost luggage?"]]])
            #expect(english.status == 200)
            let englishSystem = upstream.lastBody?["messages"]?.arrayValue?.first?["content"]?.stringValue ?? ""
            #expect(englishSystem.contains("Cite the passages") && englishSystem.contains("do not contain the answer"))
            let englishCitations = english.json["citations"]?.arrayValue ?? []
            #expect(englishCitations.first?["document_id"]?.stringValue == docs.travel)
            expectContext(englishSystem, matches: englishCitations)

            let nothing = try await gw.request(
                .POST, "/v1/chat/completions", key: keys.inference,
                json: ["model": "policy-bot", "messages": [["role": "user", "content": "zebra xylophone quantum"]]])
            #expect(nothing.status == 200)
            #expect(nothing.json["citations"] == .array([]))
            let nothingSystem = upstream.lastBody?["messages"]?.arrayValue?.first?["content"]?.stringValue ?? ""
            #expect(nothingSystem.contains("No relevant passages"))
            #expect(!nothingSystem.split(separator: "\n").contains { $0.hasPrefix("[1]") })

            // Multimodal content: the text parts are the query.
            let multimodal = try await gw.request(
                .POST, "/v1/chat/completions", key: keys.inference,
                json: [
                    "model": "policy-bot",
                    "messages": [
                        [
                            "role": "user",
                            "content": [["type": "text", "text": "门诊"], ["type": "image_url", "image_url": ["url": "data:image/png;base64,AAAA"]]],
                        ]
                    ],
                ])
            #expect(multimodal.status == 200, "\(multimodal.text)")
            #expect(multimodal.json["citations"]?.arrayValue?.first?["document_id"]?.stringValue == docs.health)

            // A plain model carries no citations.
            let plain = try await gw.request(
                .POST, "/v1/chat/completions", key: keys.inference, json: ["model": "echo", "messages": [["role": "user", "content": "门诊"]]])
            #expect(plain.status == 200 && plain.json["citations"] == nil)
            #expect(upstream.lastBody?["messages"]?.arrayValue?.count == 1)

            // Usage: retrieval time recorded for the RAG model only.
            await gw.flushUsage()
            let rows = try await gw.gateway.store.usageEvents()
            let rag = rows.filter { $0.model == "policy-bot" }
            #expect(rag.count == 4)
            #expect(rag.allSatisfy { ($0.retrievalMs ?? -1) >= 0 }, "retrieval_ms set")
            #expect(rows.filter { $0.model == "echo" }.allSatisfy { $0.retrievalMs == nil })
        }
    }

    @Test func streamingCarriesCitationsOnTheFirstChunkOnly() async throws {
        try await withKnowledgeGateway { gw, upstream, keys in
            try await createKB(gw, "policies")
            let docs = try await uploadCorpus(gw, kb: "policies", key: keys.manage)
            try await gw.createModel(
                "policy-bot", tenant: "acme", spec: ["upstream": "mock", "model": "echo", "knowledge": ["bases": ["policies"], "top_k": 4]])
            let body: JSONObject = ["model": "policy-bot", "messages": [["role": "user", "content": "lost luggage claim"]]]
            let whole = try await gw.request(.POST, "/v1/chat/completions", key: keys.inference, json: .object(body))
            let expected = try #require(whole.json["citations"]?.arrayValue)
            #expect(!expected.isEmpty && expected.count <= 4)
            #expect(expected.first?["document_id"]?.stringValue == docs.travel)

            var streaming = body
            streaming["stream"] = true
            let response = try await gw.stream("/v1/chat/completions", key: keys.inference, json: .object(streaming))
            #expect(response.status == .ok)
            let events = try await readEvents(response)
            #expect(events.last == "[DONE]")
            let chunks = events.dropLast().compactMap { try? JSONParser.parse($0) }
            #expect(chunks.count >= 3)
            #expect(chunks.first?["citations"]?.arrayValue == expected, "the first chunk carries the citations")
            #expect(chunks.dropFirst().allSatisfy { $0["citations"] == nil }, "later chunks do not")
            let system = upstream.lastBody?["messages"]?.arrayValue?.first?["content"]?.stringValue ?? ""
            expectContext(system, matches: expected)
            #expect(upstream.lastBody?["stream"] == true)

            await gw.flushUsage()
            let rows = try await gw.gateway.store.usageEvents().filter { $0.model == "policy-bot" }
            #expect(rows.count == 2 && rows.allSatisfy { $0.retrievalMs != nil })
            #expect(rows.contains { $0.stream })
        }
    }

    // MARK: Limits

    @Test func oversizedDocumentsAre413AndUnknownTypes415() async throws {
        try await withKnowledgeGateway(configure: { $0.maxDocumentBytes = 2048 }) { gw, _, keys in
            try await createKB(gw, "policies")
            let big = String(repeating: "理赔资料", count: 200)  // 2400 bytes of UTF-8
            #expect(big.utf8.count > 2048)
            let raw = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Big", type: "text/plain", big)
            #expect(raw.status == 413, "\(raw.text)")
            let json = try await uploadJSON(gw, kb: "policies", key: keys.manage, ["title": "Big", "text": .string(big)])
            #expect(json.status == 413)
            let html = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Big", type: "text/html", "<p>" + big + "</p>")
            #expect(html.status == 413)
            let fits = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Fits", type: "text/plain", String(repeating: "理赔资料", count: 150))
            #expect(fits.status == 201, "1800 bytes is within the limit: \(fits.text)")

            let word = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Doc", type: "application/msword", [0xD0, 0xCF, 0x11, 0xE0])
            #expect(word.status == 415)
            let image = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Pic", type: "image/png", [0x89, 0x50, 0x4E, 0x47])
            #expect(image.status == 415)
            let badJSONType = try await uploadJSON(gw, kb: "policies", key: keys.manage, ["title": "T", "text": "x", "content_type": "application/pdf"])
            #expect(badJSONType.status == 400)
            #expect(int(try await kbInfo(gw, "policies", key: keys.manage)["documents"]) == 1)
        }
    }

    /// A one-page PDF showing `text` in Helvetica.
    static func minimalPDF(_ text: String) -> [UInt8] {
        PDFTextTests.pdf(lines: [text])
    }

    @Test func pdfNeedsPdftotext() async throws {
        try await withKnowledgeGateway { gw, _, keys in
            try await createKB(gw, "policies")
            let pdf = Self.minimalPDF("Windscreen repairs are covered without excess")
            let reply = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Glass cover", type: "application/pdf", pdf)
            if PDFText.tool == nil {
                #expect(reply.status == 415, "\(reply.text)")
                #expect(reply.json["error"]?["message"]?.stringValue?.contains("pdftotext") == true)
            } else {
                #expect(reply.status == 201, "\(reply.text)")
                #expect(reply.json["content_type"]?.stringValue == "application/pdf")
                let found = try await search(gw, kb: "policies", key: keys.inference, "windscreen", mode: "keyword")
                #expect(documents(found) == [reply.json["id"]?.stringValue ?? "?"])
                let broken = try await uploadRaw(gw, kb: "policies", key: keys.manage, title: "Broken", type: "application/pdf", Array("not a pdf".utf8))
                #expect(broken.status == 400)
            }
        }
    }
}
