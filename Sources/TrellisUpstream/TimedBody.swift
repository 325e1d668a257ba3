import AsyncAlgorithms
import AsyncHTTPClient
import NIOCore
import Synchronization

/// An upstream answer's body read under the upstream's own timeouts: at most `idle` of silence while the
/// gateway waits for the next bytes, and nothing after `deadline` (the call's total budget). AsyncHTTPClient
/// bounds only the wait for the response head per request; this bounds the rest.
///
/// A task reads the body and hands each buffer over through a back-pressured channel; a watchdog beside it ends
/// the read with a `.timeout` failure when either limit passes. Time spent waiting for the client to take a
/// buffer is not silence: only waits on the upstream count. The reading task is cancelled when the consumer
/// stops (`cancel()`, or when this object is released).
public final class TimedBody: Sendable {
    private let channel = AsyncThrowingChannel<ByteBuffer, any Error>()
    private let task: Task<Void, Never>

    public init(body: HTTPClientResponse.Body, upstream: String, idle: Duration, deadline: ContinuousClock.Instant) {
        let channel = self.channel
        task = Task {
            /// When the reader started waiting on the upstream, nil while it is handing a buffer over.
            let waitingSince = WaitMark()
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        var iterator = body.makeAsyncIterator()
                        while true {
                            waitingSince.value.withLock { $0 = .now }
                            let next: ByteBuffer?
                            do {
                                next = try await iterator.next()
                            } catch {
                                throw UpstreamClient.classify(error, upstream: upstream, phase: "idle")
                            }
                            waitingSince.value.withLock { $0 = nil }
                            guard let buffer = next else { break }
                            await channel.send(buffer)
                            try Task.checkCancellation()
                        }
                    }
                    group.addTask {
                        while true {
                            let now = ContinuousClock.now
                            if now >= deadline { throw UpstreamFailure(kind: .timeout, upstream: upstream, phase: "total") }
                            var wake = deadline
                            if let since = waitingSince.value.withLock({ $0 }) {
                                if now - since >= idle { throw UpstreamFailure(kind: .timeout, upstream: upstream, phase: "idle") }
                                wake = min(wake, since + idle)
                            } else {
                                wake = min(wake, now + idle)
                            }
                            try await Task.sleep(until: wake, clock: .continuous)
                        }
                    }
                    // The reader finishing (the body ended) or either side failing ends both.
                    try await group.next()
                    group.cancelAll()
                }
                channel.finish()
            } catch let failure as UpstreamFailure {
                channel.fail(failure)
            } catch {
                channel.fail(UpstreamFailure(kind: .cancelled, upstream: upstream))
            }
        }
    }

    public func cancel() {
        task.cancel()
    }

    deinit {
        task.cancel()
    }

    /// The next buffer, nil at the end; throws the `UpstreamFailure` that ended the read.
    public func next() async throws(UpstreamFailure) -> ByteBuffer? {
        var iterator = channel.makeAsyncIterator()
        do {
            let buffer = try await iterator.next()
            // A cancelled wait ends the channel's sequence: that is the caller going away, not the body ending.
            if buffer == nil && Task.isCancelled { throw UpstreamFailure(kind: .cancelled, upstream: "") }
            return buffer
        } catch let failure as UpstreamFailure {
            throw failure
        } catch {
            throw UpstreamFailure(kind: .cancelled, upstream: "")
        }
    }
}

/// When a body reader started waiting on its upstream; nil while it hands a buffer over.
private final class WaitMark: Sendable {
    let value = Mutex<ContinuousClock.Instant?>(nil)
}
