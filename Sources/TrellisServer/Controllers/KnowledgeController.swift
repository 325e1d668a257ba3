import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OpenAIWire
import TrellisCore
import TrellisStore

/// Knowledge bases and their documents under `/admin/v1`, and search under `/v1`. A knowledge base belongs to
/// exactly one tenant; nobody else can list, search, upload to, or learn of it: a foreign one answers 404.
struct KnowledgeController {
    let gateway: Gateway
    var knowledge: KnowledgeService { gateway.knowledge }

    func registerAdmin(on group: RouterGroup<AuthenticatedContext>) {
        group.post("knowledge-bases", use: createKnowledgeBase)
        group.get("knowledge-bases", use: listKnowledgeBases)
        group.get("knowledge-bases/{kb}", use: getKnowledgeBase)
        group.post("knowledge-bases/{kb}/documents", use: uploadDocument)
        group.get("knowledge-bases/{kb}/documents", use: listDocuments)
        group.delete("knowledge-bases/{kb}/documents/{id}", use: deleteDocument)
    }

    func registerV1(on group: RouterGroup<AuthenticatedContext>) {
        group.post("knowledge-bases/{kb}/search", use: search)
    }

    // MARK: Resolution

    /// A knowledge base by name, for the caller: a tenant key sees only its tenant's; the operator names the
    /// tenant with `?tenant=` unless exactly one tenant has the name.
    func resolve(_ request: Request, _ context: AuthenticatedContext, scopes: Set<Scope>) throws -> KnowledgeBase {
        let name = context.parameters.decoded("kb")
        let snapshot = gateway.snapshot
        let missing = TrellisError.notFound("The knowledge base '\(name.prefix(128))'")
        switch context.principal {
        case .tenantKey(let key):
            guard let kb = snapshot.knowledgeBase(named: name, tenantID: key.tenantID) else { throw missing }
            _ = try key.requiring(anyOf: scopes, "This key needs one of the scopes: \(scopes.map(\.rawValue).sorted().joined(separator: ", ")).")
            return kb
        case .operator:
            if let tenantName = request.uri.queryParameters.get("tenant") {
                guard let tenant = snapshot.tenant(named: tenantName), let kb = snapshot.knowledgeBase(named: name, tenantID: tenant.id) else { throw missing }
                return kb
            }
            let matches = snapshot.allKnowledgeBases.filter { $0.name == name }
            if matches.count == 1 { return matches[0] }
            if matches.count > 1 { throw TrellisError.conflict("Several tenants have a knowledge base named '\(name.prefix(128))'; add '?tenant=NAME'.") }
            throw missing
        }
    }

    func kbJSON(_ kb: KnowledgeBase, documents: Int? = nil, chunks: Int? = nil) -> JSONValue {
        var o: JSONObject = [
            "id": .string(kb.id), "object": "knowledge_base", "name": .string(kb.name),
            "tenant": .optionalString(gateway.snapshot.tenants[kb.tenantID]?.name), "description": .optionalString(kb.description),
            "embedding": kb.embedding.map { ["upstream": .string($0.upstream), "model": .string($0.model)] } ?? .null,
            "chunk_size": .int(kb.chunkSize), "chunk_overlap": .int(kb.chunkOverlap), "created_at": .time(kb.createdAt),
        ]
        if let documents { o["documents"] = .int(documents) }
        if let chunks {
            o["chunks"] = .int(chunks)
            o["vectors"] = .int(knowledge.vectorCount(kb))
        }
        return .object(o)
    }

    func documentJSON(_ d: DocumentInfo) -> JSONValue {
        [
            "id": .string(d.id), "object": "document", "title": .string(d.title), "content_type": .string(d.contentType),
            "sha256": .string(d.sha256), "bytes": .int(d.bytes), "chunks": .int(d.chunkCount),
            "metadata": d.metadata.flatMap { try? JSONParser.parse($0) } ?? .null, "created_at": .time(d.createdAt),
        ]
    }

