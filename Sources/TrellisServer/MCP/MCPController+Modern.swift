import HTTPTypes
import Hummingbird
import OpenAIWire
import TrellisCore

/// The 2026-07-28 revision of the Model Context Protocol: no sessions and no `initialize`; each request carries
/// its revision and the client's capabilities in `params._meta` (and the revision, method and name in headers), and
/// `server/discover` says what the server speaks. Results carry `resultType`, lists and discovery also `ttlMs` and
/// `cacheScope`. Errors map to HTTP statuses as the revision says: malformed or refused requests 400, an unknown
/// method 404, others 200.
extension MCPController {
    static let modernVersions = ["2026-07-28"]
    static let metaVersion = "io.modelcontextprotocol/protocolVersion"
    static let metaCapabilities = "io.modelcontextprotocol/clientCapabilities"
    static let methodHeader = HTTPField.Name("Mcp-Method")!

    /// Header mismatch and unsupported revision, the revision's own codes.
    static let headerMismatch = -32_020
    static let unsupportedVersion = -32_022

    func modern(_ body: JSONValue, version: String, headers: HTTPFields, key: TenantKey, call: CallContext) async -> Response {
        let message: JSONRPC.Message
        do {
            message = try JSONRPC.message(body)
        } catch {
            return Self.modernError(error)
        }
        guard case .request(let id, let method, let params) = message else { return Response(status: .accepted) }
        guard Self.modernVersions.contains(version) else {
            var error = JSONRPC.error(id: id, code: Self.unsupportedVersion, message: "Unsupported protocol version '\(version.prefix(32))'.")
            if case .object(var object) = error, case .object(var inner)? = object["error"] {
                inner["data"] = [
                    "supported": .array((Self.modernVersions + MCPServer.protocolVersions).map { .string($0) }),
                    "requested": .string(String(version.prefix(32))),
                ]
                object["error"] = .object(inner)
                error = .object(object)
            }
            return Self.rpc(error, status: .badRequest)
        }
        let meta = params["_meta"]?.objectValue ?? JSONObject()
        guard meta[Self.metaVersion]?.stringValue != nil, meta[Self.metaCapabilities] != nil else {
            return Self.modernError(
                JSONRPC.Failure(
                    code: JSONRPC.Code.invalidParams, message: "params._meta must carry the protocol version and the client's capabilities.", id: id))
        }
        guard meta[Self.metaVersion]?.stringValue == version, headers[Self.methodHeader].map({ $0 == method }) ?? true else {
            return Self.modernError(
                JSONRPC.Failure(code: Self.headerMismatch, message: "The MCP headers do not match the request's body.", id: id))
        }
        if method == "server/discover" {
            return Self.rpc(JSONRPC.result(id: id, Self.discovery))
        }
        let answer = await server.answer(method: method, params: params, id: id, key: key, call: call)
        guard case .object(let object) = answer, case .object(var result)? = object["result"] else {
            let code = answer["error"]?["code"]?.numberValue?.intValue ?? JSONRPC.Code.internalError
            return Self.rpc(answer, status: Self.status(code))
        }
        result["resultType"] = "complete"
        if method == "tools/list" || method == "prompts/list" {
            result["ttlMs"] = 0
            result["cacheScope"] = "private"
        }
        return Self.rpc(JSONRPC.result(id: id, .object(result)))
    }

    /// What `server/discover` answers: the revision, the capabilities, nothing to cache across keys.
    static var discovery: JSONValue {
        [
            "supportedVersions": .array(modernVersions.map { .string($0) }),
            "capabilities": ["tools": [:], "prompts": [:]],
            "resultType": "complete", "ttlMs": 0, "cacheScope": "private",
            "instructions": .string(MCPServer.instructions),
            "_meta": ["io.modelcontextprotocol/serverInfo": ["name": "trellis", "version": .string(TrellisVersion.string)]],
        ]
    }

    static func modernError(_ failure: JSONRPC.Failure) -> Response {
        rpc(failure.json, status: status(failure.code))
    }

    static func status(_ code: Int) -> HTTPResponse.Status {
        switch code {
        case JSONRPC.Code.methodNotFound: .notFound
        case JSONRPC.Code.parseError, JSONRPC.Code.invalidRequest, JSONRPC.Code.invalidParams, headerMismatch, -32_021, unsupportedVersion: .badRequest
        default: .ok
        }
    }
}
