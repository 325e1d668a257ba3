import Foundation
import NIOHTTP1
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

/// Knowledge bases across tenants, RAG models with their context and citations (whole and streamed), and the
/// size and type limits of uploads.
extension KnowledgeTests {
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
