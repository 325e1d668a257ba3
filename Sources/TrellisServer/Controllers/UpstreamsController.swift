import Foundation
import Hummingbird
import OpenAIWire
import TrellisCore
import TrellisStore

/// Upstream model servers under `/admin/v1`: registered and read by the operator only (their addresses and
/// credentials' names are the deployment's, not a tenant's).
struct UpstreamsController {
    let gateway: Gateway

    func register(on group: RouterGroup<AuthenticatedContext>) {
        let operatorOnly = group.group(context: OperatorContext.self)
        operatorOnly.post("upstreams", use: createUpstream)
        operatorOnly.get("upstreams", use: listUpstreams)
        operatorOnly.get("upstreams/{name}", use: getUpstream)
    }

    func upstreamJSON(_ u: Upstream) -> JSONValue {
        let keyPresent: JSONValue
        switch gateway.credential(for: u) {
        case .none: keyPresent = .null
        case .key: keyPresent = true
        case .missing: keyPresent = false
        }
        return [
            "id": .string(u.id), "object": "upstream", "name": .string(u.name), "base_url": .string(u.baseURL), "kind": .string(u.kind.rawValue),
            "labels": .array(u.labels.map(\.rawValue).sorted().map { .string($0) }), "api_key_env": .optionalString(u.apiKeyEnv),
            "api_key_present": keyPresent,
            "timeouts": [
                "connect_ms": .int(u.timeouts.connectMs), "first_byte_ms": .int(u.timeouts.firstByteMs), "idle_ms": .int(u.timeouts.idleMs),
                "total_ms": .int(u.timeouts.totalMs),
            ],
            "created_at": .time(u.createdAt), "health": gateway.health.json(u.name), "pricing": u.pricing?.json ?? .null,
        ]
    }

    @Sendable func createUpstream(_ request: Request, context: OperatorContext) async throws -> Response {
        var request = request
        let body = try BodyReader(
            try await request.jsonBody(limit: 64 * 1024), allowed: Self.upstreamFields)
        let new = try Self.parseUpstream(body)
        try await EgressCache.checkRegistration(baseURL: new.baseURL, policy: gateway.config.egress)
        let upstream = try await gateway.store.createUpstream(new, actor: context.actor)
        try await gateway.reloadCatalog()
        return .json(upstreamJSON(upstream), status: .created)
    }

    static let upstreamFields = ["name", "base_url", "kind", "labels", "api_key_env", "timeouts", "pricing"]

    /// Reads an upstream registration (the API's body or a catalog entry).
    static func parseUpstream(_ body: BodyReader) throws -> NewUpstream {
        let name = try body.requiredString("name", maxBytes: 128)
        guard Names.isValidObject(name) else { throw TrellisError.invalidField("name", "must be \(Names.objectRule)") }
        let baseURL = try UpstreamURL.validate(try body.requiredString("base_url", maxBytes: 2048))
        let kindText = try body.string("kind", maxBytes: 32) ?? "openai"
        guard let kind = UpstreamKind(rawValue: kindText) else {
            throw TrellisError.invalidField("kind", "must be one of openai, vllm, llamacpp, ollama")
        }
        var labels: Set<UpstreamLabel> = []
        for (i, l) in (try body.strings("labels", maxCount: 4, maxBytes: 32) ?? []).enumerated() {
            guard let label = UpstreamLabel(rawValue: l) else { throw TrellisError.invalidField("labels[\(i)]", "must be 'private' or 'external'") }
            labels.insert(label)
        }
        if labels.contains(.private) && labels.contains(.external) {
            throw TrellisError.invalidField("labels", "cannot be both private and external")
        }
        if labels.isEmpty { labels = [.private] }
        let apiKeyEnv = try body.string("api_key_env", maxBytes: 128)
        if let env = apiKeyEnv, !Self.isEnvironmentName(env) {
            throw TrellisError.invalidField("api_key_env", "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*); put the key itself in that variable")
        }
        var timeouts = UpstreamTimeouts.default
        if let t = try body.object("timeouts") {
            let reader = try BodyReader(.object(t), allowed: ["connect_ms", "first_byte_ms", "idle_ms", "total_ms"], path: "timeouts")
            func ms(_ key: String) throws -> Int? {
                do { return try reader.int(key, in: 1...86_400_000) } catch {
                    throw TrellisError.invalidField("timeouts.\(key)", "must be an integer from 1 to 86400000")
                }
            }
            timeouts.connectMs = try ms("connect_ms") ?? timeouts.connectMs
            timeouts.firstByteMs = try ms("first_byte_ms") ?? timeouts.firstByteMs
            timeouts.idleMs = try ms("idle_ms") ?? timeouts.idleMs
            timeouts.totalMs = try ms("total_ms") ?? timeouts.totalMs
        }
        var pricing: Pricing?
        if let p = body.value("pricing") { pricing = try Pricing.parse(p) }
        return NewUpstream(name: name, baseURL: baseURL, kind: kind, labels: labels, apiKeyEnv: apiKeyEnv, timeouts: timeouts, pricing: pricing)
    }

    static func isEnvironmentName(_ s: String) -> Bool {
        guard let first = s.utf8.first, first == 0x5F || (first >= 0x41 && first <= 0x5A) || (first >= 0x61 && first <= 0x7A) else { return false }
        return s.utf8.allSatisfy { $0 == 0x5F || ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }
    }

    @Sendable func listUpstreams(_ request: Request, context: OperatorContext) async throws -> Response {
        let upstreams = gateway.snapshot.upstreams.values.sorted { $0.name < $1.name }
        return .json(["object": "list", "data": .array(upstreams.map(upstreamJSON))])
    }

    @Sendable func getUpstream(_ request: Request, context: OperatorContext) async throws -> Response {
        let name = context.parameters.decoded("name")
        guard let upstream = gateway.snapshot.upstreams[name] else { throw TrellisError.notFound("The upstream '\(name.prefix(64))'") }
        return .json(upstreamJSON(upstream))
    }
}

enum UpstreamURL {
    /// An upstream base URL: http or https, a host, no credentials, query or fragment; trailing slashes dropped.
    static func validate(_ text: String) throws -> String {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else {
            throw TrellisError.invalidField("base_url", "must be an http or https URL with a host, such as http://10.0.0.5:8000/v1")
        }
        if components.user != nil || components.password != nil {
            throw TrellisError.invalidField("base_url", "must not contain credentials; name an environment variable in 'api_key_env'")
        }
        if components.query != nil || components.fragment != nil {
            throw TrellisError.invalidField("base_url", "must not have a query or fragment")
        }
        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}
