import HTTPTypes
import Hummingbird
import OpenAIWire
import TrellisCore

/// `/mcp`: the Model Context Protocol's Streamable HTTP transport for tenant keys with the `inference` scope, in
/// the revisions with the `initialize` handshake (2025-11-25, 2025-06-18, 2025-03-26) and the stateless 2026-07-28
/// revision (``modern(_:version:headers:key:call:)``), told apart by the `MCP-Protocol-Version` header.
///
/// - `POST` carries one JSON-RPC message (or a batch, as the 2025-03-26 revision allows). `initialize` opens a
///   session and answers with its `Mcp-Session-Id`; every later message must name it (400 without, 404 for a session
///   that is unknown, closed, idle too long or another key's: the client then initializes again). A request is
///   answered with `application/json`; notifications and the client's responses with 202 and no body.
/// - `DELETE` closes the session (204).
/// - `GET` (a stream for messages the server starts) is not offered: Trellis starts none (405).
///
/// HTTP-level refusals (a missing or revoked key 401, a key without `inference` 403, an oversized body 413) are
/// the gateway's OpenAI-shaped errors; everything inside the protocol is a JSON-RPC error.
struct MCPController {
    let gateway: Gateway
    let sessions: MCPSessions

    static let sessionHeader = HTTPField.Name("Mcp-Session-Id")!
    static let versionHeader = HTTPField.Name("MCP-Protocol-Version")!

    func register(on group: RouterGroup<TenantContext>) {
        group.post(use: post)
        group.delete(use: delete)
    }

    var server: MCPServer { MCPServer(gateway: gateway, sessions: sessions) }

    @Sendable func post(_ request: Request, context: TenantContext) async throws -> Response {
        var request = request
        let body: JSONValue
        do {
            body = try await request.jsonBody(limit: gateway.config.maxBodyBytes)
        } catch let error as TrellisError where error.code == "invalid_json" {
            return Self.rpc(JSONRPC.error(id: .null, code: JSONRPC.Code.parseError, message: error.message), status: .badRequest)
        }
        let call = CallContext(requestID: context.requestID, logger: context.logger, connection: ClientConnection(channel: context.channel))
        let key = context.key
        // A revision header that is not a handshake revision's is the stateless 2026-07-28 revision's (or unknown).
        if let version = request.headers[Self.versionHeader], !MCPServer.protocolVersions.contains(version) {
            return await modern(body, version: version, headers: request.headers, key: key, call: call)
        }
        if case .object(let object) = body, object["method"]?.stringValue == "initialize" {
            return initialize(object, key: key)
        }
        guard let sessionID = request.headers[Self.sessionHeader] else {
            return Self.rpc(
                JSONRPC.error(id: .null, code: JSONRPC.Code.invalidRequest, message: "The Mcp-Session-Id header is required: send initialize first."),
                status: .badRequest)
        }
        guard let session = sessions.use(sessionID, keyID: key.id, at: gateway.clock()) else {
            return Self.rpc(
                JSONRPC.error(id: .null, code: -32_001, message: "Session not found: it was closed or expired. Send initialize again."),
                status: .notFound)
        }
        switch body {
        case .array(let items):
            // Batches are the 2025-03-26 revision's only (later ones removed them), and bounded.
            guard session.protocolVersion == "2025-03-26", (1...Self.maxBatch).contains(items.count) else {
                return Self.rpc(
                    JSONRPC.error(
                        id: .null, code: JSONRPC.Code.invalidRequest,
                        message: "A batch of 1 to \(Self.maxBatch) messages is accepted in revision 2025-03-26 only."),
                    status: .badRequest)
            }
            var answers: [JSONValue] = []
            for item in items {
                let message: JSONRPC.Message
                do {
                    message = try JSONRPC.message(item)
                } catch {
                    answers.append(error.json)
                    continue
                }
                if let answer = await handle(message, key: key, call: call) { answers.append(answer) }
            }
            return answers.isEmpty ? Response(status: .accepted) : Self.rpc(.array(answers))
        default:
            let message: JSONRPC.Message
            do {
                message = try JSONRPC.message(body)
            } catch {
                return Self.rpc(error.json, status: .badRequest)
            }
            guard let answer = await handle(message, key: key, call: call) else { return Response(status: .accepted) }
            return Self.rpc(answer)
        }
    }

    /// The most messages one batch may hold.
    static let maxBatch = 32

    /// One message of an open session: the answer to a request, nil for anything else.
    func handle(_ message: JSONRPC.Message, key: TenantKey, call: CallContext) async -> JSONValue? {
        switch message {
        case .notification, .response:
            return nil
        case .request(let id, "initialize", _):
            return JSONRPC.error(id: id, code: JSONRPC.Code.invalidRequest, message: "The session is already initialized.")
        case .request(let id, let method, let params):
            return await server.answer(method: method, params: params, id: id, key: key, call: call)
        }
    }

    /// `initialize`: agrees on a revision and opens a session for the key.
    func initialize(_ object: JSONObject, key: TenantKey) -> Response {
        let message: JSONRPC.Message
        do {
            message = try JSONRPC.message(.object(object))
        } catch {
            return Self.rpc(error.json, status: .badRequest)
        }
        guard case .request(let id, _, let params) = message else {
            return Self.rpc(JSONRPC.error(id: .null, code: JSONRPC.Code.invalidRequest, message: "initialize must be a request."), status: .badRequest)
        }
        let version = MCPServer.negotiate(params["protocolVersion"]?.stringValue)
        let sessionID = sessions.open(keyID: key.id, protocolVersion: version, at: gateway.clock())
        var response = Self.rpc(JSONRPC.result(id: id, MCPServer.initializeResult(version: version)))
        response.headers[Self.sessionHeader] = sessionID
        return response
    }

    @Sendable func delete(_ request: Request, context: TenantContext) async throws -> Response {
        guard let sessionID = request.headers[Self.sessionHeader] else {
            return Self.rpc(JSONRPC.error(id: .null, code: JSONRPC.Code.invalidRequest, message: "The Mcp-Session-Id header is required."), status: .badRequest)
        }
        guard sessions.close(sessionID, keyID: context.key.id) else {
            return Self.rpc(JSONRPC.error(id: .null, code: -32_001, message: "Session not found."), status: .notFound)
        }
        return Response(status: .noContent)
    }

    static func rpc(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        .json(bytes: JSONWriter.encode(value), status: status)
    }
}