    // MARK: Knowledge bases

    @Sendable func createKnowledgeBase(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var request = request
        let body = try BodyReader(
            try await request.jsonBody(limit: 64 * 1024), allowed: ["name", "tenant", "description", "embedding", "chunk_size", "chunk_overlap"])
        let name = try body.requiredString("name", maxBytes: 128)
        guard Names.isValidObject(name) else { throw TrellisError.invalidField("name", "must be \(Names.objectRule)") }
        let tenant: Tenant
        if let t = try context.owningTenant(body, in: gateway.snapshot) {
            tenant = t
        } else {
            throw TrellisError.missingField("tenant")
        }
        var embedding: KnowledgeBase.Embedding?
        if let e = try body.object("embedding") {
            let reader = try BodyReader(.object(e), allowed: ["upstream", "model"], path: "embedding")
            let upstream = try reader.requiredString("upstream", maxBytes: 128)
            let model = try reader.requiredString("model", maxBytes: 256)
            guard let registered = gateway.snapshot.upstreams[upstream] else {
                throw TrellisError.invalidRequest("'\(upstream.prefix(128))' is not a registered upstream.", param: "embedding.upstream", code: "invalid_value")
            }
            try knowledge.privacy.check(registered, param: "embedding.upstream")
            embedding = .init(upstream: upstream, model: model)
        }
        let size = try body.int("chunk_size", in: 32...8192) ?? Chunker.defaultSize
        let overlap = try body.int("chunk_overlap", in: 0...4096) ?? min(Chunker.defaultOverlap, size / 4)
        guard overlap <= size / 2 else { throw TrellisError.invalidField("chunk_overlap", "must be at most half of chunk_size") }
        let kb = try await gateway.store.createKnowledgeBase(
            name: name, tenantID: tenant.id, description: try body.string("description", maxBytes: 4096), embedding: embedding, chunkSize: size,
            chunkOverlap: overlap, actor: context.actor)
        try await gateway.reloadCatalog()
        return .json(kbJSON(kb, documents: 0, chunks: 0), status: .created)
    }

    @Sendable func listKnowledgeBases(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let caller = try context.manageKey()
        let snapshot = gateway.snapshot
        var list: [KnowledgeBase]
        if let caller {
            list = snapshot.knowledgeBases(tenantID: caller.tenantID)
        } else if let tenantName = request.uri.queryParameters.get("tenant") {
            let tenant = try context.managedTenant(named: tenantName, in: snapshot)
            list = snapshot.knowledgeBases(tenantID: tenant.id)
        } else {
            list = snapshot.allKnowledgeBases
        }
        return .json(["object": "list", "data": .array(list.map { kbJSON($0) })])
    }

    @Sendable func getKnowledgeBase(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let kb = try resolve(request, context, scopes: [.manage])
        let documents = try await gateway.store.documents(knowledgeBaseID: kb.id, limit: 1_000_000).count
        return .json(kbJSON(kb, documents: documents, chunks: try await gateway.store.chunkCount(knowledgeBaseID: kb.id)))
    }

    // MARK: Documents

    static let textTypes: [String: String] = [
        "text/plain": "text/plain", "text/markdown": "text/markdown", "text/x-markdown": "text/markdown", "text/html": "text/html",
        "application/xhtml+xml": "text/html", "application/pdf": "application/pdf",
    ]

