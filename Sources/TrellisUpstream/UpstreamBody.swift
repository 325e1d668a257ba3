import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// An upstream answer's body: every buffer the connection delivered, in order, then its end or the error that
/// ended it. A connection that breaks after sending bytes the reader has not asked for yet keeps them: the reader
/// gets them all before the error.
///
/// Why not `HTTPClientResponse.Body`: AsyncHTTPClient's async body asks its connection for more only after the
/// reader took the previous buffer. Bytes the connection reads meanwhile (at a close, the kernel's last bytes are
/// read whether asked for or not) wait in the connection's state machine, and a connection that then closes fails
/// the request without forwarding them. Here the body is read through AsyncHTTPClient's delegate API on the
/// connection's own event loop: each buffer is appended to this body's queue and demand is re-armed at once (an
/// already-succeeded future), so the connection never holds bytes back; only a reader more than
/// ``UpstreamBodyStream/bound`` bytes behind holds the upstream back.
public struct UpstreamBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    /// Where the bytes come from: AsyncHTTPClient's delegate (HTTPS upstreams, probes) or the lean HTTP/1.1
    /// client (plain-http upstreams, see ``HTTP1Client``).
    enum Source: Sendable {
        case delegate(Owner)
        case lean(HTTP1Body)
    }

    let source: Source

    init(owner: Owner) { self.source = .delegate(owner) }
    init(lean: HTTP1Body) { self.source = .lean(lean) }

    public func makeAsyncIterator() -> AsyncIterator {
        switch source {
        case .delegate(let owner): AsyncIterator(inner: .delegate(owner))
        case .lean(let body): AsyncIterator(inner: .lean(body.makeAsyncIterator()))
        }
    }

    /// Ends the body from outside its reader, from any thread (a stream's client went away, or the shutdown drain
    /// closed while the upstream was silent): a waiting reader gets a cancellation at once (`CancellationError`, or
    /// ``HTTP1Error/cancelled`` on the lean client), later reads too, and the request is cancelled, which releases
    /// its connection. Nothing happens once the body has ended.
    public func stop() {
        switch source {
        case .delegate(let owner): owner.stream.stop(task: owner.task)
        case .lean(let body): body.stop()
        }
    }

    /// AsyncHTTPClient's delegate behind the body, nil on the lean client (tests).
    var delegateStream: UpstreamBodyStream? {
        if case .delegate(let owner) = source { return owner.stream }
        return nil
    }

    /// Whether a reader waits for the next buffer (tests).
    func readerWaiting() async -> Bool {
        switch source {
        case .delegate(let owner): owner.stream.buffered.readerWaiting
        case .lean(let body): await body.readerWaiting()
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        enum Inner {
            case delegate(Owner)
            case lean(HTTP1Body.AsyncIterator)
        }

        var inner: Inner

        /// The next buffer (on the lean client, everything received so far), nil at the end; throws the error
        /// that ended the body after every buffer before it. A reader whose task is cancelled gets a
        /// cancellation, and the request is cancelled.
        public mutating func next() async throws -> ByteBuffer? {
            switch inner {
            case .delegate(let owner):
                return try await owner.stream.next(task: owner.task)
            case .lean(var iterator):
                // The iterator's state is stored back whether it answered or threw (it throws its end once).
                do {
                    let buffer = try await iterator.readAvailable()
                    inner = .lean(iterator)
                    return buffer
                } catch {
                    inner = .lean(iterator)
                    throw error
                }
            }
        }
    }

    /// Reads the whole body, up to `limit` bytes (beyond it: ``TooLarge``, and the request is cancelled).
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        var out = ByteBuffer()
        for try await var buffer in self {
            guard out.readableBytes + buffer.readableBytes <= limit else { throw TooLarge() }
            out.writeBuffer(&buffer)
        }
        return out
    }

    /// A body longer than `collect`'s limit.
    public struct TooLarge: Error {}

    /// Held by the body and its iterators, never by AsyncHTTPClient: when the last reader lets go of a body
    /// that has not ended, the request is cancelled (as AsyncHTTPClient's own body does), so an unread answer
    /// does not keep its connection.
    final class Owner: Sendable {
        let stream: UpstreamBodyStream
        let task: HTTPClient.Task<Void>

        init(stream: UpstreamBodyStream, task: HTTPClient.Task<Void>) {
            self.stream = stream
            self.task = task
        }

        deinit { stream.stop(task: task) }
    }
}

