import NIOCore

/// An upstream answer's body read under the upstream's own timeouts, in the reading task itself (no extra task
/// or hand-over per buffer: the hot path stays one hop). Silence is bounded by the HTTP client's read timeout,
/// which `UpstreamClient` sets per upstream from its `idle_ms`; the total budget (`total_ms`, counted from when
/// the call was sent) is checked as each buffer arrives, so a server that keeps sending past it is stopped at
/// its next buffer, and a silent one by the idle timeout.
public struct TimedBody {
    private var iterator: UpstreamBody.AsyncIterator
    private let upstream: String
    private let deadline: ContinuousClock.Instant

    public init(body: UpstreamBody, upstream: String, deadline: ContinuousClock.Instant) {
        self.iterator = body.makeAsyncIterator()
        self.upstream = upstream
        self.deadline = deadline
    }

    /// The next buffer, nil at the end; throws the `UpstreamFailure` that ended the read.
    public mutating func next() async throws(UpstreamFailure) -> ByteBuffer? {
        let buffer: ByteBuffer?
        do {
            buffer = try await iterator.next()
        } catch {
            throw UpstreamClient.classify(error, upstream: upstream, phase: .idle)
        }
        if buffer != nil, ContinuousClock.now > deadline {
            throw UpstreamFailure(kind: .timeout, upstream: upstream, phase: .total)
        }
        return buffer
    }
}
