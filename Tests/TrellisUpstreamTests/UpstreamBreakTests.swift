import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
import TrellisCore

@testable import TrellisUpstream

/// A raw HTTP/1.1 server on 127.0.0.1 port 0 for one connection: it answers a chunked event stream in steps the
/// test drives, each written, flushed and waited for (so the bytes are on the wire), and then drops the
/// connection without the chunked terminator, as a model server that crashes mid-answer does. It reads the whole
/// request first, so its close is a FIN after the data (a close with unread input would be a reset).
final class BreakingServer: Sendable {
    let port: Int
    private let channel: any Channel
    private let connection = Mutex<(any Channel)?>(nil)
    private let (connections, connected) = AsyncStream<any Channel>.makeStream()
    private let (requests, requestRead) = AsyncStream<Void>.makeStream()
    /// Connections accepted.
    let accepted = Count()

    final class Count: Sendable {
        let value = Atomic<Int>(0)
    }

    /// Reads the request (whose body is `{}`) and says when all of it arrived.
    final class RequestReader: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private var received = ""
        private let done: AsyncStream<Void>.Continuation
        init(done: AsyncStream<Void>.Continuation) { self.done = done }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += String(buffer: unwrapInboundIn(data))
            if received.hasSuffix("\r\n\r\n{}") { done.yield() }
        }
    }

    init() async throws {
        let (continuation, done, accepted) = (connected, requestRead, accepted)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                do {
                    try child.pipeline.syncOperations.addHandler(RequestReader(done: done))
                } catch {
                    return child.eventLoop.makeFailedFuture(error)
                }
                accepted.value.add(1, ordering: .relaxed)
                continuation.yield(child)
                return child.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    /// Waits for the client's connection and its whole request.
    func accept() async throws -> any Channel {
        for await child in connections {
            connection.withLock { $0 = child }
            for await _ in requests { return child }
        }
        throw CancellationError()
    }

    /// Waits for the next whole request (on any connection).
    func nextRequest() async {
        for await _ in requests { return }
    }

    static let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

    /// One HTTP chunk holding `event` as an SSE event.
    static func chunk(_ event: String) -> String {
        let payload = "data: \(event)\n\n"
        return String(payload.utf8.count, radix: 16) + "\r\n" + payload + "\r\n"
    }

    /// Writes `text`, flushes and waits until the write completed (handed to the kernel).
    static func send(_ text: String, on child: any Channel) async throws {
        try await child.writeAndFlush(ByteBuffer(string: text)).get()
    }

    func stop() async {
        try? await connection.withLock { $0 }?.close()
        try? await channel.close()
    }
}

@Suite struct UpstreamBreakTests {
    func upstream(port: Int) -> Upstream {
        Upstream(
            id: "u", name: "breaking", baseURL: "http://127.0.0.1:\(port)/v1", kind: .openai, labels: [.private], apiKeyEnv: nil,
            timeouts: UpstreamTimeouts(connectMs: 5_000, firstByteMs: 30_000, idleMs: 30_000, totalMs: 60_000), createdAt: Date())
    }

    /// Reads the body to its end or failure: the bytes that arrived, and whether it ended in a failure.
    func drain(_ response: UpstreamResponse) async -> (text: String, failed: Bool) {
        var body = response.timedBody(upstream: "breaking")
        var bytes: [UInt8] = []
        do {
            while let buffer = try await body.next() { bytes += buffer.readableBytesView }
        } catch {
            return (String(decoding: bytes, as: UTF8.self), true)
        }
        return (String(decoding: bytes, as: UTF8.self), false)
    }

    @Test(
        "bytes an upstream sent before it dropped the connection reach the reader, even when it read nothing yet (lean client, AsyncHTTPClient)",
        arguments: [true, false])
    func bytesBeforeABreakAreKept(lean: Bool) async throws {
        try await withBreakingServer(lean: lean) { server, client in
            let call = UpstreamCall(
                upstream: upstream(port: server.port), route: .asNamed, path: "/chat/completions", body: Array("{}".utf8), stream: true,
                requestID: "r", apiKey: nil)
            async let sent = client.send(call, logger: Logger(label: "t"))
            let child = try await server.accept()
            try await BreakingServer.send(BreakingServer.head + BreakingServer.chunk("first"), on: child)
            let response = try await sent
            // The reader has not asked for anything yet (a busy gateway): the server sends more and drops the
            // connection; every byte is on the wire before the close.
            try await BreakingServer.send(BreakingServer.chunk("second"), on: child)
            try await BreakingServer.send(BreakingServer.chunk("third"), on: child)
            try await child.close()
            // Gives the client's event loop the time to see the close before the reader starts (this only makes a
            // loss likelier: nothing below depends on it).
            try await Task.sleep(for: .milliseconds(200))
            let (text, failed) = await drain(response)
            #expect(failed, "the stream ended without its terminator: a failure")
            #expect(text.contains("data: first"))
            // AsyncHTTPClient's async body keeps the bytes read while its reader had not asked for more in the
            // connection's state machine, and a connection that then fails drops them; `UpstreamBody` takes every
            // buffer as it arrives, so none is left there.
            #expect(text.contains("data: second") && text.contains("data: third"), "bytes on the wire before the break were delivered: \(text)")
        }
    }
}
