import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import TrellisUpstream

/// A value tests wait on: changed under a lock, waiters resumed once their condition holds (no polling, no sleep).
/// A wait ends early when its task is cancelled (as the suite's time limit does), so a broken test fails, never hangs.
final class Watch<Value: Sendable>: Sendable {
    private struct Waiter {
        var id: Int
        var condition: @Sendable (Value) -> Bool
        var continuation: CheckedContinuation<Void, Never>
    }

    private let state: Mutex<(value: Value, waiters: [Waiter], next: Int)>

    init(_ value: Value) { state = Mutex((value, [], 0)) }

    var value: Value { state.withLock { $0.value } }

    func update(_ change: (inout Value) -> Void) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            change(&state.value)
            let value = state.value
            var ready: [CheckedContinuation<Void, Never>] = []
            state.waiters.removeAll { waiter in
                guard waiter.condition(value) else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once `condition` holds, or the task is cancelled.
    func until(_ condition: @escaping @Sendable (Value) -> Bool) async {
        let id = state.withLock { state in
            state.next += 1
            return state.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if condition(state.value) || Task.isCancelled { return true }
                    state.waiters.append(Waiter(id: id, condition: condition, continuation: continuation))
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let i = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: i).continuation
            }
            waiter?.resume()
        }
    }
}

/// A raw HTTP/1.1 server on 127.0.0.1 port 0 whose every answer the test chooses (`reply`, per request): written
/// as given, then the connection kept, closed (FIN), reset (RST) or held for the test to end. It reads each whole
/// request (head and `Content-Length` body) before answering, so its closes are clean FINs, and counts connections:
/// accepted, open now, the most open at once, closed.
final class HTTP1TestServer: Sendable {
    struct Counts: Sendable {
        var accepted = 0
        var open = 0
        var maxOpen = 0
        var closed = 0
        var requests = 0
    }

    struct Request: Sendable {
        /// Requests before this one, on any connection.
        var index: Int
        /// Requests before this one on its connection.
        var onConnection: Int
        var method: String
        var path: String
        var headers: [(String, String)]
        var body: [UInt8]
    }

    enum After: Sendable {
        case keepOpen
        case close
        case reset
        /// Kept open and answering nothing more, until `endHeld`.
        case hold
    }

    enum Reply: Sendable {
        case send([UInt8], then: After)
        /// Answers nothing (the connection stays open).
        case silent
    }

    let port: Int
    let counts: Watch<Counts>
    private let channel: any Channel
    private let shared: Shared

    /// What the connections share: the held ones, and the request count.
    final class Shared: Sendable {
        let held = Mutex<[any Channel]>([])
        let requests = Atomic<Int>(0)
    }

    init(reply: @escaping @Sendable (Request) -> Reply) async throws {
        let (counts, shared) = (Watch(Counts()), Shared())
        self.counts = counts
        self.shared = shared
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                counts.update {
                    $0.accepted += 1
                    $0.open += 1
                    $0.maxOpen = max($0.maxOpen, $0.open)
                }
                child.closeFuture.whenComplete { _ in
                    counts.update {
                        $0.open -= 1
                        $0.closed += 1
                    }
                }
                return child.eventLoop.makeCompletedFuture(withResultOf: {
                    try child.pipeline.syncOperations.addHandler(Connection(reply: reply, counts: counts, shared: shared))
                })
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    /// Writes `bytes` on every held connection (the rest of an answer sent in two parts), which then answers its
    /// next requests again.
    func resumeHeld(with bytes: [UInt8]) {
        let channels = shared.held.withLock { held in
            defer { held.removeAll() }
            return held
        }
        for channel in channels {
            channel.eventLoop.execute {
                guard let connection = try? channel.pipeline.syncOperations.handler(type: Connection.self) else { return }
                connection.resume(with: bytes, on: channel)
            }
        }
    }

    /// Ends the held connections: reset (RST) or closed (FIN).
    func endHeld(reset: Bool) {
        let channels = shared.held.withLock { held in
            defer { held.removeAll() }
            return held
        }
        for channel in channels { Self.end(channel, reset: reset) }
    }

    static func end(_ channel: any Channel, reset: Bool) {
        guard reset, let provider = channel as? any SocketOptionProvider else { return channel.close(promise: nil) }
        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }

    func stop() async {
        endHeld(reset: false)
        try? await channel.close()
    }

    /// Reads requests off one connection and writes the replies.
    final class Connection: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let reply: @Sendable (Request) -> Reply
        let counts: Watch<Counts>
        let shared: Shared
        private var input = ByteBuffer()
        private var served = 0
        private var answering = true

        init(reply: @escaping @Sendable (Request) -> Reply, counts: Watch<Counts>, shared: Shared) {
            self.reply = reply
            self.counts = counts
            self.shared = shared
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            input.writeBuffer(&buffer)
            while answering, let request = parse() {
                counts.update { $0.requests += 1 }
                answer(request, context: context)
            }
        }

        /// Writes `bytes`, then answers the requests that came meanwhile and those to come.
        func resume(with bytes: [UInt8], on channel: any Channel) {
            channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
            answering = true
            guard let context = try? channel.pipeline.syncOperations.context(handler: self) else { return }
            while answering, let request = parse() {
                counts.update { $0.requests += 1 }
                answer(request, context: context)
            }
        }

        private func answer(_ request: Request, context: ChannelHandlerContext) {
            served += 1
            switch reply(request) {
            case .silent:
                answering = false
            case .send(let bytes, let after):
                let channel = context.channel
                // A held connection is listed before its bytes go out: the client may read them and the test end
                // the held connections before this thread gets back here.
                if after == .hold { shared.held.withLock { $0.append(channel) } }
                let written = context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes)))
                switch after {
                case .keepOpen:
                    break
                case .close, .reset:
                    answering = false
                    written.whenComplete { _ in HTTP1TestServer.end(channel, reset: after == .reset) }
                case .hold:
                    answering = false
                }
            }
        }

        /// One whole request off the input, if it has arrived.
        private func parse() -> Request? {
            let view = input.readableBytesView
            guard let end = view.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
            let headText = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
            var lines = headText.components(separatedBy: "\r\n")
            let requestLine = lines.removeFirst().split(separator: " ")
            let headers = lines.compactMap { line -> (String, String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            let length = headers.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) } ?? 0
            let headBytes = end.upperBound - view.startIndex
            guard input.readableBytes >= headBytes + length else { return nil }
            input.moveReaderIndex(forwardBy: headBytes)
            let body = input.readBytes(length: length) ?? []
            input.discardReadBytes()
            return Request(
                index: shared.requests.wrappingAdd(1, ordering: .relaxed).oldValue, onConnection: served,
                method: requestLine.first.map(String.init) ?? "", path: requestLine.dropFirst().first.map(String.init) ?? "",
                headers: headers, body: body)
        }
    }
}

