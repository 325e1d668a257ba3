import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import OpenAIWire
import Synchronization
import Testing
import TrellisCore

@testable import TrellisServer

/// A model server that answers a chat stream with its head and one event, then sends nothing at all (not even an
/// SSE comment) and never ends: a silent upstream. With `answers` false it does not even send the head. It counts
/// the requests it received and the connections that closed, so a test sees the gateway let go of its connection.
final class SilentUpstream: Sendable {
    let port: Int
    private let channel: any Channel
    private let counts = Counts()

    /// The connections: those accepted (kept, to close at the end), how many, and how many closed.
    final class Counts: Sendable {
        let children = Mutex<[any Channel]>([])
        let accepted = Atomic<Int>(0)
        let requests = Atomic<Int>(0)
        let closed = Atomic<Int>(0)
    }

    var baseURL: String { "http://127.0.0.1:\(port)/v1" }
    /// Connections accepted, and those closed since.
    var accepted: Int { counts.accepted.load(ordering: .relaxed) }
    /// Requests whose head arrived.
    var requests: Int { counts.requests.load(ordering: .relaxed) }
    var closed: Int { counts.closed.load(ordering: .relaxed) }

    static let event =
        #"{"id":"chatcmpl-silent","object":"chat.completion.chunk","created":1700000000,"model":"silent","#
        + #""choices":[{"index":0,"delta":{"role":"assistant","content":"first"},"finish_reason":null}]}"#

    /// The head and one chunk holding one event; the chunked body never ends.
    static var answer: String {
        let payload = "data: \(event)\n\n"
        return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            + String(payload.utf8.count, radix: 16) + "\r\n" + payload + "\r\n"
    }

    /// Answers once the request's head has arrived; counts the connection's close.
    final class Answerer: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        private var received = ""
        private var answered = false
        private let counts: Counts
        private let answers: Bool

        init(counts: Counts, answers: Bool) {
            self.counts = counts
            self.answers = answers
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !answered else { return }
            received += String(buffer: unwrapInboundIn(data))
            guard received.contains("\r\n\r\n") else { return }
            answered = true
            counts.requests.add(1, ordering: .relaxed)
            guard answers else { return }
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: SilentUpstream.answer)), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            counts.closed.add(1, ordering: .relaxed)
            context.fireChannelInactive()
        }
    }

    init(answers: Bool = true) async throws {
        let counts = counts
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                do {
                    try child.pipeline.syncOperations.addHandler(Answerer(counts: counts, answers: answers))
                } catch {
                    return child.eventLoop.makeFailedFuture(error)
                }
                counts.accepted.add(1, ordering: .relaxed)
                counts.children.withLock { $0.append(child) }
                return child.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    func stop() async {
        for child in counts.children.withLock({ $0 }) { try? await child.close() }
        try? await channel.close()
    }
}

func withSilentUpstream<T>(answers: Bool = true, _ body: (SilentUpstream) async throws -> T) async throws -> T {
    let upstream = try await SilentUpstream(answers: answers)
    do {
        let result = try await body(upstream)
        await upstream.stop()
        return result
    } catch {
        await upstream.stop()
        throw error
    }
}

/// The stream relay runs in the response body itself (no task or channel of its own): what ends a stream whose
/// upstream is silent (the client leaving, the shutdown drain, a response never written) still ends it at once,
/// records it, and lets go of the upstream's connection.
@Suite struct StreamRelayTests {
    static let chat: JSONValue = ["model": "silent", "stream": true, "messages": [["role": "user", "content": "hi"]]]

    /// Tenant `acme`, upstream and model `silent` (timeouts far beyond any test, so only the gateway's own stop ends
    /// a read of it); returns the tenant's key.
    static func setUp(_ gw: TestGateway, _ upstream: SilentUpstream) async throws -> String {
        try await gw.createTenant("acme")
        try await gw.createUpstream(
            "silent", baseURL: upstream.baseURL,
            extra: ["timeouts": ["first_byte_ms": 3_600_000, "idle_ms": 3_600_000, "total_ms": 3_600_000]])
        try await gw.createModel("silent", spec: ["upstream": "silent", "model": "silent"])
        return try await gw.issueKey(tenant: "acme").key
    }

    @Test func aClientLeavingWhileTheUpstreamIsSilentEndsTheRelayAndReleasesTheUpstream() async throws {
        try await withSilentUpstream { upstream in
            try await TestGateway.run { gw in
                let key = try await Self.setUp(gw, upstream)
                let client = HTTPClient(eventLoopGroupProvider: .singleton)
                let response = try await client.execute(gw.postJSON("/v1/chat/completions", key: key, json: Self.chat), timeout: .seconds(60))
                #expect(response.status == .ok)
                var received = ""
                var body = response.body.makeAsyncIterator()
                while !received.contains("first"), let buffer = try await body.next() { received += String(buffer: buffer) }
                #expect(received.contains("first"), "the first event was relayed")
                #expect(upstream.accepted == 1 && upstream.closed == 0, "the upstream call is open while the client is")
                // The client goes away while the gateway waits on the silent upstream.
                try await client.shutdown()
                try await waitUntil { upstream.closed == 1 }
                #expect(upstream.closed == 1, "the upstream connection was closed, not kept")
                try await waitUntil { try await gw.gateway.store.usageCount() > 0 || gw.gateway.usage.pendingCount > 0 }
                await gw.flushUsage()
                let row = try #require(try await gw.gateway.store.usageEvents().last)
                #expect(row.stream && row.upstream == "silent")
                #expect(row.status == 499 && row.errorCode == "client_closed_request")
                #expect(row.ttftMs != nil, "the first token reached the client")
                let health = try await gw.admin(.GET, "/upstreams/silent").json["health"]
                #expect(health?["consecutive_failures"] == .int(0), "a client leaving is not the upstream's failure")
            }
        }
    }

