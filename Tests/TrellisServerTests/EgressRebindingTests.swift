import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import OpenAIWire
import Synchronization
import Testing
import TrellisCore

@testable import TrellisServer

/// Egress at connect time (DNS rebinding). Two small model servers share one port: the "checked" one on
/// 127.0.0.2, the only address `egress.allow` permits, and the "other" one on 127.0.0.1, which is where the
/// system resolver (`/etc/hosts`) sends `localhost`. The gateway's resolver is replaced by one that answers
/// 127.0.0.2 first and 127.0.0.1 after that. Every outbound call must go to the address that was checked,
/// or not be made: the other server must never see a request.
@Suite struct EgressRebindingTests {
    static let checked = "127.0.0.2"
    static let other = "127.0.0.1"

    static func policy(_ rules: String...) -> EgressPolicy {
        (try? EgressPolicy(rules: rules)) ?? .privateOnly
    }

    static func chat(_ model: String) -> JSONValue {
        ["model": .string(model), "messages": [["role": "user", "content": "hello"]]]
    }

    /// Answers `first` for the first lookup and `then` for every later one, counting lookups.
    final class RebindingResolver: Sendable {
        private let state = Mutex(0)
        let first: [IPAddress]
        let then: [IPAddress]

        init(first: String, then: String) {
            self.first = [IPAddress(first)].compactMap { $0 }
            self.then = [IPAddress(then)].compactMap { $0 }
        }

        var lookups: Int { state.withLock { $0 } }

        func resolve(_ host: String, _ port: Int) -> [IPAddress] {
            let n = state.withLock { count -> Int in
                count += 1
                return count
            }
            return n == 1 ? first : then
        }
    }

    /// The pair of servers on one port, stopped when `body` returns.
    static func withPair<T>(
        tls: TLSConfiguration? = nil, _ body: (_ checked: RecordingUpstream, _ other: RecordingUpstream) async throws -> T
    ) async throws
        -> T
    {
        let other = RecordingUpstream()
        let port = try await other.start(address: Self.other, port: 0, tls: tls)
        let checked = RecordingUpstream()
        do {
            _ = try await checked.start(address: Self.checked, port: port, tls: tls)
        } catch {
            await other.stop()
            throw error
        }
        return try await stopping({
            await checked.stop()
            await other.stop()
        }) { try await body(checked, other) }
    }

    /// Registers the catalog under the default policy (at registration `localhost` resolves to loopback,
    /// which is private): tenant `acme`, the upstream `rebind` of `kind` at `localhost:<port>`, then what
    /// `register` adds. Then runs the gateway again on the same data with `egress.allow: 127.0.0.2/32`, the
    /// rebinding resolver installed and a clock the test moves.
    static func withGateway(
        port: Int, kind: String = "openai", register: (TestGateway) async throws -> Void,
        _ body: (TestGateway, RebindingResolver, FakeClock) async throws -> Void
    ) async throws {
        let dataDir = TestGateway.makeDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        try await TestGateway.run(dataDir: dataDir) { gw in
            try await gw.createTenant("acme")
            try await gw.createUpstream("rebind", baseURL: "http://localhost:\(port)/v1", kind: kind)
            try await register(gw)
        }
        let clock = FakeClock()
        try await TestGateway.run(
            dataDir: dataDir, configure: { $0.egress = Self.policy("\(Self.checked)/32") }, environment: [:], clock: clock.now
        ) { gw in
            let resolver = RebindingResolver(first: Self.checked, then: Self.other)
            gw.gateway.egressCache.setResolver { resolver.resolve($0, $1) }
            try await body(gw, resolver, clock)
        }
    }

