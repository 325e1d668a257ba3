import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import OpenAIWire
import Testing
import TrellisCore
import TrellisStore

@testable import TrellisServer

#if canImport(Glibc)
    import Glibc
#endif

/// Upstreams that fail on purpose (refuse, 500 then succeed, hang before headers, stall mid-stream, vLLM-style
/// integer error codes), the circuit breaker on a test clock, overload, shutdown with streams running, the
/// egress policy, PII masking and TLS on the listener: each with the outcome a client sees.
@Suite struct ResilienceTests {
    static func chat(_ model: String, _ text: String = "x", stream: Bool = false) -> JSONValue {
        var body: JSONObject = ["model": .string(model), "messages": [["role": "user", "content": .string(text)]]]
        if stream { body["stream"] = true }
        return .object(body)
    }

    static func streamText(_ events: [String]) -> String {
        events.compactMap { try? JSONParser.parse($0) }.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
    }

    @Test("a 500 then success is retried before the first byte: the client sees 200, streams too")
    func retriesUntilSuccess() async throws {
        try await TestGateway.withStandardSetup(configure: {
            $0.upstreamRetries = 2
            $0.upstreamRetryBackoffMs = 10
        }) { gw, upstream, key in
            for model in ["flaky-2-a", "flaky-2-b"] { try await gw.createModel(model, spec: ["upstream": "mock", "model": .string(model)]) }
            let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("flaky-2-a", "hi"))
            #expect(reply.status == 200, "\(reply.text)")
            #expect(upstream.calls("flaky-2-a") == 3, "two failures, then the answer")
            let stream = try await gw.stream("/v1/chat/completions", key: key, json: Self.chat("flaky-2-b", stream: true))
            #expect(stream.status.code == 200)
            let events = try await readEvents(stream)
            #expect(events.last == "[DONE]")
            #expect(Self.streamText(events) == "tok0tok1tok2")
            #expect(upstream.calls("flaky-2-b") == 3)
            let metrics = try await gw.request(.GET, "/metrics")
            #expect(metrics.text.contains("trellis_upstream_retries_total"))
        }
    }

    @Test("retries are bounded: three failures with two retries is a 502, and 4xx is never retried")
    func retriesAreBounded() async throws {
        try await TestGateway.withStandardSetup(configure: {
            $0.upstreamRetries = 2
            $0.upstreamRetryBackoffMs = 10
        }) { gw, upstream, key in
            try await gw.createModel("flaky-5-c", spec: ["upstream": "mock", "model": "flaky-5-c"])
            let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("flaky-5-c"))
            #expect(reply.status == 502)
            #expect(reply.json["error"]?["type"]?.stringValue == "upstream_error")
            #expect(upstream.calls("flaky-5-c") == 3)
            let refused = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("fail-400"))
            #expect(refused.status == 400)
            #expect(upstream.calls("fail-400") == 1)
            // vLLM's error shape with an integer code: an OpenAI-shaped 502, retried like any 5xx.
            try await gw.createModel("vllm-500", spec: ["upstream": "mock", "model": "vllm-500"])
            let vllm = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("vllm-500"))
            #expect(vllm.status == 502)
            #expect(vllm.json["error"]?["code"]?.stringValue == "upstream_error")
            #expect(vllm.text.contains("CUDA") == false, "the server's own message is not relayed")
            #expect(upstream.calls("vllm-500") == 3)
        }
    }

    @Test("a server that hangs before its headers is a 504 after the first-byte timeout, retried once")
    func hangBeforeHeaders() async throws {
        try await TestGateway.withStandardSetup(configure: {
            $0.upstreamRetries = 1
            $0.upstreamRetryBackoffMs = 10
        }) { gw, upstream, key in
            try await gw.createUpstream("slowmock", baseURL: upstream.baseURL, extra: ["timeouts": ["first_byte_ms": 300]])
            try await gw.createModel("hangs", spec: ["upstream": "slowmock", "model": "hang"])
            let started = ContinuousClock.now
            let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("hangs"))
            #expect(reply.status == 504)
            #expect(reply.errorCode == "upstream_timeout")
            // Two attempts, as the gateway counts them: each timed out against the upstream's circuit. The mock's own
            // count can be lower on a busy machine: a request the gateway gave up on after 300 ms may never have
            // been read by the mock before its connection closed.
            #expect(gw.gateway.health.entry("slowmock").failures == 2)
            #expect((1...2).contains(upstream.calls("hang")))
            // Two 300 ms waits; without the upstream's own first_byte_ms each would be the default minute.
            #expect(ContinuousClock.now - started < .seconds(50))
        }
    }

    @Test("a stream that stalls mid-way ends with an error event and [DONE] after the read timeout, and is recorded")
    func stallMidStream() async throws {
        try await TestGateway.withStandardSetup(configure: {
            $0.upstreamRetries = 2
            $0.upstreamReadTimeoutMs = 1_500
        }) { gw, upstream, key in
            try await gw.createModel("stalls", spec: ["upstream": "mock", "model": "stall-stream"])
            let stream = try await gw.stream("/v1/chat/completions", key: key, json: Self.chat("stalls", stream: true))
            #expect(stream.status.code == 200)
            let events = try await readEvents(stream)
            #expect(events.last == "[DONE]")
            let error = try #require(events.dropLast().last.flatMap { try? JSONParser.parse($0) })
            #expect(error["error"]?["code"]?.stringValue == "upstream_timeout")
            #expect(Self.streamText(events) == "first")
            #expect(upstream.calls("stall-stream") == 1, "never retried once streaming has begun")
            await gw.flushUsage()
            let row = try #require(try await gw.gateway.store.usageEvents().last)
            #expect(row.status == 504 && row.errorCode == "upstream_timeout")
        }
    }

    @Test("an upstream's own connect_ms bounds connecting to it: a server that never accepts is a 504 in time")
    func perUpstreamConnectTimeout() async throws {
        let listener = try #require(FullBacklogListener())
        try await TestGateway.withStandardSetup { gw, _, key in
            try await gw.createUpstream(
                "blackhole", baseURL: "http://127.0.0.1:\(listener.port)/v1", extra: ["timeouts": ["connect_ms": 300, "first_byte_ms": 30_000]])
            try await gw.createModel("unreachable", spec: ["upstream": "blackhole", "model": "echo"])
            let started = ContinuousClock.now
            let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("unreachable"))
            #expect(reply.status == 504)
            #expect(reply.json["error"]?["message"]?.stringValue?.contains("connect timeout") == true, "\(reply.text)")
            #expect(ContinuousClock.now - started < .seconds(25), "the 300 ms connect timeout, not the 30 s first-byte one")
            // The default client (the deployment's connect timeout) still serves the others.
            #expect(try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("echo")).status == 200)
        }
        withExtendedLifetime(listener) {}
    }

    @Test("an upstream's own idle_ms and total_ms end a stream with upstream_timeout, each naming its timeout")
    func perUpstreamStreamTimeouts() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await gw.createUpstream("idle", baseURL: upstream.baseURL, extra: ["timeouts": ["idle_ms": 2_000]])
            try await gw.createUpstream("total", baseURL: upstream.baseURL, extra: ["timeouts": ["total_ms": 3_000]])
            try await gw.createModel("stalls-idle", spec: ["upstream": "idle", "model": "stall-stream"])
            try await gw.createModel("slow-total", spec: ["upstream": "total", "model": "slow-stream"])
            let started = ContinuousClock.now
            let idle = try await readEvents(try await gw.stream("/v1/chat/completions", key: key, json: Self.chat("stalls-idle", stream: true)))
            #expect(idle.last == "[DONE]")
            let idleError = try #require(idle.dropLast().last.flatMap { try? JSONParser.parse($0) })
            #expect(idleError["error"]?["code"]?.stringValue == "upstream_timeout")
            #expect(idleError["error"]?["message"]?.stringValue?.contains("stopped sending") == true)
            let total = try await readEvents(try await gw.stream("/v1/chat/completions", key: key, json: Self.chat("slow-total", stream: true)))
            let totalError = try #require(total.dropLast().last.flatMap { try? JSONParser.parse($0) })
            #expect(totalError["error"]?["message"]?.stringValue?.contains("total timeout") == true)
            let text = Self.streamText(total)
            #expect(text.hasPrefix("tok0 ") && !text.contains("tok150"), "cut after about 3 s of 50 ms chunks")
            // About 5 s (2 s idle, 3 s total); a stall without the upstream's idle_ms would last the default minute.
            #expect(ContinuousClock.now - started < .seconds(50))
        }
    }

    @Test("the circuit opens after the threshold, refuses with 503 and Retry-After, then a probe closes it (test clock)")
    func circuitOpensAndCloses() async throws {
        let clock = FakeClock()
        try await TestGateway.withStandardSetup(
            configure: {
                $0.circuitFailureThreshold = 2
                $0.circuitCoolDownMs = 10_000
            }, clock: clock.now
        ) { gw, upstream, key in
            try await gw.createModel("flaky-2-d", spec: ["upstream": "mock", "model": "flaky-2-d"])
            for _ in 0..<2 {
                let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("flaky-2-d"))
                #expect(reply.status == 502)
            }
            let refused = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("flaky-2-d"))
            #expect(refused.status == 503)
            #expect(refused.errorCode == "upstream_circuit_open")
            #expect(refused.headers.first(name: "Retry-After") == "10")
            #expect(upstream.calls("flaky-2-d") == 2, "an open circuit sends nothing")
            let health = try await gw.admin(.GET, "/upstreams/mock")
            #expect(health.json["health"]?["circuit"]?.stringValue == "open")
            #expect(health.json["health"]?["circuit_opened"] == .int(1))
            let metrics = try await gw.request(.GET, "/metrics")
            #expect(metrics.text.contains("trellis_upstream_circuit_open{upstream=\"mock\"} 1"))
            clock.advance(10)
            let probe = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("flaky-2-d"))
            #expect(probe.status == 200, "the half-open probe went through and succeeded")
            #expect(try await gw.admin(.GET, "/upstreams/mock").json["health"]?["circuit"]?.stringValue == "closed")
        }
    }

    @Test("a stream the upstream breaks counts against its circuit; a successful active check does not clear failures")
    func midStreamFailuresAndProbes() async throws {
        try await TestGateway.withStandardSetup(configure: { $0.circuitFailureThreshold = 3 }) { gw, _, key in
            for _ in 0..<2 {
                let events = try await readEvents(try await gw.stream("/v1/chat/completions", key: key, json: Self.chat("break-stream", stream: true)))
                #expect(events.last == "[DONE]")
            }
            // A stream's verdict is recorded once its last frame has gone out, so it can come just after the
            // client read [DONE].
            try await waitUntil { try await gw.admin(.GET, "/upstreams/mock").json["health"]?["consecutive_failures"] == .int(2) }
            var health = try await gw.admin(.GET, "/upstreams/mock").json["health"]
            #expect(health?["consecutive_failures"] == .int(2))
            // The server still lists its models: that proves it is up, not that completions work.
            await UpstreamProber(gateway: gw.gateway, interval: .seconds(60), logger: gw.gateway.logger).probeAll()
            health = try await gw.admin(.GET, "/upstreams/mock").json["health"]
            #expect(health?["consecutive_failures"] == .int(2))
            #expect(health?["last_probe_ok"] == .bool(true))
            _ = try await readEvents(try await gw.stream("/v1/chat/completions", key: key, json: Self.chat("break-stream", stream: true)))
            try await waitUntil { try await gw.admin(.GET, "/upstreams/mock").json["health"]?["circuit"]?.stringValue == "open" }
            #expect(try await gw.admin(.GET, "/upstreams/mock").json["health"]?["circuit"]?.stringValue == "open")
        }
    }

    @Test("a refused connection fails over to the next deployment; the active check marks the dead one")
    func refusedConnectionFailsOver() async throws {
        try await TestGateway.withStandardSetup(configure: { $0.circuitFailureThreshold = 3 }) { gw, upstream, key in
            try await gw.createUpstream("dead", baseURL: "http://127.0.0.1:1/v1")
            try await gw.createModel(
                "failover", spec: ["deployments": [["upstream": "dead", "model": "echo"]], "fallbacks": [["upstream": "mock", "model": "echo"]]])
            let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("failover", "ping"))
            #expect(reply.status == 200)
            #expect(reply.json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "echo:ping")
            let prober = UpstreamProber(gateway: gw.gateway, interval: .seconds(60), logger: gw.gateway.logger)
            upstream.setModelsHealthy(false)
            await prober.probeAll()
            let dead = try await gw.admin(.GET, "/upstreams/dead").json["health"]
            #expect(dead?["last_probe_ok"] == .bool(false))
            #expect(dead?["consecutive_failures"] == .int(2), "one failed call, one failed probe")
            upstream.setModelsHealthy(true)
            await prober.probeAll()
            #expect(try await gw.admin(.GET, "/upstreams/mock").json["health"]?["last_probe_ok"] == .bool(true))
            let metrics = try await gw.request(.GET, "/metrics")
            #expect(metrics.text.contains("trellis_upstream_up{upstream=\"dead\"} 0"))
            #expect(metrics.text.contains("trellis_upstream_up{upstream=\"mock\"} 1"))
        }
    }

    @Test("past max_in_flight a request gets 503 server_overloaded with Retry-After; health still answers")
    func overload() async throws {
        try await TestGateway.withStandardSetup(configure: {
            $0.maxInFlight = 2
            $0.maxInFlightPerTenant = 2
        }) { gw, _, key in
            let first = try await gw.stream("/v1/chat/completions", key: key, json: Self.chat("slower-stream", stream: true))
            let second = try await gw.stream("/v1/chat/completions", key: key, json: Self.chat("slower-stream", stream: true))
            #expect(first.status.code == 200 && second.status.code == 200)
            let refused = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("echo"))
            #expect(refused.status == 503)
            #expect(refused.errorCode == "server_overloaded")
            #expect(refused.headers.first(name: "Retry-After") == "1")
            #expect(try await gw.request(.GET, "/healthz").status == 200)
            #expect(try await gw.request(.GET, "/metrics").text.contains("trellis_overload_refusals_total"))
        }
    }

    @Test("shutdown cuts a running stream with a server_shutting_down event and [DONE], and records it", arguments: ["slower-stream", "stall-stream"])
    func shutdownCutsStreams(model: String) async throws {
        let dataDir = TestGateway.makeDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        try await TestGateway.withStandardSetup(dataDir: dataDir, configure: { $0.shutdownGraceSeconds = 1 }) { gw, upstream, key in
            try await gw.createModel("stall-stream", spec: ["upstream": "mock", "model": "stall-stream"])
            let stream = try await gw.stream("/v1/chat/completions", key: key, json: Self.chat(model, stream: true))
            #expect(stream.status.code == 200)
            #expect(await upstream.waitFor("\(model):started"))
            await gw.beginShutdown()
            let events = try await readEvents(stream)
            #expect(events.last == "[DONE]")
            let error = try #require(events.dropLast().last.flatMap { try? JSONParser.parse($0) })
            #expect(error["error"]?["code"]?.stringValue == "server_shutting_down")
        }
        #expect(try await TestGateway.usageCount(dataDir: dataDir, where: "error_code = 'server_shutting_down' AND status = 503") == 1)
    }

    @Test("egress: a host outside egress.allow is refused at registration; a name that resolves outside at dispatch too")
    func egressPolicy() async throws {
        try await withMockUpstream { upstream in
            try await TestGateway.run(configure: { $0.egress = (try? EgressPolicy(rules: ["10.0.0.0/8", "*.models.internal"])) ?? .privateOnly }) { gw in
                try await gw.createTenant("acme")
                let refused = try await gw.admin(.POST, "/upstreams", ["name": "local", "base_url": .string(upstream.baseURL)])
                #expect(refused.status == 400)
                #expect(refused.errorCode == "egress_denied")
                #expect(refused.json["error"]?["param"]?.stringValue == "base_url")
                let listed = try await gw.admin(.POST, "/upstreams", ["name": "listed", "base_url": "http://gpu1.models.internal:8000/v1"])
                #expect(listed.status == 201, "a listed name is allowed wherever it resolves")
            }
            try await TestGateway.run { gw in
                // Private only (the default): localhost is loopback, so it registers.
                try await gw.createTenant("acme")
                let base = "http://localhost:\(upstream.port)/v1"
                try await gw.createUpstream("byname", baseURL: base)
                try await gw.createModel("named", spec: ["upstream": "byname", "model": "echo"])
                let key = try await gw.issueKey(tenant: "acme").key
                #expect(try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("named")).status == 200)
                // The name now resolves to a public address (DNS rebinding): dispatch refuses it.
                gw.gateway.egressCache.setResolver { _, _ in [IPAddress("93.184.216.34")].compactMap { $0 } }
                let before = upstream.calls("echo")
                let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("named"))
                #expect(reply.status == 502)
                #expect(reply.errorCode == "egress_denied")
                #expect(upstream.calls("echo") == before, "nothing was sent")
                let outside = try await gw.admin(.POST, "/upstreams", ["name": "outside", "base_url": "http://93.184.216.34/v1"])
                #expect(outside.status == 400 && outside.errorCode == "egress_denied")
            }
        }
    }

    @Test("PII is masked for an external upstream, consistently, and restored in whole and streamed answers")
    func piiMasking() async throws {
        let text = "我的电话是13812345678，身份证11010519491231002X，再说一遍13812345678。代码 `13912345678` 不动"
        try await withMockUpstream { upstream in
            try await TestGateway.run { gw in
                let key = try await gw.standardSetup(upstream: upstream)
                try await gw.createUpstream("cloud", baseURL: upstream.baseURL, extra: ["labels": ["external"]])
                try await gw.createModel("outside", spec: ["upstream": "cloud", "model": "echo"])
                try await gw.createModel("outside-stream", spec: ["upstream": "cloud", "model": "echo-stream"])
                let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("outside", text))
                #expect(reply.status == 200)
                let sent = try #require(upstream.lastBody?["messages"]?.arrayValue?.first?["content"]?.stringValue)
                #expect(sent == "我的电话是[PHONE_1]，身份证[ID_CARD_1]，再说一遍[PHONE_1]。代码 `13912345678` 不动")
                #expect(reply.json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "echo:" + text, "restored for the caller")
                let stream = try await gw.stream("/v1/chat/completions", key: key, json: Self.chat("outside-stream", text, stream: true))
                let events = try await readEvents(stream)
                #expect(Self.streamText(events) == "echo:" + text, "placeholders split across chunks are restored whole")
                #expect(upstream.lastBody?["messages"]?.arrayValue?.first?["content"]?.stringValue?.contains("13812345678") == false)
                // A private upstream gets the text unchanged.
                _ = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("echo", text))
                #expect(upstream.lastBody?["messages"]?.arrayValue?.first?["content"]?.stringValue == text)
            }
            try await TestGateway.run(configure: {
                $0.piiMaskScope = .all; $0.piiRestore = false
            }) { gw in
                let key = try await gw.standardSetup(upstream: upstream)
                let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("echo", "mail zhang.san@example.com.cn"))
                #expect(upstream.lastBody?["messages"]?.arrayValue?.first?["content"]?.stringValue == "mail [EMAIL_1]")
                #expect(
                    reply.json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "echo:mail [EMAIL_1]", "restore off: placeholders stay")
            }
        }
    }

    /// A self-signed certificate for `subjectAltName` (by default localhost and 127.0.0.1), made with openssl in
    /// `directory`: (cert, key).
    static func makeCertificate(in directory: URL, subjectAltName: String = "DNS:localhost,IP:127.0.0.1") throws -> (String, String) {
        let cert = directory.appendingPathComponent("cert.pem").path
        let keyFile = directory.appendingPathComponent("key.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=\(subjectAltName)", "-keyout", keyFile, "-out", cert,
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0, "openssl made the certificate")
        return (cert, keyFile)
    }

    @Test("TLS on the listener with a certificate made for the test: HTTPS (and HTTP/2 by ALPN) answers, plain HTTP does not")
    func tlsListener() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (cert, keyFile) = try Self.makeCertificate(in: directory)
        try await TestGateway.run(configure: {
            $0.tlsCertificateFile = cert
            $0.tlsKeyFile = keyFile
            $0.tlsHTTP2 = true
        }) { gw in
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(cert)
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
            do {
                let response = try await client.execute(HTTPClientRequest(url: "https://127.0.0.1:\(gw.port)/healthz"), timeout: .seconds(10))
                #expect(response.status.code == 200)
                #expect(response.version == .http2, "HTTP/2 chosen by ALPN")
                let body = try await response.body.collect(upTo: 1 << 16)
                #expect(String(buffer: body).contains("ok"))
                let plain = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(gw.port)/healthz"), timeout: .seconds(5))
                #expect(plain?.status.code != 200, "plain HTTP is not served on the TLS port")
            } catch {
                try await client.shutdown()
                throw error
            }
            try await client.shutdown()
        }
    }

    @Test("an HTTPS upstream with a private CA: refused without upstream.ca_file, answered with it")
    func upstreamPrivateCA() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-ca-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (cert, keyFile) = try Self.makeCertificate(in: directory)
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem)))
        let upstream = MockUpstream()
        _ = try await upstream.start(tls: tls)
        defer { Task { await upstream.stop() } }
        #expect(upstream.baseURL.hasPrefix("https://"))
        try await TestGateway.run { gw in
            let key = try await gw.standardSetup(upstream: upstream)
            let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("echo"))
            #expect(reply.status == 502, "the system's CAs do not trust it")
        }
        try await TestGateway.run(configure: { $0.upstreamCAFile = cert }) { gw in
            let key = try await gw.standardSetup(upstream: upstream)
            let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat("echo", "tls"))
            #expect(reply.status == 200)
            #expect(reply.json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "echo:tls")
        }
    }
}

/// A TCP listener on 127.0.0.1 that never accepts, with its accept queue already full: the kernel drops
/// further connection attempts, so connecting to it hangs until the caller's connect timeout.
final class FullBacklogListener {
    let port: Int
    private var descriptors: [Int32] = []

    init?() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        descriptors.append(fd)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 0) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { return nil }
        port = Int(UInt16(bigEndian: address.sin_port))
        for _ in 0..<4 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard filler >= 0 else { continue }
            descriptors.append(filler)
            var target = address
            _ = withUnsafePointer(to: &target) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    deinit {
        for fd in descriptors { close(fd) }
    }
}
