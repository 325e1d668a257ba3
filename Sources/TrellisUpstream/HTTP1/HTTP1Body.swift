import NIOCore
import NIOHTTP1
import Synchronization

/// A response from ``HTTP1Client``: its head, and its body to read.
public struct HTTP1Response: Sendable {
    public var head: HTTPResponseHead
    public var body: HTTP1Body

    public var status: HTTPResponseStatus { head.status }
    public var headers: HTTPHeaders { head.headers }
}

/// A response body, read once. The connection is read only when the reader asks for more and nothing is buffered
/// (back-pressure): each `next()` that finds its buffers empty asks the connection's event loop for one read and
/// takes everything that read brought. A body that ended with its head (a small answer) is read without a hop.
/// Bytes received before the connection broke come before the error. A reader whose task is cancelled, or that is
/// stopped, closes the connection: it is never reused. A reader that lets go of the body before its end leaves the
/// rest to be read and dropped for a moment (``HTTP1Client/Settings/abandonedBodyWindow``); the connection is
/// reused if the end comes, closed if not.
public struct HTTP1Body: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    let first: HTTP1Delivery
    /// Nil when `first` holds the end: nothing is left on the connection.
    let owner: Owner?

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(parts: first.parts, end: first.end, owner: owner)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var parts: [ByteBuffer]
        var index = 0
        var end: HTTP1Delivery.End?
        let owner: Owner?

        init(parts: [ByteBuffer], end: HTTP1Delivery.End?, owner: Owner?) {
            self.parts = parts
            self.end = end
            self.owner = owner
        }

        public mutating func next() async throws -> ByteBuffer? {
            try await read()
        }

        /// Everything received and not yet read, as one buffer (the parts one socket read brought, such as the
        /// chunks of a chunked body), or the next delivery when nothing is; nil at the end. A relay writes that
        /// once, instead of once per part.
        public mutating func readAvailable() async throws(HTTP1Error) -> ByteBuffer? {
            guard var merged = try await read() else { return nil }
            while index < parts.count {
                merged.writeImmutableBuffer(parts[index])
                index += 1
            }
            return merged
        }

        /// The next buffer, nil at the end; throws what ended the body after every buffer before it (once: nil after).
        public mutating func read() async throws(HTTP1Error) -> ByteBuffer? {
            while true {
                if index < parts.count {
                    let buffer = parts[index]
                    index += 1
                    return buffer
                }
                switch end {
                case .finished?:
                    return nil
                case .failed(let error)?:
                    end = .finished
                    throw error
                case nil:
                    guard let owner else { return nil }
                    let delivery = await owner.next()
                    parts = delivery.parts
                    index = 0
                    end = delivery.end
                    if end != nil { owner.ended() }
                }
            }
        }
    }

    /// Whether a reader waits for more of the body (tests).
    func readerWaiting() async -> Bool {
        guard let owner else { return false }
        return await owner.connection.readerWaits(request: owner.request)
    }

    /// Ends the body from outside its reader, from any thread: a waiting reader gets ``HTTP1Error/cancelled`` at
    /// once, later reads too, and the connection is closed. Nothing happens once the body has been read to its end.
    public func stop() {
        guard let owner, !owner.isFinished else { return }
        owner.connection.cancel(request: owner.request)
    }

    /// Reads the whole body, up to `limit` bytes (beyond it `nil`, and the body is let go of: see ``Owner``).
    public func collect(upTo limit: Int) async throws(HTTP1Error) -> ByteBuffer? {
        var iterator = makeAsyncIterator()
        var out = ByteBuffer()
        while var buffer = try await iterator.read() {
            guard out.readableBytes + buffer.readableBytes <= limit else { return nil }
            out.writeBuffer(&buffer)
        }
        return out
    }

    /// The body's link to its connection, held by the body and its iterators only: when the last of them lets go
    /// before the end was handed over, the exchange is abandoned: the rest is dropped as it comes, for a moment, and
    /// the connection reused if the end came, closed if not; an unread answer does not keep its connection long.
    final class Owner: Sendable {
        let connection: HTTP1Connection
        let request: UInt64
        private let finished = Atomic<Bool>(false)

        init(connection: HTTP1Connection, request: UInt64) {
            self.connection = connection
            self.request = request
        }

        func next() async -> HTTP1Delivery {
            let (connection, request) = (self.connection, self.request)
            return await withTaskCancellationHandler {
                await withUnsafeContinuation { (continuation: UnsafeContinuation<HTTP1Delivery, Never>) in
                    connection.demand(request: request, continuation)
                }
            } onCancel: {
                connection.cancel(request: request)
            }
        }

        func ended() { finished.store(true, ordering: .relaxed) }

        var isFinished: Bool { finished.load(ordering: .relaxed) }

        deinit {
            if !finished.load(ordering: .relaxed) { connection.abandon(request: request) }
        }
    }
}
