import Foundation
import NIOCore
import NIOPosix
import OpenAIWire
import Synchronization
import Testing
import TrellisCore

@testable import TrellisServer

/// Clients that open streams and never read them, and tenants that try to take every slot: neither may hold
/// the gateway's capacity for longer than the write-stall deadline, nor take another tenant's share.
@Suite struct StalledClientTests {
    /// A connection that sends one request and never reads a byte of the answer, with a small receive buffer,
    /// so the gateway's writes to it soon wait on a full socket.
    static func openStalledStream(port: Int, key: String, model: String, maxTokens: Int) async throws -> any Channel {
        let body = JSONWriter.encode(
            ["model": .string(model), "stream": true, "max_tokens": .int(maxTokens), "messages": [["role": "user", "content": "hi"]]])
        var request = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\n"
        request += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: false)
            .channelOption(.socketOption(.so_rcvbuf), value: 4096)
            .connect(host: "127.0.0.1", port: port).get()
        var buffer = channel.allocator.buffer(string: request)
        buffer.writeBytes(body)
        try await channel.writeAndFlush(buffer).get()
        return channel
    }

    @Test("streams whose clients never read are cut at server.write_stall_ms, and every slot comes back")
    func stalledReadersReleaseTheirSlots() async throws {
        try await TestGateway.withStandardSetup(configure: {
            $0.maxInFlight = 3
            $0.maxInFlightPerTenant = 3
            $0.writeStallMs = 300
        }) { gw, _, key in
            try await gw.createModel("big-stream", spec: ["upstream": "mock", "model": "big-stream"])
            // 2,000 chunks of 16 KiB (32 MiB) per stream: far more than the socket buffers between the
            // gateway and a client that does not read.
            var stalled: [any Channel] = []
            for _ in 0..<3 { stalled.append(try await Self.openStalledStream(port: gw.port, key: key, model: "big-stream", maxTokens: 2_000)) }
            defer { for channel in stalled { channel.close(promise: nil) } }
            // Each stream is cut once its write has waited 300 ms; the sockets stay open on the client side.
            try await waitUntil(timeout: .seconds(60)) {
                try await gw.request(.GET, "/metrics").text.contains("trellis_write_stalls_total 3")
            }
            try await waitUntil(timeout: .seconds(30)) { gw.gateway.inFlight.current == 0 }
            #expect(gw.gateway.tenantInFlight.current("acme") == 0 || gw.gateway.snapshot.tenant(named: "acme") == nil)
            let after = try await gw.request(.POST, "/v1/chat/completions", key: key, json: ResilienceTests.chat("echo", "still here"))
            #expect(after.status == 200, "\(after.text)")
            #expect(stalled.allSatisfy { $0.isActive }, "the clients kept their sockets open; the gateway ended the streams on its own")
        }
    }

    @Test("one tenant holds at most server.max_in_flight_per_tenant requests; another tenant still gets through")
    func tenantCannotTakeEverySlot() async throws {
        try await TestGateway.withStandardSetup(configure: {
            $0.maxInFlight = 4
            $0.maxInFlightPerTenant = 2
            $0.shutdownGraceSeconds = 1
        }) { gw, _, acme in
            try await gw.createModel("stall-stream", spec: ["upstream": "mock", "model": "stall-stream"])
            try await gw.createTenant("globex")
            let globex = try await gw.issueKey(tenant: "globex").key
            let first = try await gw.stream("/v1/chat/completions", key: acme, json: ResilienceTests.chat("stall-stream", stream: true))
            let second = try await gw.stream("/v1/chat/completions", key: acme, json: ResilienceTests.chat("stall-stream", stream: true))
            #expect(first.status.code == 200 && second.status.code == 200)
            let refused = try await gw.request(.POST, "/v1/chat/completions", key: acme, json: ResilienceTests.chat("echo"))
            #expect(refused.status == 429, "\(refused.text)")
            #expect(refused.errorCode == "tenant_in_flight_limit")
            #expect(refused.headers.first(name: "Retry-After") == "1")
            #expect(refused.json["error"]?["type"]?.stringValue == "rate_limit_error")
            let other = try await gw.request(.POST, "/v1/chat/completions", key: globex, json: ResilienceTests.chat("echo", "mine"))
            #expect(other.status == 200, "\(other.text)")
            #expect(gw.gateway.tenantInFlight.current(try #require(gw.gateway.snapshot.tenant(named: "globex")).id) == 0)
        }
    }

    @Test("a refused or failed request gives its tenant slot back")
    func tenantSlotsComeBackAfterErrors() async throws {
        try await TestGateway.withStandardSetup(configure: { $0.maxInFlightPerTenant = 1 }) { gw, _, key in
            for model in ["fail-500", "fail-400", "no-such-model", "echo"] {
                _ = try await gw.request(.POST, "/v1/chat/completions", key: key, json: ResilienceTests.chat(model))
            }
            let stream = try await gw.stream("/v1/chat/completions", key: key, json: ResilienceTests.chat("echo", stream: true))
            _ = try await readEvents(stream)
            let tenant = try #require(gw.gateway.snapshot.tenant(named: "acme"))
            try await waitUntil { gw.gateway.tenantInFlight.current(tenant.id) == 0 }
            #expect(try await gw.request(.POST, "/v1/chat/completions", key: key, json: ResilienceTests.chat("echo")).status == 200)
        }
    }

    @Test("a body sent a byte at a time is cut at server.body_read_ms, and its slots come back")
    func tricklingBodyIsCut() async throws {
        try await TestGateway.withStandardSetup(configure: { $0.bodyReadMs = 500 }) { gw, _, key in
            let head =
                "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\n"
                + "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: gw.port).get()
            defer { channel.close(promise: nil) }
            try await channel.writeAndFlush(channel.allocator.buffer(string: head + "{")).get()
            // One byte every 100 ms: each resets the idle timeout, and 1,000 of them would take 100 s.
            var sent = 1
            while sent < 1_000, channel.isActive {
                try await Task.sleep(for: .milliseconds(100))
                guard (try? await channel.writeAndFlush(channel.allocator.buffer(string: " ")).get()) != nil else { break }
                sent += 1
            }
            #expect(!channel.isActive || sent < 1_000, "the gateway closed the connection before the body was complete")
            #expect(sent < 300, "cut well before the body could finish (sent \(sent) bytes)")
            try await waitUntil { gw.gateway.inFlight.current == 0 }
            let tenant = try #require(gw.gateway.snapshot.tenant(named: "acme"))
            #expect(gw.gateway.tenantInFlight.current(tenant.id) == 0)
        }
    }

    @Test("the stall watch: a write waiting longer than the deadline is stalled; a finished one never is")
    func writeWatchDecides() {
        let origin = ContinuousClock.now
        let watch = WriteWatch(origin: origin)
        #expect(!watch.stalled(at: origin + .seconds(100), deadline: .seconds(1)), "no write in progress")
        watch.begin(at: origin + .seconds(10))
        #expect(!watch.stalled(at: origin + .milliseconds(10_999), deadline: .seconds(1)))
        #expect(watch.stalled(at: origin + .milliseconds(11_001), deadline: .seconds(1)))
        watch.end()
        #expect(!watch.stalled(at: origin + .seconds(60), deadline: .seconds(1)))
    }

    @Test("the watchdog calls back once for each stream stalled past its deadline, and stops watching it")
    func watchdogCutsOnlyStalledStreams() {
        let watchdog = StallWatchdog(deadline: .seconds(1))
        let origin = ContinuousClock.now
        let stalled = WriteWatch(origin: origin)
        let busy = WriteWatch(origin: origin)
        let cuts = Mutex<[String]>([])
        _ = watchdog.watch(stalled) { cuts.withLock { $0.append("stalled") } }
        let busyID = watchdog.watch(busy) { cuts.withLock { $0.append("busy") } }
        stalled.begin(at: origin)
        busy.begin(at: origin + .milliseconds(1_500))
        watchdog.check(at: origin + .milliseconds(2_000))
        watchdog.check(at: origin + .milliseconds(2_100))
        #expect(cuts.withLock { $0 } == ["stalled"], "cut once; the write that began 500 ms ago is not stalled")
        #expect(watchdog.count == 1)
        watchdog.forget(busyID)
        #expect(watchdog.count == 0)
    }

    @Test("tenant slots: at most the limit each, given back once, nothing kept for idle tenants")
    func tenantLimitCounts() {
        let limit = TenantInFlightLimit(limit: 2)
        let a1 = limit.slot("a")
        let a2 = limit.slot("a")
        #expect(a1 != nil && a2 != nil)
        #expect(limit.slot("a") == nil)
        #expect(limit.slot("b") != nil, "another tenant has its own share")
        a1?.release()
        a1?.release()
        #expect(limit.current("a") == 1, "a slot is given back exactly once")
        a2?.release()
        #expect(limit.current("a") == 0)
    }
}
