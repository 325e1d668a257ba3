import AsyncHTTPClient
import Foundation
import NIOHTTP1
import NIOSSL
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

/// A graceful shutdown in phases: draining (`/readyz` 503, requests still served with `Connection: close`),
/// then the listener closes while in-flight streams finish, then the buffered usage is written.
@Suite struct ShutdownDrainTests {
    static func chat(_ model: String, stream: Bool = false, maxTokens: Int? = nil) -> JSONValue {
        var body: JSONObject = ["model": .string(model), "messages": [["role": "user", "content": "x"]]]
        if stream { body["stream"] = true }
        if let maxTokens { body["max_tokens"] = .int(maxTokens) }
        return .object(body)
    }

    static func closesConnection(_ reply: TestGateway.Reply) -> Bool {
        reply.headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
    }

    @Test("draining: /readyz 503 at once, requests still answered 200 with Connection: close; the listener closes, the stream finishes, usage is written")
    func drainPhaseThenClose() async throws {
        let dataDir = TestGateway.makeDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        try await withMockUpstream { upstream in
            // A drain phase far longer than the test: the test ends it (`endDrainPhase`) once it has looked. Usage
            // is flushed only at shutdown (the interval is an hour).
            try await TestGateway.run(
                dataDir: dataDir,
                configure: {
                    $0.drainDelayMs = 3_600_000
                    $0.usageFlushIntervalMs = 3_600_000
                }
            ) { gw in
                // Whatever happens below, the drain phase ends, so a failing test does not wait an hour.
                defer { gw.gateway.drain.endDrainPhase() }
                let key = try await gw.standardSetup(upstream: upstream)
                let ready = try await gw.request(.GET, "/readyz")
                #expect(ready.status == 200)
                #expect(!Self.closesConnection(ready), "no Connection: close before shutdown")
                let before = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("echo"))
                #expect(before.status == 200 && !Self.closesConnection(before))

                await gw.beginShutdown()
                try await waitUntil { gw.gateway.drain.isDraining }
                let draining = try await gw.request(.GET, "/readyz")
                #expect(draining.status == 503)
                #expect(draining.json["status"]?.stringValue == "draining")
                #expect(draining.errorCode == "server_shutting_down")
                #expect(draining.json["error"]?["type"]?.stringValue == "server_error")
                #expect(Self.closesConnection(draining))
                // Still served as usual while draining: the listener is open.
                let during = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("echo"))
                #expect(during.status == 200)
                #expect(Self.closesConnection(during), "responses in the drain phase close their connection")
                #expect(!gw.gateway.drain.isClosing)
                // A stream of 20 chunks 50 ms apart, started in the drain phase, runs across the listener's close.
                let stream = try await gw.stream("/v1/chat/completions", key: key, json: Self.chat("slow-stream", stream: true, maxTokens: 20))
                #expect(stream.status.code == 200)
                #expect(stream.headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" })
                #expect(await upstream.waitFor("slow-stream:started"))
                #expect(gw.gateway.usage.pendingCount >= 2, "rows buffered, not yet written")

                gw.gateway.drain.endDrainPhase()
                // The listener closes: a new connection is refused.
                try await waitUntil {
                    var probe = HTTPClientRequest(url: gw.base + "/healthz")
                    probe.headers.add(name: "Connection", value: "close")
                    return (try? await HTTPClient.shared.execute(probe, timeout: .seconds(5))) == nil
                }
                let events = try await readEvents(stream)
                #expect(events.last == "[DONE]", "the stream in flight finished")
                #expect(events.filter { $0.contains("tok") }.count == 20)
                #expect(!events.contains { $0.contains("server_shutting_down") })
            }
            // Every answer, the one given while draining and the stream included, has its row in the store.
            #expect(try await TestGateway.usageCount(dataDir: dataDir) == 3)
            #expect(try await TestGateway.usageCount(dataDir: dataDir, where: "status = 200") == 3)
        }
    }

    @Test("draining over TLS: HTTP/1.1 responses say Connection: close; HTTP/2 ones, which may not carry it, are answered as usual")
    func drainOverHTTP2() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (cert, keyFile) = try ResilienceTests.makeCertificate(in: directory)
        try await TestGateway.run(configure: {
            $0.tlsCertificateFile = cert
            $0.tlsKeyFile = keyFile
            $0.tlsHTTP2 = true
            $0.drainDelayMs = 3_600_000
        }) { gw in
            defer { gw.gateway.drain.endDrainPhase() }
            await gw.beginShutdown()
            try await waitUntil { gw.gateway.drain.isDraining }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(cert)
            var only1 = HTTPClient.Configuration(tlsConfiguration: tls)
            only1.httpVersion = .http1Only
            let clients = [
                HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls)),
                HTTPClient(eventLoopGroupProvider: .singleton, configuration: only1),
            ]
            do {
                for (client, version) in zip(clients, [HTTPVersion.http2, .http1_1]) {
                    let response = try await client.execute(HTTPClientRequest(url: "https://127.0.0.1:\(gw.port)/readyz"), timeout: .seconds(10))
                    #expect(response.version == version)
                    let body = String(buffer: try await response.body.collect(upTo: 1 << 16))
                    #expect(response.status.code == 503 && body.contains("draining"), "\(response.version): \(body)")
                    let closes = response.headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
                    #expect(closes == (response.version == .http1_1), "\(response.version)")
                }
            } catch {
                for client in clients { try? await client.shutdown() }
                throw error
            }
            for client in clients { try await client.shutdown() }
        }
    }

    @Test("server.drain_delay_ms: read from the file and the environment, 0 allowed, negative refused")
    func drainDelaySetting() throws {
        #expect(TrellisConfig().drainDelayMs == 5_000)
        let zero = try TrellisConfig.load(file: nil, environment: ["TRELLIS_SERVER_DRAIN_DELAY_MS": "0"])
        #expect(zero.drainDelayMs == 0)
        #expect(throws: (any Error).self) { try TrellisConfig.load(file: nil, environment: ["TRELLIS_SERVER_DRAIN_DELAY_MS": "-1"]) }
    }
}