/// The delegate AsyncHTTPClient hands an upstream answer to, and the queue the reader takes it from: one lock
/// per buffer, one waiting reader at most, no task or hop of its own.
final class UpstreamBodyStream: HTTPClientResponseDelegate {
    typealias Response = Void

    /// Buffered bytes beyond which the upstream is held back until the reader catches up.
    static let bound = 1 << 20

    /// Completed by the response head, or failed by the error that came before it.
    let head: EventLoopPromise<HTTPResponseHead>
    private let state = Mutex(State())

    init(eventLoop: any EventLoop) {
        head = eventLoop.makePromise(of: HTTPResponseHead.self)
    }

    struct State {
        var buffers = CircularBuffer<ByteBuffer>(initialCapacity: 4)
        var bufferedBytes = 0
        /// Set when the request finished or failed; read by the reader after `buffers` are empty.
        var end: End?
        /// The reader, waiting while `buffers` is empty and `end` is nil.
        var reader: UnsafeContinuation<ByteBuffer?, any Error>?
        /// The upstream, held back while more than `bound` bytes wait for the reader.
        var demand: EventLoopPromise<Void>?
        var headArrived = false

        enum End {
            case finished
            case failed(any Error & Sendable)
            /// The reader was given the end (nil, or the error once): nil from now on.
            case delivered
        }

        enum ReaderStep {
            case buffer(ByteBuffer, resume: EventLoopPromise<Void>?)
            case ended
            case failed(any Error & Sendable)
            case wait
        }

        /// What the reader gets now: every buffer waiting, as one (so that a relay writes them once; and the
        /// upstream to release, if it was held back), the end (once; nil after it), or nothing yet.
        mutating func takeForReader() -> ReaderStep {
            if var buffer = buffers.popFirst() {
                while let more = buffers.popFirst() { buffer.writeImmutableBuffer(more) }
                bufferedBytes = 0
                guard let demand else { return .buffer(buffer, resume: nil) }
                self.demand = nil
                return .buffer(buffer, resume: demand)
            }
            switch end {
            case .none:
                return .wait
            case .finished, .delivered:
                end = .delivered
                return .ended
            case .failed(let error):
                end = .delivered
                return .failed(error)
            }
        }
    }

    var headArrived: Bool { state.withLock { $0.headArrived } }

    /// Bytes waiting for the reader, and whether a reader waits (for tests).
    var buffered: (bytes: Int, readerWaiting: Bool) { state.withLock { ($0.bufferedBytes, $0.reader != nil) } }

    // MARK: The reader