    @Test("chat and /v1/embeddings connect to the address that was checked, never to a fresh resolution; a rebound name is refused")
    func chatAndEmbeddingsGoToTheCheckedAddress() async throws {
        try await Self.withPair { checked, other in
            let host = "localhost:\(checked.port)"
            var key = ""
            try await Self.withGateway(
                port: checked.port,
                register: { gw in
                    try await gw.createModel("m", spec: ["upstream": "rebind", "model": "m"])
                    try await gw.createModel("e", spec: ["upstream": "rebind", "model": "e"])
                    key = try await gw.issueKey(tenant: "acme").key
                }
            ) { gw, resolver, clock in
                for _ in 0..<3 {
                    let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("m"))
                    #expect(reply.status == 200, "\(reply.text)")
                }
                let embedded = try await gw.request(.POST, "/v1/embeddings", key: key, json: ["model": "e", "input": ["a", "b"]])
                #expect(embedded.status == 200, "\(embedded.text)")
                #expect(other.requests.isEmpty, "nothing reached the address that was never checked: \(other.requests)")
                #expect(checked.requests.map(\.path) == ["/v1/chat/completions", "/v1/chat/completions", "/v1/chat/completions", "/v1/embeddings"])
                #expect(checked.requests.allSatisfy { $0.host == host }, "the Host header still names the upstream: \(checked.requests)")
                #expect(resolver.lookups == 1, "one lookup for the verdict's lifetime, not one per request")

                // The verdict expires and the name now answers an address outside egress.allow.
                clock.advance(31)
                let refused = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("m"))
                #expect(refused.status == 502)
                #expect(refused.errorCode == "egress_denied")
                let refusedEmbeddings = try await gw.request(.POST, "/v1/embeddings", key: key, json: ["model": "e", "input": "a"])
                #expect(refusedEmbeddings.errorCode == "egress_denied")
                #expect(other.requests.isEmpty, "nothing reached the rebound address: \(other.requests)")
                #expect(checked.requests.count == 4)
            }
        }
    }

    @Test("knowledge-base embeddings pass the egress check and connect to the checked address")
    func knowledgeEmbeddingsAreChecked() async throws {
        try await Self.withPair { checked, other in
            let host = "localhost:\(checked.port)"
            var manage = ""
            try await Self.withGateway(
                port: checked.port,
                register: { gw in
                    // An IP literal outside egress.allow once the gateway runs with 127.0.0.2/32.
                    try await gw.createUpstream("outside", baseURL: "http://\(Self.other):\(checked.port)/v1")
                    for (name, upstream) in [("near", "rebind"), ("far", "outside")] {
                        let reply = try await gw.admin(
                            .POST, "/knowledge-bases",
                            ["name": .string(name), "tenant": "acme", "embedding": ["upstream": .string(upstream), "model": "embed"]])
                        try #require(reply.status == 201, "\(reply.text)")
                    }
                    manage = try await gw.issueKey(tenant: "acme", ["scopes": ["manage", "inference"]]).key
                }
            ) { gw, _, clock in
                func upload(_ kb: String) async throws -> TestGateway.Reply {
                    try await gw.request(
                        .POST, "/admin/v1/knowledge-bases/\(kb)/documents?title=notes", key: manage, rawBody: Array("Refunds take five days.".utf8),
                        headers: [("Content-Type", "text/plain")])
                }
                let far = try await upload("far")
                #expect(far.status == 502, "\(far.text)")
                #expect(far.errorCode == "egress_denied")
                let farSearch = try await gw.request(
                    .POST, "/v1/knowledge-bases/far/search", key: manage, json: ["query": "refunds", "mode": "vector"])
                #expect(farSearch.status == 502 && farSearch.errorCode == "egress_denied", "\(farSearch.text)")
                #expect(other.requests.isEmpty, "no embedding call left for a host outside egress.allow: \(other.requests)")

                let near = try await upload("near")
                #expect(near.status == 201, "\(near.text)")
                #expect(checked.requests.map(\.path) == ["/v1/embeddings"])
                #expect(checked.requests.allSatisfy { $0.host == host })
                #expect(other.requests.isEmpty, "the embedding call went to the checked address: \(other.requests)")

                clock.advance(31)
                let rebound = try await gw.request(
                    .POST, "/v1/knowledge-bases/near/search", key: manage, json: ["query": "refunds", "mode": "vector"])
                #expect(rebound.status == 502 && rebound.errorCode == "egress_denied", "\(rebound.text)")
                #expect(other.requests.isEmpty)
                #expect(checked.requests.count == 1)
            }
        }
    }

    @Test("probes and vLLM adapter loads pass the egress check and connect to the checked address")
    func probesAndAdapterLoadsAreChecked() async throws {
        try await Self.withPair { checked, other in
            let host = "localhost:\(checked.port)"
            var key = ""
            try await Self.withGateway(
                port: checked.port, kind: "vllm",
                register: { gw in
                    let adapter = try await gw.admin(.POST, "/adapters", ["name": "lora-x", "upstream": "rebind", "base_model": "base", "path": "/models/x"])
                    try #require(adapter.status == 201, "\(adapter.text)")
                    try await gw.createModel("ft", spec: ["adapter": "lora-x"])
                    key = try await gw.issueKey(tenant: "acme").key
                }
            ) { gw, _, clock in
                let prober = UpstreamProber(gateway: gw.gateway, interval: .zero, logger: Logger(label: "probe-test"))
                await prober.probeAll()
                #expect(gw.gateway.health.circuit("rebind") == .closed)
                let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("ft"))
                #expect(reply.status == 200, "\(reply.text)")
                #expect(other.requests.isEmpty, "neither the probe nor the adapter load reached the unchecked address: \(other.requests)")
                #expect(checked.requests.map(\.path) == ["/v1/models", "/v1/load_lora_adapter", "/v1/chat/completions"])
                #expect(checked.requests.allSatisfy { $0.host == host })

                clock.advance(31)
                await prober.probeAll()
                #expect(other.requests.isEmpty, "the probe of a rebound name is not sent: \(other.requests)")
                #expect(checked.requests.count == 3)
            }
        }
    }

    @Test("an HTTPS upstream reached by its checked address still gets SNI and certificate verification for its name")
    func httpsVerifiesTheNameWhenConnectingByAddress() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-rebind-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // A certificate for the name only: no IP address in it, so a check against the address would fail.
        let (cert, keyFile) = try ResilienceTests.makeCertificate(in: directory, subjectAltName: "DNS:localhost")
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem)))
        // The server name each handshake asked for (SNI), "-" for none.
        let serverNames = Mutex<[String]>([])
        tls.sslContextCallback = { values, promise in
            serverNames.withLock { $0.append(values.serverHostname ?? "-") }
            promise.succeed(NIOSSLContextConfigurationOverride())
        }
        try await Self.withPair(tls: tls) { checked, other in
            let port = checked.port
            let dataDir = TestGateway.makeDataDirectory()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            var key = ""
            try await TestGateway.run(dataDir: dataDir) { gw in
                try await gw.createTenant("acme")
                try await gw.createUpstream("byname", baseURL: "https://localhost:\(port)/v1")
                try await gw.createUpstream("byaddress", baseURL: "https://\(Self.checked):\(port)/v1")
                try await gw.createModel("named", spec: ["upstream": "byname", "model": "m"])
                try await gw.createModel("literal", spec: ["upstream": "byaddress", "model": "m"])
                key = try await gw.issueKey(tenant: "acme").key
            }
            try await TestGateway.run(
                dataDir: dataDir,
                configure: {
                    $0.egress = Self.policy("\(Self.checked)/32")
                    $0.upstreamCAFile = cert
                }
            ) { gw in
                let resolver = RebindingResolver(first: Self.checked, then: Self.checked)
                gw.gateway.egressCache.setResolver { resolver.resolve($0, $1) }
                let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("named"))
                #expect(reply.status == 200, "verified for the name 'localhost' while connected to 127.0.0.2: \(reply.text)")
                #expect(checked.requests.map(\.host) == ["localhost:\(port)"])
                #expect(serverNames.withLock { $0 } == ["localhost"], "SNI names the upstream, not the address")
                #expect(other.requests.isEmpty, "\(other.requests)")
                // Verification is on: the same server named by its address does not match the certificate.
                let literal = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("literal"))
                #expect(literal.status == 502, "\(literal.text)")
                #expect(serverNames.withLock { $0 } == ["localhost", "-"], "an address sends no SNI")
                #expect(checked.requests.count == 1)
            }
        }
    }
}

