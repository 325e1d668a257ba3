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
    /// Neither the periodic refresh nor PostgreSQL's change notifications: a write past the gateway stays unseen
    /// until the gateway's own next write.
    static func noRefresh(_ config: inout TrellisConfig) {
        config.catalogRefreshIntervalMs = 3_600_000
        config.catalogListen = false
    }

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

}
