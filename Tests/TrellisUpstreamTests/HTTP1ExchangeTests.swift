import NIOCore
import NIOHTTP1
import Testing

@testable import TrellisUpstream

/// The exchange alone: what it answers to each event, without a socket or a clock.
@Suite("HTTP1Exchange")
struct HTTP1ExchangeTests {
    static func head(_ headers: HTTPHeaders = ["Content-Length": "5"], version: HTTPVersion = .http1_1, status: HTTPResponseStatus = .ok) -> HTTPResponseHead {
        HTTPResponseHead(version: version, status: status, headers: headers)
    }

    static func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// An exchange whose request is written and whose head was handed over with nothing else.
    static func streaming() -> HTTP1Exchange {
        var exchange = HTTP1Exchange()
        _ = exchange.start(method: .POST, keepAlive: true)
        _ = exchange.receivedHead(head(["Transfer-Encoding": "chunked"]))
        _ = exchange.readComplete()
        return exchange
    }

    @Test("a start writes the request and reads; a read without the head reads again")
    func startAndReadForHead() {
        var exchange = HTTP1Exchange()
        guard case .write = exchange.start(method: .POST, keepAlive: true) else { Issue.record("no write"); return }
        #expect(exchange.state == .awaitingHead)
        #expect(exchange.reading)
        guard case .read = exchange.readComplete() else { Issue.record("no read after a read without the head"); return }
        #expect(exchange.state == .awaitingHead)
    }

    @Test("a whole answer in one read is handed over with its head, and the connection released")
    func wholeAnswerInOneRead() {
        var exchange = HTTP1Exchange()
        _ = exchange.start(method: .POST, keepAlive: true)
        _ = exchange.receivedHead(Self.head())
        _ = exchange.receivedBody(Self.bytes("hel"))
        _ = exchange.receivedBody(Self.bytes("lo"))
        _ = exchange.receivedEnd()
        guard case .deliverHead(let head, let delivery, let next) = exchange.readComplete() else {
            Issue.record("the head was not handed over")
            return
        }
        #expect(head.status == .ok)
        #expect(delivery.parts.map { String(buffer: $0) } == ["hel", "lo"])
        #expect(delivery.end == .finished)
        #expect(next == .release)
        #expect(exchange.state == .done)
    }

    @Test("the body is read only when the reader asks and nothing is buffered")
    func readsOnDemandOnly() {
        var exchange = Self.streaming()
        #expect(exchange.state == .streaming)
        #expect(!exchange.reading, "nothing read before the reader asks")
        guard case .read = exchange.demand() else { Issue.record("no read on demand"); return }
        _ = exchange.receivedBody(Self.bytes("a"))
        guard case .deliver(let delivery, .keep) = exchange.readComplete() else { Issue.record("no delivery"); return }
        #expect(delivery.parts.map { String(buffer: $0) } == ["a"])
        #expect(delivery.end == nil)
        // Bytes the connection brings while the reader is away (a close's last read) wait, and no read is asked for.
        _ = exchange.receivedBody(Self.bytes("b"))
        guard case .none = exchange.readComplete() else { Issue.record("acted without a reader"); return }
        #expect(exchange.bufferedBytes == 1)
        guard case .deliver(let next, .keep) = exchange.demand() else { Issue.record("buffered bytes not handed over"); return }
        #expect(next.parts.map { String(buffer: $0) } == ["b"])
        #expect(!exchange.reading)
    }

    @Test("a read that brings no body part while the reader waits reads again")
    func emptyReadReadsAgain() {
        var exchange = Self.streaming()
        _ = exchange.demand()
        guard case .read = exchange.readComplete() else { Issue.record("no second read"); return }
    }

    @Test("a connection that breaks mid-body hands over what came first, then the error, and is closed")
    func breakAfterBytes() {
        var exchange = Self.streaming()
        _ = exchange.receivedBody(Self.bytes("kept"))
        guard case .close = exchange.fail(.io(104)) else { Issue.record("not closed"); return }
        guard case .deliver(let delivery, .close) = exchange.demand() else { Issue.record("nothing handed over"); return }
        #expect(delivery.parts.map { String(buffer: $0) } == ["kept"])
        #expect(delivery.end == .failed(.io(104)))
        #expect(exchange.state == .failed)
    }