/// A small OpenAI-compatible server on one given loopback address that records every request it gets
/// (method, path and `Host`): chat completions, embeddings (3 dimensions), `GET /v1/models` and vLLM's
/// `load_lora_adapter`.
final class RecordingUpstream: Sendable {
    struct Seen: Sendable, Equatable, CustomStringConvertible {
        var method: String
        var path: String
        var host: String?
        var description: String { "\(method) \(path) Host: \(host ?? "-")" }
    }

    private let seen = Mutex<[Seen]>([])
    private let server = LocalServerState()

    var requests: [Seen] { seen.withLock { $0 } }
    var port: Int { server.port }

    private func record(_ request: Request) {
        let entry = Seen(method: request.method.rawValue, path: request.uri.path, host: request.head.authority)
        seen.withLock { $0.append(entry) }
    }

    private static func json(_ value: JSONValue) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.encode(value))))
    }

    /// Starts listening on `address`:`port` (0 for any free port) and returns the port.
    func start(address: String, port: Int, tls: TLSConfiguration? = nil) async throws -> Int {
        let router = Router()
        router.post("v1/chat/completions") { request, _ -> Response in
            self.record(request)
            var request = request
            let body = (try? JSONParser.parse(try await request.collectBody(upTo: 1 << 20).readableBytesView)) ?? .null
            return Self.json([
                "id": "chatcmpl-rec", "object": "chat.completion", "created": 1_700_000_000, "model": body["model"] ?? "m",
                "choices": [["index": 0, "message": ["role": "assistant", "content": "hi"], "finish_reason": "stop"]],
                "usage": ["prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4],
            ])
        }
        router.post("v1/embeddings") { request, _ -> Response in
            self.record(request)
            var request = request
            let body = (try? JSONParser.parse(try await request.collectBody(upTo: 1 << 20).readableBytesView)) ?? .null
            let count = body["input"]?.arrayValue?.count ?? 1
            let data = (0..<count).map { i -> JSONValue in ["object": "embedding", "index": .int(i), "embedding": [0.1, 0.2, 0.3]] }
            return Self.json(["object": "list", "data": .array(data), "model": "embed", "usage": ["prompt_tokens": 1, "total_tokens": 1]])
        }
        router.get("v1/models") { request, _ -> Response in
            self.record(request)
            return Self.json(["object": "list", "data": []])
        }
        router.post("v1/load_lora_adapter") { request, _ -> Response in
            self.record(request)
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "Success")))
        }
        return try await server.start(router, label: "recording-upstream", address: address, port: port, tls: tls)
    }

    func stop() async {
        await server.stop()
    }
}
