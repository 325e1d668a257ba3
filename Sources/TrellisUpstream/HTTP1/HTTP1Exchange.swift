import NIOCore
import NIOHTTP1

/// What the reader of a body is handed at once: the buffers received since it last asked, in order, and how
/// the body ended when it did (`end` nil: more to come).
struct HTTP1Delivery: Sendable {
    var parts: [ByteBuffer]
    var end: End?

    enum End: Sendable, Equatable {
        case finished
        case failed(HTTP1Error)
    }
}

/// One request and its response on one connection, as a value: fed what happens (the response head, a body
/// part, its end, the end of a read, the connection closing, an error, a timer, the reader asking for more, a
/// cancellation), it answers what to do. No I/O and no clock: `HTTP1Handler` carries the answers out on the
/// connection's event loop, and tests drive it alone.
///
/// The socket is read only while the head is awaited or the reader waits with nothing buffered; what a read
/// brings is handed over at the end of the read, all of it at once (a small answer reaches the caller with its
/// head, in one hop). Bytes received before the connection broke are handed over before the error.
struct HTTP1Exchange {
    enum State: Equatable {
        /// No request yet (a fresh or pooled connection).
        case idle
        /// The request is written; the head has not been handed over.
        case awaitingHead
        /// The head is handed over; the body is being read.
        case streaming
        /// The reader was handed the end: the connection is released or closed.
        case done
        /// Failed or cancelled; the connection is closed.
        case failed
    }

    /// What becomes of the connection once a delivery is made.
    enum Next: Equatable {
        /// More of the body is to come.
        case keep
        /// The exchange ended cleanly on a reusable connection: back to the pool.
        case release
        case close
    }

    enum Action {
        case none
        /// Write the request (head and body, one flush) and read.
        case write
        case read
        /// Hand the head (and what came with it) to the caller waiting for it.
        case deliverHead(HTTPResponseHead, HTTP1Delivery, Next)
        /// Hand buffers (and perhaps the end) to the waiting reader.
        case deliver(HTTP1Delivery, Next)
        /// The caller waiting for the head gets this error; close the connection.
        case failHead(HTTP1Error)
        case close
        /// A body let go of was read to its end: the connection goes back to the pool.
        case release
    }

    private(set) var state = State.idle
    /// A read is outstanding.
    private(set) var reading = false
    /// The reader waits for a delivery.
    private(set) var readerWaiting = false
    private var head: HTTPResponseHead?
    private var parts: [ByteBuffer] = []
    /// How the response ended, not yet handed over.
    private var end: HTTP1Delivery.End?
    /// Why the exchange failed, for a reader that asks afterwards.
    private var failure: HTTP1Error?
    private var method = HTTPMethod.GET
    private var requestKeepAlive = true
    private var reusable = false
    /// The reader let go of the body before its end, and the rest is read and dropped (``abandon(budget:)``).
    private(set) var discarding = false
    /// How many more bytes may be dropped while discarding; past it the connection is closed.
    private var discardBudget = 0

    /// Bytes received and not yet handed over (for tests).
    var bufferedBytes: Int { parts.reduce(0) { $0 + $1.readableBytes } }

    // MARK: The caller

    /// The request starts: write it, then read for the head.
    mutating func start(method: HTTPMethod, keepAlive: Bool) -> Action {
        guard state == .idle else { return fail(.invalidResponse) }
        self.method = method
        requestKeepAlive = keepAlive
        state = .awaitingHead
        reading = true
        return .write
    }

    /// The reader asks for more of the body.
    mutating func demand() -> Action {
        switch state {
        case .streaming:
            readerWaiting = true
            if !parts.isEmpty || end != nil { return deliver() }
            if reading { return .none }
            reading = true
            return .read
        case .failed:
            return .deliver(HTTP1Delivery(parts: [], end: .failed(failure ?? .cancelled)), .close)
        case .done:
            return .deliver(HTTP1Delivery(parts: [], end: .finished), .keep)
        case .idle, .awaitingHead:
            return .none
        }
    }

    /// The caller's task was cancelled, or its reader let go of the body: the connection is closed, never reused.
    mutating func cancel() -> Action {
        switch state {
        case .idle:
            state = .failed
            failure = .cancelled
            return .close
        case .awaitingHead:
            state = .failed
            failure = .cancelled
            return .failHead(.cancelled)
        case .streaming:
            state = .failed
            failure = .cancelled
            parts = []
            end = nil
            guard readerWaiting else { return .close }
            readerWaiting = false
            return .deliver(HTTP1Delivery(parts: [], end: .failed(.cancelled)), .close)
        case .done, .failed:
            return .none
        }
    }