    /// The text of an upload. A PDF is converted by `pdftotext` (fenced, see ``PDFText``), killed if the client
    /// leaves meanwhile.
    func extractText(_ raw: [UInt8], kind: String, context: AuthenticatedContext) async throws -> String {
        switch kind {
        case "application/pdf":
            // Each conversion is a process and a thread while it runs: at most `knowledge.pdf_max_concurrent`.
            guard gateway.pdfConversions.enter() else {
                throw TrellisError(
                    status: 503, type: "server_error", code: "server_overloaded",
                    message: "The gateway is converting \(gateway.pdfConversions.limit) PDFs already; try again shortly.",
                    headers: [("Retry-After", "1")])
            }
            defer { gateway.pdfConversions.leave() }
            let pdf = PDFText(config: gateway.config)
            return try await ClientDisconnect.cancelling(on: context.channel) { try await pdf.extract(raw) }
        default:
            guard let decoded = String(validating: raw, as: UTF8.self) else {
                throw TrellisError.invalidRequest("The document is not valid UTF-8 text.", code: "invalid_encoding")
            }
            return kind == "text/html" ? TextExtraction.fromHTML(decoded) : decoded
        }
    }

    /// JSON `{"title","text","metadata"}`, a multipart form, or a raw body with its content type (plain text, Markdown, HTML, or
    /// PDF when `pdftotext` is installed) and the title in `?title=`.
    @Sendable func uploadDocument(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let kb = try resolve(request, context, scopes: [.manage])
        var request = request
        let limit = gateway.config.maxDocumentBytes
        let contentType =
            request.headers[.contentType].map { MediaType.base(of: $0) } ?? "application/json"
        var title: String
        var text: String
        var metadata: String?
        var storedType: String
        var raw: [UInt8]
        if contentType == "application/json" || (contentType.hasPrefix("application/") && contentType.hasSuffix("+json")) {
            let body = try BodyReader(try await request.jsonBody(limit: limit), allowed: ["title", "text", "metadata", "content_type"])
            title = try body.requiredString("title", maxBytes: 1024)
            let content = try body.requiredString("text", maxBytes: limit)
            storedType = try body.string("content_type", maxBytes: 64) ?? "text/plain"
            guard storedType == "text/plain" || storedType == "text/markdown" || storedType == "text/html" else {
                throw TrellisError.invalidField("content_type", "must be text/plain, text/markdown or text/html")
            }
            if let m = body.value("metadata") {
                guard case .object = m else { throw TrellisError.invalidField("metadata", "must be an object") }
                metadata = JSONWriter.string(m)
            }
            raw = Array(content.utf8)
            text = storedType == "text/html" ? TextExtraction.fromHTML(content) : content
        } else if let kind = Self.textTypes[contentType] {
            let buffer = try await request.collectBytes(limit: limit)
            raw = Array(buffer.readableBytesView)
            storedType = kind
            title = request.uri.queryParameters.get("title").map { String($0) } ?? ""
            guard !title.isEmpty else { throw TrellisError.missingField("title") }
            text = try await extractText(raw, kind: kind, context: context)
        } else if contentType == "multipart/form-data" {
            // A form upload (`curl -F file=@handbook.md`): the part named `file` (or the first with a file
            // name), an optional `title` (else the file name) and `metadata` (a JSON object).
            guard let boundary = MultipartUpload.boundary(request.headers[.contentType] ?? "") else {
                throw TrellisError.invalidRequest("A multipart upload needs a boundary in its Content-Type.", code: "invalid_multipart")
            }
            let buffer = try await request.collectBytes(limit: limit + 64 * 1024)
            let form = try MultipartUpload.parse(buffer, boundary: boundary)
            guard let file = form.file else {
                throw TrellisError.invalidRequest(
                    "The form has no file: send it as the part named 'file'.", param: "file", code: "missing_required_parameter")
            }
            guard file.body.count <= limit else { throw TrellisError.tooLarge(limit: limit) }
            guard let kind = Self.textTypes[file.contentType ?? ""] ?? MultipartUpload.kind(ofFileName: file.fileName) else {
                throw TrellisError.unsupportedMediaType(
                    "The file must be text/plain, text/markdown, text/html or application/pdf (or named .txt, .md, .html, .pdf).")
            }
            raw = file.body
            storedType = kind
            title = form.fields["title"] ?? request.uri.queryParameters.get("title").map { String($0) } ?? file.fileName ?? ""
            guard !title.isEmpty else { throw TrellisError.missingField("title") }
            guard title.utf8.count <= 1024 else { throw TrellisError.invalidField("title", "must be at most 1024 bytes") }
            if let m = form.fields["metadata"] {
                guard case .object? = try? JSONParser.parse(Array(m.utf8)) else { throw TrellisError.invalidField("metadata", "must be a JSON object") }
                metadata = m
            }
            text = try await extractText(raw, kind: kind, context: context)
        } else {
            throw TrellisError.unsupportedMediaType(
                "Upload JSON {\"title\",\"text\"}, a multipart form with a file, or a raw body of type text/plain, text/markdown, text/html or application/pdf with ?title=."
            )
        }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw TrellisError.invalidRequest("The document has no text.", param: "text", code: "empty_document")
        }
        let write = try await knowledge.ingest(
            kb: kb, title: title, text: text, contentType: storedType, raw: raw, metadata: metadata, snapshot: gateway.snapshot,
            actor: context.actor, logger: context.logger)
        guard case .object(var json) = documentJSON(write.document) else { throw TrellisError.internalError }
        json["created"] = .bool(write.created)
        return .json(.object(json), status: write.created ? .created : .ok)
    }

    @Sendable func listDocuments(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let kb = try resolve(request, context, scopes: [.manage])
        let query = request.uri.queryParameters
        var limit = 100
        if let text = query.get("limit") {
            guard let n = Int(text), (1...1000).contains(n) else { throw TrellisError.invalidField("limit", "must be an integer from 1 to 1000") }
            limit = n
        }
        let docs = try await gateway.store.documents(knowledgeBaseID: kb.id, limit: limit + 1, afterID: query.get("after").map { String($0) })
        return .json(["object": "list", "data": .array(docs.prefix(limit).map(documentJSON)), "has_more": .bool(docs.count > limit)])
    }

    @Sendable func deleteDocument(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let kb = try resolve(request, context, scopes: [.manage])
        let id = context.parameters.decoded("id")
        try await knowledge.delete(kb: kb, documentID: id, actor: context.actor, knowledgeBases: gateway.snapshot.allKnowledgeBases)
        return .json(["id": .string(id), "object": "document", "deleted": true])
    }

    // MARK: Search

    @Sendable func search(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        _ = try context.tenantKey(operatorRefusal: "Search acts for a tenant: use a tenant key with the 'inference' or 'manage' scope.")
        let kb = try resolve(request, context, scopes: [.inference, .manage])
        var request = request
        let body = try BodyReader(try await request.jsonBody(limit: 64 * 1024), allowed: ["query", "top_k", "mode"])
        let query = try body.requiredString("query", maxBytes: 8192)
        let topK = try body.int("top_k", in: 1...50) ?? 5
        var mode: SearchMode = kb.embedding == nil ? .keyword : .hybrid
        if let m = try body.string("mode", maxBytes: 16) {
            guard let parsed = SearchMode(rawValue: m) else { throw TrellisError.invalidField("mode", "must be keyword, vector or hybrid") }
            mode = parsed
        }
        let started = ContinuousClock.now
        let (hits, effective) = try await knowledge.searchReportingMode(
            kb: kb, query: query, mode: mode, topK: topK, snapshot: gateway.snapshot, logger: context.logger)
        gateway.metrics.retrieval(seconds: (ContinuousClock.now - started).seconds, knowledgeBase: kb.name)
        return .json(
            [
                "object": "list", "mode": .string(effective.rawValue),
                "data": .array(
                    hits.map {
                        [
                            "document_id": .string($0.documentID), "title": .string($0.title), "chunk_id": .int(Int($0.chunkID)),
                            "heading": .string($0.heading),
                            "text": .string($0.text), "score": .double(($0.score * 1e6).rounded() / 1e6),
                        ]
                    }),
            ])
    }
}
