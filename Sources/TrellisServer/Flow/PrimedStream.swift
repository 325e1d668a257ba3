import NIOCore
import Synchronization
import TrellisCore
import TrellisUpstream

extension AdmittedCall {
    /// Dispatches a chat stream and reads its first events, in the request's own task, so that a server failing
    /// before its first chunk can be replaced by the next one and a refusal still reaches the client as an HTTP
    /// error. The client going away meanwhile cancels this task (``CancelScope``), and the upstream call with it.
    /// The stream is then relayed by the response body itself (``PrimedStream/relay(send:)``): no task and no
    /// channel between the upstream reader and the response writer.
    ///
    /// `encoder` frames the events for the client's API (chat chunks by default); `beforeTail` runs once the stream
    /// has ended, before its last frames go out (``StreamSession/beforeTail``).
    func stream(
        _ answer: ChatAnswer, encoder: any StreamEncoder = ChatStreamEncoder(), beforeTail: (@Sendable (any StreamEncoder) async -> Void)? = nil
    ) async throws -> InferenceOutcome {
        var accounting = self.accounting
        let keepText = accounting.capture != nil
        let watcher = call.connection.watcher
        let session: StreamSession
        do {
            let answered = try await CancelScope.run(watching: watcher) { try await open(answer, keepText: keepText, encoder: encoder) }
            accounting.answered(by: answered.upstream.name, model: answered.target.model)
            session = answered.value
            session.beforeTail = beforeTail
        } catch {
            accounting.fail(error)
            throw error
        }
        let stream = PrimedStream(session: session, accounting: accounting, dispatcher: dispatcher, watcher: watcher)
        // From here on the client going away stops the upstream read: the relay ends at once, even while the
        // upstream is silent, and the upstream call is cancelled, which releases its connection.
        if let watcher, !watcher.observe({ [weak stream] in stream?.stop(.clientLeft) }) {
            stream.stop(.clientLeft)
        }
        return .stream(stream, headers: headers)
    }

    /// Sends to the first target whose stream has its first events.
    private func open(_ answer: ChatAnswer, keepText: Bool, encoder: any StreamEncoder) async throws(TrellisError) -> Dispatcher.Answered<StreamSession> {
        try await dispatcher.send(
            targets: targets, path: answer.path, stream: true, requestID: call.requestID, logger: call.logger,
            body: answer.upstreamBody(for:)
        ) { response, upstream throws(UpstreamFailure) in
            let session = StreamSession(
                response: response, upstream: upstream, rewriter: answer.rewriter(upstream: upstream.name, keepText: keepText), encoder: encoder,
                maxEventBytes: answer.maxEventBytes)
            try await session.prime()
            return session
        }
    }
}

/// A chat stream whose first events are read and whose response head is not sent yet, to be relayed by the task
/// that writes the response body: each rewritten frame is written as it is read, and the next upstream read waits
/// for that write, so the client's socket paces the upstream. Its usage row and its upstream's health outcome are
/// recorded once, however it ends: relayed to the end, broken by the upstream, cut at shutdown, left by the client,
/// or never relayed (the response's head could not be written).
final class PrimedStream: Sendable {
    /// Why the upstream read was stopped from outside the relay.
    enum Stop: Sendable {
        /// The client's connection closed.
        case clientLeft
        /// The shutdown drain window closed.
        case shutdown
    }

    private enum Phase {
        case running
        case stopped(Stop)
        case ended
    }

    private let session: StreamSession
    private let dispatcher: Dispatcher
    private let watcher: ConnectionWatcher?
    /// Taken by the one relay, or by `deinit` when none ran.
    private let account: Mutex<Accounting?>
    private let phase = Mutex(Phase.running)

    init(session: StreamSession, accounting: Accounting, dispatcher: Dispatcher, watcher: ConnectionWatcher?) {
        self.session = session
        self.account = Mutex(accounting)
        self.dispatcher = dispatcher
        self.watcher = watcher
    }

    /// Relays the stream through `send` (the response body's write) and records how it ended; a second call does
    /// nothing. The stream's outcome is its upstream's health. A stream cut at shutdown, between frames or while
    /// its upstream was silent, ends with the `server_shutting_down` event and `[DONE]` and returns; a client that
    /// went away (its connection closed, or a write to it failed) is recorded as 499 and the error thrown.
    func relay(send: (ByteBuffer) async throws -> Void) async throws {
        guard var accounting = account.withLock({ $0.take() }) else { return }
        defer {
            phase.withLock { $0 = .ended }
            watcher?.clear()
        }
        let gateway = dispatcher.gateway
        let upstream = session.upstream
        let window = gateway.drainWindow
        do {
            let failure = try await session.relay(accounting: &accounting, shouldCut: { gateway.drain.shouldCut(window: window) }, send: send)
            // A stream the upstream broke counts like a failed call.
            let changed = failure.map { gateway.health.failure(upstream, reason: $0.label) } ?? gateway.health.success(upstream)
            if changed { dispatcher.publishCircuit(upstream) }
        } catch {
            gateway.health.release(upstream)
            let cut: Bool
            switch phase.withLock({ $0 }) {
            case .stopped(.shutdown): cut = true
            case .stopped(.clientLeft): cut = false
            case .running, .ended: cut = gateway.drain.shouldCut(window: window)
            }
            let end = cut ? StreamSession.shutdownError : TrellisError.clientClosed()
            session.recordEnd(&accounting, status: end.status, errorCode: end.code)
            guard cut else { throw error }
            try await send(ByteBuffer(bytes: session.shutdownTail(accounting)))
        }
    }

    /// Stops the upstream read from any thread: a relay waiting on a silent upstream ends at once, and the
    /// upstream call is cancelled, releasing its connection. The first reason is the one recorded; nothing
    /// happens once the relay has ended.
    func stop(_ reason: Stop) {
        let first = phase.withLock { phase -> Bool in
            guard case .running = phase else { return false }
            phase = .stopped(reason)
            return true
        }
        if first { session.stopReading() }
    }

    deinit {
        // Never relayed: the response's head could not be written, the client having gone. The upstream call is
        // cancelled as the session goes.
        guard var accounting = account.withLock({ $0.take() }) else { return }
        dispatcher.gateway.health.release(session.upstream)
        let end = TrellisError.clientClosed()
        session.recordEnd(&accounting, status: end.status, errorCode: end.code)
    }
}
