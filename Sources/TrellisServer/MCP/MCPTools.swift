import HTTPTypes
import Logging
import OpenAIWire
import TrellisCore

/// The tools `/mcp` offers a tenant key: `knowledge_search` over the tenant's knowledge bases and `ask_model` over
/// the models the key may call, each listed only when it has something to offer, their JSON schemas enumerating
/// exactly what the key may name. A call runs in the HTTP request's own task, through the same admission, usage
/// and audit as the `/v1` routes; each is recorded under a request id of its own (`structuredContent.request_id`),
/// with the endpoint `mcp:<tool>`.
struct MCPTools {
    let gateway: Gateway

    static let knowledgeSearch = "knowledge_search"
    static let askModel = "ask_model"

    func list(for key: TenantKey, snapshot: CatalogSnapshot) -> [JSONValue] {
        var tools: [JSONValue] = []
        let bases = snapshot.knowledgeBases(tenantID: key.tenantID).map(\.name).sorted()
        if !bases.isEmpty {
            tools.append([
                "name": .string(Self.knowledgeSearch), "title": "Search knowledge",
                "description": "Searches one of your organisation's knowledge bases and returns the best passages with their sources.",
                "inputSchema": [
                    "type": "object", "additionalProperties": false, "required": ["knowledge_base", "query"],
                    "properties": [
                        "knowledge_base": ["type": "string", "enum": .array(bases.map { .string($0) })],
                        // No maxLength: model servers turn schemas into grammars, and a long bound makes a huge one (the
                        // gateway refuses a query over 8 KiB itself).
                        "query": ["type": "string", "minLength": 1, "description": "What to search for (at most 8 KiB)."],
                        "top_k": ["type": "integer", "minimum": 1, "maximum": 20, "default": 5],
                    ],
                ],
            ])
        }
        let models = snapshot.visibleModels(tenantID: key.tenantID).filter { key.models.allows($0.name) }.map(\.name).sorted()
        if !models.isEmpty {
            tools.append([
                "name": .string(Self.askModel), "title": "Ask a model",
                "description": "Asks one of your organisation's industry models and returns its answer.",
                "inputSchema": [
                    "type": "object", "additionalProperties": false, "required": ["model", "input"],
                    "properties": [
                        "model": ["type": "string", "enum": .array(models.map { .string($0) })],
                        "input": ["type": "string", "minLength": 1],
                        "variables": ["type": "object", "additionalProperties": ["type": "string"]],
                    ],
                ],
            ])
        }
        return tools
    }

    /// `tools/call`. An unknown tool is a protocol error; bad arguments, refusals (limits, a model the key may
    /// not call) and upstream failures are the tool's own errors (`isError`), so a model can read and correct them.
    func call(_ name: String, arguments: JSONObject, key: TenantKey, call: CallContext) async throws(JSONRPC.Failure) -> JSONValue {
        do {
            switch name {
            case Self.knowledgeSearch: return try await search(arguments, key: key, call: call)
            case Self.askModel: return try await ask(arguments, key: key, call: call)
            default: throw JSONRPC.Failure(code: JSONRPC.Code.invalidParams, message: "Unknown tool '\(name.prefix(64))'.")
            }
        } catch let failure as JSONRPC.Failure {
            throw failure
        } catch let error as TrellisError {
            return Self.toolError(error.message)
        } catch is CancellationError {
            return Self.toolError("The call was cancelled.")
        } catch {
            call.logger.error("MCP tool call failed", metadata: ["tool": "\(name.prefix(64))", "error_type": "\(type(of: error))"])
            return Self.toolError(TrellisError.internalError.message)
        }
    }

    static func toolError(_ message: String) -> JSONValue {
        ["content": [["type": "text", "text": .string(message)]], "isError": true]
    }

    // MARK: knowledge_search

    func search(_ arguments: JSONObject, key: TenantKey, call: CallContext) async throws -> JSONValue {
        let reader = try BodyReader(.object(arguments), allowed: ["knowledge_base", "query", "top_k"])
        let name = try reader.requiredString("knowledge_base", maxBytes: 256)
        let query = try reader.requiredString("query", maxBytes: 8192)
        let topK = try reader.int("top_k", in: 1...20) ?? 5
        let snapshot = gateway.snapshot
        guard let kb = snapshot.knowledgeBase(named: name, tenantID: key.tenantID) else {
            throw TrellisError.notFound("The knowledge base '\(name.prefix(128))'")
        }
        let requestID = RequestIDs.make()
        let start = RequestStart.now()
        let estimate = TokenEstimator.estimate(text: query)
        let ticket = try await gateway.admit(key, estimatedTokens: estimate)
        let subject = UsageSubject(
            endpoint: "mcp:\(Self.knowledgeSearch)", requestID: requestID, start: start, key: key, user: nil, model: "knowledge:\(kb.name)",
            version: nil, stream: false)
        var accounting = Accounting(gateway: gateway, subject: subject, promptEstimate: estimate, admission: ticket, priced: false)
        do {
            let mode: SearchMode = kb.embedding == nil ? .keyword : .hybrid
            let (hits, _) = try await gateway.knowledge.searchReportingMode(
                kb: kb, query: query, mode: mode, topK: topK, snapshot: snapshot, logger: call.logger)
            accounting.finish(status: 200, usage: TokenUsage(promptTokens: estimate, completionTokens: 0))
            let citations = KnowledgeContext.citations(hits).arrayValue ?? []
            let text = zip(citations, hits).map { citation, hit in
                "[\(citation["index"]?.numberValue?.intValue ?? 0)] \(hit.title)\n\(hit.text)"
            }.joined(separator: "\n\n")
            return [
                "content": [["type": "text", "text": .string(hits.isEmpty ? "Nothing found." : text)]],
                "structuredContent": ["knowledge_base": .string(kb.name), "request_id": .string(requestID), "results": .array(citations)],
                "isError": false,
            ]
        } catch {
            accounting.fail(error)
            throw error
        }
    }

    // MARK: ask_model

    func ask(_ arguments: JSONObject, key: TenantKey, call: CallContext) async throws -> JSONValue {
        let reader = try BodyReader(.object(arguments), allowed: ["model", "input", "variables"])
        let model = try reader.requiredString("model", maxBytes: 256)
        let input = try reader.requiredString("input", maxBytes: gateway.config.maxBodyBytes)
        var body: JSONObject = ["model": .string(model), "messages": [["role": "user", "content": .string(input)]]]
        if let variables = arguments["variables"], !variables.isNull { body["variables"] = variables }
        let chat = try ChatRequest.parse(.object(body), limits: .init(maxMessages: gateway.config.maxMessages))
        let requestID = RequestIDs.make()
        let own = CallContext(requestID: requestID, logger: call.logger, connection: call.connection)
        let outcome = try await InferenceFlow(gateway: gateway).chat(chat, key: key, call: own, endpoint: "mcp:\(Self.askModel)")
        guard case .complete(let bytes, let headers) = outcome, case .object(let completion) = try JSONParser.parse(bytes) else {
            throw TrellisError.internalError
        }
        let answer = completion["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue ?? ""
        var structured: JSONObject = [
            "model": .string(model), "answer": .string(answer), "request_id": .string(requestID),
            "model_version": headers.fields[.modelVersion].flatMap { Int($0) }.map { .int($0) } ?? .null,
        ]
        if let usage = completion["usage"] { structured["usage"] = usage }
        if let citations = completion["citations"] { structured["citations"] = citations }
        return ["content": [["type": "text", "text": .string(answer)]], "structuredContent": .object(structured), "isError": false]
    }
}
