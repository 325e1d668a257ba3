import Logging
import OpenAIWire
import Synchronization
import TrellisCore

/// The Model Context Protocol's methods for a tenant key: `initialize` (which opens a session), `ping`,
/// `tools/list`, `tools/call`, `prompts/list` and `prompts/get`. Notifications and the client's responses are
/// acknowledged and otherwise ignored (Trellis sends the client no requests).
struct MCPServer: Sendable {
    let gateway: Gateway
    let sessions: MCPSessions

    /// Revisions served through the `initialize` handshake, newest first; a client asking for another gets the newest.
    static let protocolVersions = ["2025-11-25", "2025-06-18", "2025-03-26"]

    static func negotiate(_ requested: String?) -> String {
        requested.flatMap { protocolVersions.contains($0) ? $0 : nil } ?? protocolVersions[0]
    }

    /// The `initialize` result for the agreed revision.
    static func initializeResult(version: String) -> JSONValue {
        [
            "protocolVersion": .string(version),
            "capabilities": ["tools": ["listChanged": false], "prompts": ["listChanged": false]],
            "serverInfo": ["name": "trellis", "title": "Trellis", "version": .string(TrellisVersion.string)],
            "instructions": .string(instructions),
        ]
    }

    static let instructions = "Tools and prompts of your organisation on Trellis: search its knowledge bases, ask its industry models."

    /// The answer to one request of an open session.
    func answer(method: String, params: JSONObject, id: JSONValue, key: TenantKey, call: CallContext) async -> JSONValue {
        do {
            return JSONRPC.result(id: id, try await result(method: method, params: params, key: key, call: call))
        } catch {
            return JSONRPC.Failure(code: error.code, message: error.message, id: id).json
        }
    }

    private func result(method: String, params: JSONObject, key: TenantKey, call: CallContext) async throws(JSONRPC.Failure) -> JSONValue {
        let snapshot = gateway.snapshot
        switch method {
        case "ping":
            return .object(JSONObject())
        case "tools/list":
            return ["tools": .array(MCPTools(gateway: gateway).list(for: key, snapshot: snapshot))]
        case "tools/call":
            guard case .string(let name)? = params["name"] else { throw Self.invalid("'name' is required.") }
            let arguments: JSONObject
            switch params["arguments"] {
            case nil, .null?: arguments = JSONObject()
            case .object(let a)?: arguments = a
            default: throw Self.invalid("'arguments' must be an object.")
            }
            return try await MCPTools(gateway: gateway).call(name, arguments: arguments, key: key, call: call)
        case "prompts/list":
            let prompts = Self.visiblePrompts(for: key, snapshot: snapshot).sorted { $0.name < $1.name }
            return ["prompts": .array(prompts.compactMap(MCPPrompts.listing))]
        case "prompts/get":
            guard case .string(let name)? = params["name"] else { throw Self.invalid("'name' is required.") }
            guard let prompt = Self.visiblePrompts(for: key, snapshot: snapshot).first(where: { $0.name == name }) else {
                throw Self.invalid("Unknown prompt '\(name.prefix(64))'.")
            }
            return try MCPPrompts.render(prompt, arguments: try Self.stringArguments(params["arguments"]))
        default:
            throw JSONRPC.Failure(code: JSONRPC.Code.methodNotFound, message: "Method not found: \(method.prefix(64))")
        }
    }

    /// The prompts a key may read: its tenant's library (its own and the shared prompts) for a key that may call
    /// every model or has the `manage` scope; for a key limited to some models, only the library prompts those
    /// models name, so a model's hidden system prompt is no more visible than the model.
    static func visiblePrompts(for key: TenantKey, snapshot: CatalogSnapshot) -> [Prompt] {
        let library = snapshot.visiblePrompts(tenantID: key.tenantID)
        if key.scopes.contains(.manage) || key.models == .all { return library }
        var named = Set<String>()
        for model in snapshot.visibleModels(tenantID: key.tenantID) where key.models.allows(model.name) {
            for version in model.versions {
                if case .named(let name, _, _)? = version.spec.prompt { named.insert(name) }
            }
        }
        return library.filter { named.contains($0.name) }
    }

    static func stringArguments(_ value: JSONValue?) throws(JSONRPC.Failure) -> [String: String] {
        guard let value, !value.isNull else { return [:] }
        guard case .object(let object) = value else { throw invalid("'arguments' must be an object of strings.") }
        var out: [String: String] = [:]
        for member in object {
            guard case .string(let s) = member.value else { throw invalid("Argument '\(member.key.prefix(64))' must be a string.") }
            out[member.key] = s
        }
        return out
    }

    static func invalid(_ message: String) -> JSONRPC.Failure {
        JSONRPC.Failure(code: JSONRPC.Code.invalidParams, message: message)
    }
}

/// The gateway's MCP sessions (``MCPSessionTable`` under a lock), swept of idle ones as sessions are opened. Time is
/// the gateway's clock (`Gateway.clock`, seconds), passed in by the caller, so a test can move it.
final class MCPSessions: Sendable {
    private let table: Mutex<MCPSessionTable>
    /// Where the gateway's clock readings are counted from in the table's instants (only their differences count).
    private let origin = ContinuousClock.now

    init(maxPerKey: Int, idle: Duration) {
        table = Mutex(MCPSessionTable(maxPerKey: maxPerKey, idle: idle))
    }

    private func instant(_ seconds: Double) -> ContinuousClock.Instant { origin + .seconds(seconds) }

    /// Opens a session for the key with a new id (`mcp-` and 32 hex digits, all random), at `seconds` on the gateway's clock.
    func open(keyID: String, protocolVersion: String, at seconds: Double) -> String {
        var random = SystemRandomNumberGenerator()
        let id = "mcp-" + RequestIDs.hex(random.next() as UInt64) + RequestIDs.hex(random.next() as UInt64)
        let now = instant(seconds)
        table.withLock {
            $0.sweep(now: now)
            $0.open(id: id, keyID: keyID, protocolVersion: protocolVersion, now: now)
        }
        return id
    }

    func use(_ id: String, keyID: String, at seconds: Double) -> MCPSessionTable.Session? {
        let now = instant(seconds)
        return table.withLock { $0.use(id, keyID: keyID, now: now) }
    }

    func close(_ id: String, keyID: String) -> Bool {
        table.withLock { $0.close(id, keyID: keyID) }
    }

    var count: Int { table.withLock { $0.count } }
}