    @Test func aClientLeavingBeforeTheFirstEventCancelsTheDispatchAndReleasesTheUpstream() async throws {
        // The upstream never answers: the request's own task waits in the dispatch, for the response head.
        try await withSilentUpstream(answers: false) { upstream in
            try await TestGateway.run { gw in
                let key = try await Self.setUp(gw, upstream)
                let client = HTTPClient(eventLoopGroupProvider: .singleton)
                let pending = Task { try await client.execute(gw.postJSON("/v1/chat/completions", key: key, json: Self.chat), timeout: .seconds(60)) }
                try await waitUntil { upstream.requests == 1 }
                #expect(upstream.closed == 0)
                pending.cancel()
                _ = try? await pending.value
                try await client.shutdown()
                try await waitUntil { upstream.closed == 1 }
                #expect(upstream.closed == 1, "the upstream call was cancelled and its connection closed")
                try await waitUntil { try await gw.gateway.store.usageCount() > 0 || gw.gateway.usage.pendingCount > 0 }
                await gw.flushUsage()
                let row = try #require(try await gw.gateway.store.usageEvents().last)
                #expect(row.stream && row.status == 499 && row.errorCode == "client_closed_request")
            }
        }
    }

    @Test func theShutdownEndsAStreamWhoseUpstreamIsSilentAndReleasesTheUpstream() async throws {
        let dataDir = TestGateway.makeDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        try await withSilentUpstream { upstream in
            // A grace period of one second: the drain window (a second less) closes as the shutdown begins.
            try await TestGateway.run(dataDir: dataDir, configure: { $0.shutdownGraceSeconds = 1 }) { gw in
                let key = try await Self.setUp(gw, upstream)
                let stream = try await gw.stream("/v1/chat/completions", key: key, json: Self.chat)
                #expect(stream.status.code == 200)
                await gw.beginShutdown()
                let events = try await readEvents(stream)
                #expect(events.first?.contains("first") == true)
                #expect(events.last == "[DONE]")
                let error = try #require(events.dropLast().last.flatMap { try? JSONParser.parse($0) })
                #expect(error["error"]?["code"]?.stringValue == "server_shutting_down")
                try await waitUntil { upstream.closed == 1 }
                #expect(upstream.closed == 1, "the upstream connection was closed, not kept")
            }
        }
        let condition = "status = 503 AND error_code = 'server_shutting_down' AND upstream = 'silent'"
        #expect(try await TestGateway.usageCount(dataDir: dataDir, where: condition) == 1)
    }

    @Test func aStreamNeverRelayedIsRecordedAsTheClientLeavingAndReleasesTheUpstream() async throws {
        try await withSilentUpstream { upstream in
            try await TestGateway.run { gw in
                let plain = try await Self.setUp(gw, upstream)
                let key = try InferenceFlowTests.key(gw, plain)
                var outcome: InferenceOutcome? = try await InferenceFlow(gateway: gw.gateway).chat(
                    try ChatRequest.parse(Self.chat), key: key, call: InferenceFlowTests.call("req_never_relayed", gw))
                guard case .stream? = outcome else {
                    Issue.record("a request with stream is relayed")
                    return
                }
                #expect(upstream.closed == 0)
                // The response is dropped before its body ran (as when its head cannot be written).
                outcome = nil
                try await waitUntil { upstream.closed == 1 }
                #expect(upstream.closed == 1, "the upstream connection was closed, not kept")
                await gw.flushUsage()
                let row = try #require(try await gw.gateway.store.usageEvents().first { $0.requestID == "req_never_relayed" })
                #expect(row.status == 499 && row.errorCode == "client_closed_request")
            }
        }
    }

    @Test func aCancelScopeCancelsItsTaskWhileTheOperationRunsAndNeverAfter() async throws {
        // The client leaves while the operation runs: the task running it is cancelled.
        let during = ConnectionWatcher()
        let cancelledInside = try await Task {
            try await CancelScope.run(watching: during) {
                during.clientClosed()
                return Task.isCancelled
            }
        }.value
        #expect(cancelledInside)
        // The client leaves once the operation is over: nothing is cancelled.
        let after = ConnectionWatcher()
        let cancelledAfter = try await Task {
            let inside = try await CancelScope.run(watching: after) { Task.isCancelled }
            after.clientClosed()
            return inside || Task.isCancelled
        }.value
        #expect(!cancelledAfter)
        // The client had already left: the operation does not run.
        let gone = ConnectionWatcher()
        gone.clientClosed()
        var ran = false
        do {
            try await CancelScope.run(watching: gone) { ran = true }
            Issue.record("expected CancellationError")
        } catch {
            #expect(error is CancellationError)
        }
        #expect(!ran)
    }
}
