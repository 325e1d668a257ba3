import NIOCore
import NIOHTTP1
import Testing

@testable import TrellisUpstream

/// A body let go of before its end (a stream's relay stops at its last event, a moment before a chunked body's
/// end): its rest is read and dropped for a moment, and the connection reused if the end comes, closed if not.
@Suite("HTTP1Client: a body let go of before its end", .timeLimit(.minutes(1)))
struct HTTP1AbandonTests {
    // MARK: The exchange alone

    /// An exchange streaming a chunked body, with `text` handed over to its reader.
    static func streamingAfterOnePart(_ text: String = "data: [DONE]\n\n") -> HTTP1Exchange {
        var exchange = HTTP1ExchangeTests.streaming()
        _ = exchange.demand()
        _ = exchange.receivedBody(ByteBuffer(string: text))
        _ = exchange.readComplete()
        return exchange
    }

    @Test("let go of mid-body: the rest is read and dropped, and the end releases the connection")
    func restReadAndReleased() {
        var exchange = Self.streamingAfterOnePart()
        guard case .read = exchange.abandon(budget: 100) else { Issue.record("no read for the rest"); return }
        #expect(exchange.discarding)
        guard case .none = exchange.receivedBody(ByteBuffer(string: "more")) else { Issue.record("a part was not dropped"); return }
        #expect(exchange.bufferedBytes == 0, "what comes after the reader let go is not kept")
        guard case .read = exchange.readComplete() else { Issue.record("no read on while the end has not come"); return }
        _ = exchange.receivedEnd()
        guard case .release = exchange.readComplete() else { Issue.record("the end did not release the connection"); return }
        #expect(exchange.state == .done)
        #expect(!exchange.discarding)
    }

    @Test("let go of with its end already received: released at once")
    func endAlreadyThere() {
        var exchange = HTTP1ExchangeTests.streaming()
        _ = exchange.receivedBody(ByteBuffer(string: "tail"))
        _ = exchange.receivedEnd()
        guard case .release = exchange.abandon(budget: 100) else { Issue.record("not released"); return }
        #expect(exchange.state == .done)
    }

    @Test("more than the budget after the reader let go closes the connection")
    func overBudget() {
        var exchange = Self.streamingAfterOnePart()
        _ = exchange.abandon(budget: 8)
        guard case .none = exchange.receivedBody(ByteBuffer(string: "12345678")) else { Issue.record("closed within the budget"); return }
        guard case .close = exchange.receivedBody(ByteBuffer(string: "9")) else { Issue.record("not closed past the budget"); return }
        #expect(exchange.state == .failed)
        var buffered = HTTP1ExchangeTests.streaming()
        _ = buffered.receivedBody(ByteBuffer(string: "123456789"))
        guard case .close = buffered.abandon(budget: 8) else { Issue.record("a buffered rest past the budget did not close"); return }
    }

    @Test("an answer that is not reusable, a timer or a break while dropping the rest: closed")
    func notReusableOrBroken() {
        var closing = HTTP1Exchange()
        _ = closing.start(method: .POST, keepAlive: true)
        _ = closing.receivedHead(HTTP1ExchangeTests.head(["Transfer-Encoding": "chunked", "Connection": "close"]))
        _ = closing.readComplete()
        guard case .close = closing.abandon(budget: 100) else { Issue.record("a Connection: close answer was not closed"); return }

        var timedOut = Self.streamingAfterOnePart()
        _ = timedOut.abandon(budget: 100)
        guard case .close = timedOut.cancel() else { Issue.record("the window's end did not close"); return }
        #expect(timedOut.state == .failed)

        var broken = Self.streamingAfterOnePart()
        _ = broken.abandon(budget: 100)
        guard case .close = broken.inactive() else { Issue.record("a break while dropping did not close"); return }
    }

    // MARK: On a socket

    /// A head announcing 100 bytes, and the first 10 of them.
    static let partial = HTTP1FailureTests.partial
    static let rest = Array(repeating: UInt8(ascii: "x"), count: 90)

    @Test("the rest arrives after the reader let go: the next request reuses the connection")
    func reusedWhenTheRestComes() async throws {
        try await withHTTP1(reply: { request in
            request.index == 0 ? .send(Self.partial, then: .hold) : .send(Canned.contentLength("{}"), then: .keepOpen)
        }) { server, client, events in
            do {
                let response = try await client.post(port: server.port)
                var iterator = response.body.makeAsyncIterator()
                #expect(try await iterator.read().map { String(buffer: $0) } == "0123456789")
            }
            server.resumeHeld(with: Self.rest)
            await pollUntil { client.connections(host: "127.0.0.1", port: server.port).idle == 1 }
            #expect(try await client.postText(port: server.port) == "{}")
            #expect(server.counts.value.accepted == 1, "the second request went on the first connection")
            #expect(events.value.closed == 0)
        }
    }

    @Test("the rest does not come within the window: the connection is closed")
    func closedWhenTheRestDoesNotCome() async throws {
        let settings = HTTP1Client.Settings(abandonedBodyWindow: .milliseconds(100))
        try await withHTTP1(settings: settings, reply: { _ in .send(Self.partial, then: .hold) }) { server, client, events in
            do {
                let response = try await client.post(port: server.port)
                #expect(response.status == .ok)
            }
            await server.counts.until { $0.closed == 1 }
            await events.until { $0.closed == 1 }
            #expect(client.connections(host: "127.0.0.1", port: server.port).open == 0)
        }
    }

    @Test("a rest larger than the budget: the connection is closed")
    func closedPastTheBudget() async throws {
        let settings = HTTP1Client.Settings(abandonedBodyBytes: 16)
        try await withHTTP1(settings: settings, reply: { _ in .send(Self.partial, then: .hold) }) { server, client, events in
            do {
                let response = try await client.post(port: server.port)
                var iterator = response.body.makeAsyncIterator()
                _ = try await iterator.read()
            }
            server.resumeHeld(with: Self.rest)
            await server.counts.until { $0.closed == 1 }
            await events.until { $0.closed == 1 }
        }
    }
}