    func next(task: HTTPClient.Task<Void>) async throws -> ByteBuffer? {
        if Task.isCancelled {
            stop(task: task)
            throw CancellationError()
        }
        switch state.withLock({ $0.takeForReader() }) {
        case .buffer(let buffer, let resume):
            resume?.succeed(())
            return buffer
        case .ended:
            return nil
        case .failed(let error):
            throw error
        case .wait:
            break
        }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (reader: UnsafeContinuation<ByteBuffer?, any Error>) in
                let step = state.withLock { state -> State.ReaderStep in
                    let step = state.takeForReader()
                    if case .wait = step { state.reader = reader }
                    return step
                }
                switch step {
                case .buffer(let buffer, let resume):
                    resume?.succeed(())
                    reader.resume(returning: buffer)
                case .ended: reader.resume(returning: nil)
                case .failed(let error): reader.resume(throwing: error)
                case .wait: break
                }
            }
        } onCancel: {
            stop(task: task)
        }
    }

    /// The reader left (cancelled, or let go of the body before its end): the body ends here, what is buffered
    /// is dropped, a waiting reader gets `CancellationError`, and the request is cancelled.
    func stop(task: HTTPClient.Task<Void>) {
        let stopped = state.withLock { state -> (UnsafeContinuation<ByteBuffer?, any Error>?, EventLoopPromise<Void>?)? in
            guard state.end == nil else { return nil }
            let taken = (state.reader, state.demand)
            // A waiting reader is given the end now; one that comes later gets it once.
            state.end = taken.0 == nil ? .failed(CancellationError()) : .delivered
            state.buffers.removeAll()
            state.bufferedBytes = 0
            (state.reader, state.demand) = (nil, nil)
            return taken
        }
        guard let (reader, demand) = stopped else { return }
        reader?.resume(throwing: CancellationError())
        demand?.fail(CancellationError())
        task.cancel()
    }

    // MARK: AsyncHTTPClient's calls, on the connection's event loop

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        state.withLock { $0.headArrived = true }
        self.head.succeed(head)
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let (reader, demand) = state.withLock { state -> (UnsafeContinuation<ByteBuffer?, any Error>?, EventLoopPromise<Void>?) in
            guard state.end == nil else { return (nil, nil) }
            if let reader = state.reader {
                state.reader = nil
                return (reader, nil)
            }
            state.buffers.append(buffer)
            state.bufferedBytes += buffer.readableBytes
            guard state.bufferedBytes >= Self.bound else { return (nil, nil) }
            let demand = state.demand ?? task.eventLoop.makePromise(of: Void.self)
            state.demand = demand
            return (nil, demand)
        }
        reader?.resume(returning: buffer)
        return demand?.futureResult ?? task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) {
        end(.failed(Self.sendable(error)), headError: error)
    }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws {
        end(.finished, headError: HTTPClientError.remoteConnectionClosed)
    }

    /// Ends the body after the buffers already in it (a waiting reader has none left: it gets the end now); fails
    /// the head if it never came.
    func end(_ end: State.End, headError: any Error) {
        let (reader, demand, headArrived) = state.withLock {
            state -> (UnsafeContinuation<ByteBuffer?, any Error>?, EventLoopPromise<Void>?, Bool) in
            guard state.end == nil else { return (nil, nil, state.headArrived) }
            let taken = (state.reader, state.demand, state.headArrived)
            state.end = taken.0 == nil ? end : .delivered
            (state.reader, state.demand) = (nil, nil)
            return taken
        }
        if !headArrived { head.fail(headError) }
        demand?.succeed(())
        guard let reader else { return }
        switch end {
        case .failed(let error): reader.resume(throwing: error)
        case .finished, .delivered: reader.resume(returning: nil)
        }
    }

    /// The error as the reader will classify it (`UpstreamClient.classify` looks at `CancellationError` and
    /// `HTTPClientError` only): those as they are, anything else as an error classified the same way.
    static func sendable(_ error: any Error) -> any Error & Sendable {
        if let error = error as? HTTPClientError { return error }
        if error is CancellationError { return CancellationError() }
        return BrokenConnection()
    }

    /// A body ended by an error other than AsyncHTTPClient's own or a cancellation (an I/O error).
    struct BrokenConnection: Error {}
}

extension UpstreamBody {
    /// Sends `request` on `client` through an ``UpstreamBodyStream`` and waits for the head until `headDeadline`
    /// (then `HTTPClientError.deadlineExceeded`); the body is read by the caller. Cancelling the waiting task
    /// cancels the request. `client` runs on one event loop (see `UpstreamClient.defaults`), so the delegate is
    /// called on its connection's loop and the succeeded future a buffer is answered with asks the connection for
    /// more before it reads again.
    static func send(
        _ request: HTTPClient.Request, on client: HTTPClient, headDeadline: NIODeadline, logger: Logger?
    ) async throws -> (head: HTTPResponseHead, body: UpstreamBody) {
        let eventLoop = client.eventLoopGroup.any()
        let stream = UpstreamBodyStream(eventLoop: eventLoop)
        let task = client.execute(request: request, delegate: stream, eventLoop: .delegate(on: eventLoop), deadline: nil, logger: logger)
        // Dropped before its end, the body cancels the request: so does a failure below.
        let owner = Owner(stream: stream, task: task)
        // A request refused before it started (the client is shut down) fails its task without telling the delegate.
        task.futureResult.whenFailure { stream.didReceiveError(task: task, $0) }
        // The deadline bounds the head only (as AsyncHTTPClient's async API does); the body has its own timeouts.
        let timer = eventLoop.scheduleTask(deadline: headDeadline) {
            if !stream.headArrived { task.fail(reason: HTTPClientError.deadlineExceeded) }
        }
        defer { timer.cancel() }
        let head = try await withTaskCancellationHandler {
            try await stream.head.futureResult.get()
        } onCancel: {
            task.cancel()
        }
        return (head, UpstreamBody(owner: owner))
    }
}