    @Test("a close before the head fails the caller waiting for it")
    func closeBeforeHead() {
        var exchange = HTTP1Exchange()
        _ = exchange.start(method: .POST, keepAlive: true)
        guard case .failHead(.connectionClosed) = exchange.inactive() else { Issue.record("the head waiter was not failed"); return }
        #expect(exchange.state == .failed)
    }

    @Test("a close-delimited body: the head and body reach the caller even when no read completes before the close")
    func closeAfterWholeAnswer() {
        var exchange = HTTP1Exchange()
        _ = exchange.start(method: .GET, keepAlive: true)
        _ = exchange.receivedHead(Self.head([:]))
        _ = exchange.receivedBody(Self.bytes("all"))
        _ = exchange.receivedEnd()
        guard case .deliverHead(_, let delivery, .close) = exchange.inactive() else { Issue.record("not handed over"); return }
        #expect(delivery.end == .finished)
        #expect(delivery.parts.count == 1)
    }

    @Test("each timeout fails the phase it fires in; one after the answer ended changes nothing the reader gets")
    func timeouts() {
        var waiting = HTTP1Exchange()
        _ = waiting.start(method: .POST, keepAlive: true)
        guard case .failHead(.headTimeout) = waiting.fail(.headTimeout) else { Issue.record("head timeout"); return }

        var reading = Self.streaming()
        _ = reading.demand()
        guard case .deliver(let delivery, .close) = reading.fail(.idleTimeout) else { Issue.record("idle timeout"); return }
        #expect(delivery.end == .failed(.idleTimeout))

        var ended = Self.streaming()
        _ = ended.receivedBody(Self.bytes("x"))
        _ = ended.receivedEnd()
        _ = ended.fail(.totalTimeout)
        guard case .deliver(let last, .close) = ended.demand() else { Issue.record("total timeout"); return }
        #expect(last.end == .finished, "an answer already complete is handed over whole")
    }

    @Test("cancelling drops what was buffered, fails a waiting reader and closes; later demand gets the cancellation")
    func cancel() {
        var exchange = Self.streaming()
        _ = exchange.receivedBody(Self.bytes("dropped"))
        guard case .close = exchange.cancel() else { Issue.record("not closed"); return }
        guard case .deliver(let delivery, .close) = exchange.demand() else { Issue.record("no answer to demand"); return }
        #expect(delivery.parts.isEmpty)
        #expect(delivery.end == .failed(.cancelled))

        var waiting = HTTP1Exchange()
        _ = waiting.start(method: .POST, keepAlive: true)
        guard case .failHead(.cancelled) = waiting.cancel() else { Issue.record("the head waiter was not failed"); return }
    }

    @Test("bytes on an idle connection close it")
    func bytesWhileIdle() {
        var exchange = HTTP1Exchange()
        guard case .close = exchange.receivedHead(Self.head()) else { Issue.record("kept a connection that spoke unasked"); return }
    }

    /// The response's version and headers, the request's method and keep-alive, and whether the connection is reused.
    static let reuseCases: [(HTTPVersion, HTTPHeaders, HTTPMethod, Bool, Bool)] = [
        (.http1_1, ["Content-Length": "5"], .POST, true, true),
        (.http1_1, ["Transfer-Encoding": "chunked"], .POST, true, true),
        (.http1_1, ["Content-Length": "5", "Connection": "close"], .POST, true, false),
        (.http1_1, ["Content-Length": "5"], .POST, false, false),
        (.http1_0, ["Content-Length": "5", "Connection": "keep-alive"], .POST, true, false),
        (.http1_1, [:], .POST, true, false),
        (.http1_1, [:], .HEAD, true, true),
    ]

    @Test("reused only after a keep-alive HTTP/1.1 answer of known length", arguments: reuseCases)
    func reusable(_ reuse: (HTTPVersion, HTTPHeaders, HTTPMethod, Bool, Bool)) {
        let head = HTTPResponseHead(version: reuse.0, status: .ok, headers: reuse.1)
        #expect(HTTP1Exchange.reusable(head: head, method: reuse.2, requestKeepAlive: reuse.3) == reuse.4)
    }

    @Test("an answer that is not reusable closes its connection at the end")
    func notReusableCloses() {
        var exchange = HTTP1Exchange()
        _ = exchange.start(method: .POST, keepAlive: true)
        _ = exchange.receivedHead(Self.head(["Content-Length": "0", "Connection": "close"]))
        _ = exchange.receivedEnd()
        guard case .deliverHead(_, _, .close) = exchange.readComplete() else { Issue.record("not closed"); return }
    }
}