/// Canned answers.
enum Canned {
    static func contentLength(_ body: [UInt8], status: String = "200 OK", extra: String = "", version: String = "HTTP/1.1") -> [UInt8] {
        Array("\(version) \(status)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\(extra)\r\n".utf8) + body
    }

    static func contentLength(_ text: String, extra: String = "", version: String = "HTTP/1.1") -> [UInt8] {
        contentLength(Array(text.utf8), extra: extra, version: version)
    }

    static func chunked(_ pieces: [String]) -> [UInt8] {
        var out = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        for piece in pieces { out += String(piece.utf8.count, radix: 16) + "\r\n" + piece + "\r\n" }
        return Array((out + "0\r\n\r\n").utf8)
    }

    /// `count` bytes of a pattern that shows any byte lost, doubled or moved.
    static func pattern(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
    }
}

/// Runs `body` with a server answering by `reply` and a client on the shared event loop group, both stopped after it.
func withHTTP1(
    settings: HTTP1Client.Settings = .init(), reply: @escaping @Sendable (HTTP1TestServer.Request) -> HTTP1TestServer.Reply,
    _ body: (HTTP1TestServer, HTTP1Client, Watch<HTTP1ClientEvents>) async throws -> Void
) async throws {
    let server = try await HTTP1TestServer(reply: reply)
    let events = Watch(HTTP1ClientEvents())
    let client = HTTP1Client(
        eventLoopGroup: MultiThreadedEventLoopGroup.singleton, settings: settings,
        observer: { event in
            events.update { $0.count(event) }
        })
    do {
        try await body(server, client, events)
    } catch {
        client.shutdown()
        await server.stop()
        throw error
    }
    client.shutdown()
    await server.stop()
}

/// Connections the client opened and closed.
struct HTTP1ClientEvents: Sendable {
    var opened = 0
    var closed = 0

    mutating func count(_ event: HTTP1PoolEvent) {
        switch event {
        case .opened: opened += 1
        case .closed: closed += 1
        }
    }
}

extension HTTP1Client.Timeouts {
    /// Generous everywhere (a busy machine never reaches them), so a test shortens only the one it is about.
    static let generous = HTTP1Client.Timeouts(connect: .seconds(30), poolWait: .seconds(60), head: .seconds(60), idle: .seconds(60), total: .seconds(120))

    func with(_ change: (inout Self) -> Void) -> Self {
        var copy = self
        change(&copy)
        return copy
    }
}

extension HTTP1Client {
    /// A POST of `{}` to `127.0.0.1:port` `path`, under `timeouts`.
    func post(port: Int, path: String = "/v1/chat/completions", timeouts: Timeouts = .generous) async throws(HTTP1Error) -> HTTP1Response {
        try await execute(
            host: "127.0.0.1", port: port, method: .POST, path: path, headers: ["Content-Type": "application/json"], body: Array("{}".utf8),
            timeouts: timeouts)
    }

    /// A POST whose whole body is read as text (untyped throws, for use inside `#expect`).
    func postText(port: Int, timeouts: Timeouts = .generous) async throws -> String {
        let response = try await post(port: port, timeouts: timeouts)
        guard let buffer = try await response.body.collect(upTo: 64 << 20) else { throw HTTP1Error.invalidResponse }
        return String(buffer: buffer)
    }
}

/// Waits until `condition` holds, or the test's time limit cancels the wait; records an issue if it never held.
func pollUntil(_ condition: () -> Bool) async {
    while !condition() {
        guard (try? await Task.sleep(for: .milliseconds(5))) != nil else {
            Issue.record("the condition did not hold before the time limit")
            return
        }
    }
}