    /// The reader let go of the body before its end was handed over. A reusable response is read to its end and
    /// dropped, up to `budget` more bytes, so that its connection can carry the next request: a stream's relay stops
    /// at its last event, a moment before the chunked body's end arrives. Anything else is a ``cancel()``: the
    /// connection is closed. The caller bounds the wait with a timer (a ``cancel()`` when it fires).
    mutating func abandon(budget: Int) -> Action {
        guard state == .streaming, reusable, !readerWaiting, bufferedBytes <= budget else { return cancel() }
        discarding = true
        discardBudget = budget - bufferedBytes
        parts = []
        if end == .finished { return discarded() }
        if reading { return .none }
        reading = true
        return .read
    }

    /// The body let go of has ended: the connection is reused.
    private mutating func discarded() -> Action {
        state = .done
        discarding = false
        end = nil
        return .release
    }

    // MARK: The connection

    mutating func receivedHead(_ head: HTTPResponseHead) -> Action {
        guard state == .awaitingHead, self.head == nil else { return fail(.invalidResponse) }
        self.head = head
        reusable = Self.reusable(head: head, method: method, requestKeepAlive: requestKeepAlive)
        return .none
    }

    mutating func receivedBody(_ buffer: ByteBuffer) -> Action {
        guard head != nil, end == nil, state == .awaitingHead || state == .streaming else {
            return state == .failed ? .none : fail(.invalidResponse)
        }
        if discarding {
            discardBudget -= buffer.readableBytes
            return discardBudget < 0 ? cancel() : .none
        }
        parts.append(buffer)
        return .none
    }

    mutating func receivedEnd() -> Action {
        guard head != nil, end == nil, state == .awaitingHead || state == .streaming else {
            return state == .failed ? .none : fail(.invalidResponse)
        }
        end = .finished
        return .none
    }

    /// A read ended: hand over what it brought, or read on while the head or a waiting reader needs more.
    mutating func readComplete() -> Action {
        reading = false
        switch state {
        case .awaitingHead:
            guard head != nil else {
                reading = true
                return .read
            }
            return deliverHead()
        case .streaming:
            if discarding {
                if end == .finished { return discarded() }
                reading = true
                return .read
            }
            guard readerWaiting else { return .none }
            if !parts.isEmpty || end != nil { return deliver() }
            reading = true
            return .read
        case .idle, .done, .failed:
            return .none
        }
    }

    /// The connection closed. A close-delimited body's end was already reported by the decoder.
    mutating func inactive() -> Action {
        reading = false
        return fail(.connectionClosed)
    }

    /// The pipeline reported an error, or a timer fired: the exchange fails after what was already received (a
    /// response already complete is still handed over whole, and the connection closed).
    mutating func fail(_ error: HTTP1Error) -> Action {
        switch state {
        case .idle:
            state = .failed
            failure = error
            return .close
        case .awaitingHead:
            guard head != nil else {
                state = .failed
                failure = error
                return .failHead(error)
            }
            if end == nil { end = .failed(error) }
            reusable = false
            return deliverHead()
        case .streaming:
            if end == nil { end = .failed(error) }
            reusable = false
            guard readerWaiting else { return .close }
            return deliver()
        case .done, .failed:
            return .none
        }
    }

    // MARK: Hand-overs

    private mutating func deliverHead() -> Action {
        guard let head else { return .none }
        let (delivery, next) = take()
        return .deliverHead(head, delivery, next)
    }

    private mutating func deliver() -> Action {
        readerWaiting = false
        let (delivery, next) = take()
        return .deliver(delivery, next)
    }

    /// Everything received so far, and what becomes of the connection.
    private mutating func take() -> (HTTP1Delivery, Next) {
        let delivery = HTTP1Delivery(parts: parts, end: end)
        parts = []
        end = nil
        switch delivery.end {
        case nil:
            state = .streaming
            return (delivery, .keep)
        case .finished:
            state = .done
            return (delivery, reusable ? .release : .close)
        case .failed(let error):
            state = .failed
            failure = error
            return (delivery, .close)
        }
    }

    /// Whether the connection may carry another request after this response: both sides keep it alive, it is
    /// HTTP/1.1, and the body's end is known without the connection closing (a length, chunked, or no body).
    static func reusable(head: HTTPResponseHead, method: HTTPMethod, requestKeepAlive: Bool) -> Bool {
        guard requestKeepAlive, head.version.major == 1, head.version.minor >= 1, head.isKeepAlive else { return false }
        let status = head.status.code
        if method == .HEAD || (100..<200).contains(status) || status == 204 || status == 304 { return true }
        if head.headers.contains(name: "content-length") { return true }
        return head.headers[canonicalForm: "transfer-encoding"].last?.lowercased() == "chunked"
    }
}
