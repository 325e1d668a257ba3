import AsyncAlgorithms
import NIOCore
import TrellisCore
import TrellisUpstream

extension AdmittedCall {
    /// Dispatches a chat stream. The relay task first waits for the upstream's first event, so that a server
    /// failing before its first chunk can be replaced by the next one and a refusal still reaches the client as
    /// an HTTP error; then it relays the rest through a back-pressured channel that the response body drains.
    /// The task is cancelled as soon as the client goes away.
    func stream(_ answer: ChatAnswer) async throws -> InferenceOutcome {
        let relay = StreamRelay()
        let task = Task { [self] in await relay.run(self, answer: answer) }
        let watcher = call.connection.watcher
        if let watcher, !watcher.observe({ task.cancel() }) {
            task.cancel()
        }
        let primed = await withTaskCancellationHandler {
            await relay.waitUntilPrimed()
        } onCancel: {
            task.cancel()
        }
        if case .failure(let error) = primed {
            watcher?.clear()
            throw error
        }
        return .stream(RelayedStream(frames: relay.frames, task: task, watcher: watcher), headers: headers)
    }
}

/// A chat stream being relayed: the frames for the response body, and what to stop when the body ends.
struct RelayedStream: Sendable {
    let frames: AsyncThrowingChannel<ByteBuffer, any Error>
    let task: Task<Void, Never>
    let watcher: ConnectionWatcher?

    /// The response body is done (or gone): stops watching the client, and stops the relay if it still runs.
    func end() {
        watcher?.clear()
        task.cancel()
    }
}

/// The streaming half of a chat request, run in its own task: dispatch, prime, relay into `frames`.
final class StreamRelay: Sendable {
    let frames = AsyncThrowingChannel<ByteBuffer, any Error>()
    private let primedStream: AsyncStream<Result<Void, TrellisError>>
    private let primedContinuation: AsyncStream<Result<Void, TrellisError>>.Continuation

    init() {
        (primedStream, primedContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Whether the stream is ready to answer (its first events read), or the error to answer with instead.
    func waitUntilPrimed() async -> Result<Void, TrellisError> {
        for await result in primedStream { return result }
        return .failure(.clientClosed())
    }

    private func signalPrimed(_ result: Result<Void, TrellisError>) {
        primedContinuation.yield(result)
        primedContinuation.finish()
    }

    func run(_ admitted: AdmittedCall, answer: ChatAnswer) async {
        var accounting = admitted.accounting
        guard let session = await open(admitted, answer: answer, accounting: &accounting) else { return }
        await relay(session, dispatcher: admitted.dispatcher, accounting: &accounting)
    }

    /// Dispatches until a target's stream has its first events; signals the outcome either way.
    private func open(_ admitted: AdmittedCall, answer: ChatAnswer, accounting: inout Accounting) async -> StreamSession? {
        let keepText = accounting.capture != nil
        do {
            let call = admitted.call
            let answered = try await admitted.dispatcher.send(
                targets: admitted.targets, path: answer.path, stream: true, requestID: call.requestID, logger: call.logger,
                body: answer.upstreamBody(for:)
            ) { response, upstream throws(UpstreamFailure) in
                let session = StreamSession(
                    response: response, upstream: upstream, rewriter: answer.rewriter(upstream: upstream.name, keepText: keepText),
                    maxEventBytes: answer.maxEventBytes)
                try await session.prime()
                return session
            }
            accounting.answered(by: answered.upstream.name, model: answered.target.model)
            signalPrimed(.success(()))
            return answered.value
        } catch {
            accounting.fail(error)
            signalPrimed(.failure(error))
            frames.finish()
            return nil
        }
    }

    /// Relays the primed stream into `frames` and records its end; the stream's outcome is its upstream's health.
    private func relay(_ session: StreamSession, dispatcher: Dispatcher, accounting: inout Accounting) async {
        let gateway = dispatcher.gateway
        let window = gateway.drainWindow
        do {
            let failure = try await session.relay(accounting: &accounting, shouldCut: { gateway.drain.shouldCut(window: window) }) { buffer in
                await self.frames.send(buffer)
                try Task.checkCancellation()
            }
            // The stream's outcome is the upstream's: a stream it broke counts like a failed call.
            let changed =
                failure.map { gateway.health.failure(session.upstream, reason: $0.label) } ?? gateway.health.success(session.upstream)
            if changed { dispatcher.publishCircuit(session.upstream) }
            frames.finish()
        } catch {
            gateway.health.release(session.upstream)
            // Ended by the response writer at the close of the shutdown drain window, or by the client leaving.
            let end = gateway.drain.shouldCut(window: window) ? StreamSession.shutdownError : .clientClosed()
            session.recordEnd(&accounting, status: end.status, errorCode: end.code)
            frames.fail(error)
        }
    }
}
