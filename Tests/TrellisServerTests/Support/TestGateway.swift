import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import OpenAIWire
import ServiceLifecycle
import Testing
import TrellisStore
import TrellisStoreTestSupport

@testable import TrellisServer

/// A real gateway for a test: its own store (see `TestStore`) and data directory, listening on 127.0.0.1 port 0,
/// run in a service group and shut down gracefully (with its final usage flush) when the test body returns.
struct TestGateway {
    static let adminKey = "test-operator-key-0123456789"
    let port: Int
    let gateway: Gateway
    let dataDir: String
    /// Starts a graceful shutdown now, as SIGTERM would; `run` still waits for it to finish.
    let beginShutdown: @Sendable () async -> Void

    var base: String { "http://127.0.0.1:\(port)" }

    static func run<T>(
        dataDir: String? = nil, store: TestStore = .fromEnvironment, configure: (inout TrellisConfig) -> Void = { _ in },
        environment: [String: String] = [:], clock: (@Sendable () -> Double)? = nil, _ body: (TestGateway) async throws -> T
    ) async throws -> T {
        let dataDir = dataDir ?? FileManager.default.temporaryDirectory.appendingPathComponent("trellis-test-\(UUID().uuidString)").path
        let ownsDirectory = dataDir.contains("/trellis-test-")
        defer { if ownsDirectory { try? FileManager.default.removeItem(atPath: dataDir) } }
        let storeLocation = try await store.location(dataDir: dataDir)
        var config = TrellisConfig()
        config.storeLocation = storeLocation
        config.host = "127.0.0.1"
        config.port = 0
        config.dataDir = dataDir
        config.adminKey = adminKey
        config.usageFlushIntervalMs = 50
        // Failure handling off unless a test turns it on (ResilienceTests): most tests make an upstream fail on
        // purpose and expect that one failure, not retries or an open circuit.
        config.upstreamRetries = 0
        config.circuitFailureThreshold = 1_000
        config.healthCheckIntervalMs = 0
        // No drain phase at shutdown unless a test asks for one: no load balancer watches a test gateway.
        config.drainDelayMs = 0
        // A test that drives the clock drives this process's own limiter: the limits replicas share on PostgreSQL
        // refill on the database's clock, which no test moves.
        if clock != nil { config.limitsSyncIntervalMs = 0 }
        configure(&config)
        var logger = Logger(label: "trellis-test")
        logger.logLevel = .critical
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let (app, gateway) = try await buildApplication(
            config: config, environment: environment, logger: logger,
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            }, clock: clock)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let runTask = Task { try await group.run() }
        var port = 0
        for await p in ports { port = p }
        let harness = TestGateway(port: port, gateway: gateway, dataDir: dataDir) { await group.triggerGracefulShutdown() }
        // After the gateway has stopped: its pool closed, and a database made for this run alone deleted.
        func release() async {
            (gateway.store as? PostgresStore)?.shutdown()
            if ownsDirectory, case .postgres(let settings) = storeLocation { try? await TestDatabases.drop(settings) }
        }
        do {
            let result = try await body(harness)
            await group.triggerGracefulShutdown()
            try await runTask.value
            await release()
            return result
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await runTask.value
            await release()
            throw error
        }
    }

    /// Counts the usage rows a stopped gateway left in `dataDir`'s store (those matching an SQL condition when
    /// there is one), on the engine `store` picks, as a restarted gateway would find them.
    static func usageCount(dataDir: String, store: TestStore = .fromEnvironment, where condition: String? = nil) async throws -> Int {
        guard case .postgres(let settings) = try await store.location(dataDir: dataDir) else {
            return try SQLiteStore(directory: dataDir).countUsage(where: condition)
        }
        let engine = try PostgresStore(settings: settings)
        defer { engine.shutdown() }
        return try await engine.usageCount(where: condition)
    }

    // MARK: HTTP

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]

        var json: JSONValue { (try? JSONParser.parse(body)) ?? .null }
        var text: String { String(decoding: body, as: UTF8.self) }
        var errorCode: String? { json["error"]?["code"]?.stringValue }
    }

    func request(
        _ method: HTTPMethod, _ path: String, key: String? = nil, json: JSONValue? = nil, rawBody: [UInt8]? = nil,
        headers: [(String, String)] = []
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(JSONWriter.encode(json))
        } else if let rawBody {
            request.body = .bytes(rawBody)
        }
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Array(body.readableBytesView))
    }

    func admin(_ method: HTTPMethod, _ path: String, _ json: JSONValue? = nil) async throws -> Reply {
        try await request(method, "/admin/v1" + path, key: Self.adminKey, json: json)
    }

    /// A POST of `json` to `path` with `key`, for a test to send with a client of its own.
    func postJSON(_ path: String, key: String, json: JSONValue) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(JSONWriter.encode(json))
        return request
    }

    /// Sends a streaming request and returns the response for the caller to read.
    func stream(_ path: String, key: String, json: JSONValue) async throws -> HTTPClientResponse {
        try await HTTPClient.shared.execute(postJSON(path, key: key, json: json), timeout: .seconds(30))
    }

    // MARK: Set-up shortcuts

    @discardableResult
    func createTenant(_ name: String) async throws -> JSONValue {
        let reply = try await admin(.POST, "/tenants", ["name": .string(name)])
        try #require(reply.status == 201, "create tenant: \(reply.text)")
        return reply.json
    }

    func createUpstream(_ name: String, baseURL: String, kind: String = "openai", extra: JSONObject = [:]) async throws {
        var body: JSONObject = ["name": .string(name), "base_url": .string(baseURL), "kind": .string(kind)]
        for m in extra { body[m.key] = m.value }
        let reply = try await admin(.POST, "/upstreams", .object(body))
        try #require(reply.status == 201, "create upstream: \(reply.text)")
    }

    func createModel(_ name: String, tenant: String? = nil, spec: JSONValue) async throws {
        var body: JSONObject = ["name": .string(name), "spec": spec]
        if let tenant { body["tenant"] = .string(tenant) }
        let reply = try await admin(.POST, "/models", .object(body))
        try #require(reply.status == 201, "create model: \(reply.text)")
    }

    /// Issues a key and returns (id, key).
    func issueKey(tenant: String, _ fields: JSONObject = [:]) async throws -> (id: String, key: String) {
        let reply = try await admin(.POST, "/tenants/\(tenant)/keys", .object(fields))
        try #require(reply.status == 201, "issue key: \(reply.text)")
        return (try #require(reply.json["id"]?.stringValue), try #require(reply.json["key"]?.stringValue))
    }

    /// A tenant `acme` with an inference key, the mock upstream as `mock`, and a shared model `echo` (and
    /// models named after each mock behaviour).
    func standardSetup(upstream: MockUpstream) async throws -> String {
        try await createTenant("acme")
        try await createUpstream("mock", baseURL: upstream.baseURL)
        for model in [
            "echo", "no-usage", "fail-500", "fail-400", "vllm-400", "fail-401", "hang", "slow-stream", "slower-stream", "break-stream", "empty-stream",
        ] {
            try await createModel(model, spec: ["upstream": "mock", "model": .string(model)])
        }
        return try await issueKey(tenant: "acme").key
    }

    /// Runs `body` against a gateway (set up as `run` does) with a started mock upstream and `standardSetup` done:
    /// the gateway, the upstream and tenant `acme`'s inference key.
    static func withStandardSetup<T>(
        dataDir: String? = nil, configure: (inout TrellisConfig) -> Void = { _ in }, environment: [String: String] = [:],
        clock: (@Sendable () -> Double)? = nil, _ body: (TestGateway, MockUpstream, String) async throws -> T
    ) async throws -> T {
        try await withMockUpstream { upstream in
            try await run(dataDir: dataDir, configure: configure, environment: environment, clock: clock) { gw in
                try await body(gw, upstream, try await gw.standardSetup(upstream: upstream))
            }
        }
    }

    /// A temporary directory that outlives one gateway run, for restart tests; removed by the caller.
    static func makeDataDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("trellis-kept-\(UUID().uuidString)").path
    }

    func flushUsage() async {
        await gateway.usage.flush()
    }
}

/// Reads an SSE response to the end, returning the `data:` payloads in order.
func readEvents(_ response: HTTPClientResponse) async throws -> [String] {
    var parser = SSEParser()
    var out: [String] = []
    for try await buffer in response.body {
        for event in try parser.feed(buffer.readableBytesView) { out.append(event.data) }
    }
    return out
}

/// Runs `body` with a started mock upstream, stopping it afterwards.
func withMockUpstream<T>(_ body: (MockUpstream) async throws -> T) async throws -> T {
    let upstream = MockUpstream()
    _ = try await upstream.start()
    return try await stopping(upstream.stop) { try await body(upstream) }
}

/// Runs `body`, then `stop`, whether `body` returned or threw.
func stopping<T>(_ stop: () async -> Void, _ body: () async throws -> T) async throws -> T {
    do {
        let result = try await body()
        await stop()
        return result
    } catch {
        await stop()
        throw error
    }
}
