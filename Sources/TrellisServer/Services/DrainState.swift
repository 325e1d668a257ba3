import Synchronization

/// Where a graceful shutdown is. It goes in two phases (see ``DrainPhase``):
/// 1. *draining* (`beginDraining`): `/readyz` answers 503 and every response carries `Connection: close`, while
///    the listener stays open and requests are served as usual for `server.drain_delay_ms`, so that load
///    balancers take this replica out of rotation before it refuses anything;
/// 2. *closing* (`begin`): the listener closes and in-flight requests finish; streams still running when the
///    drain window (`Gateway.drainWindow`, counted from here) closes are ended by the gateway with an error
///    event and `[DONE]` (and recorded), instead of being cut off mid-frame.
final class DrainState: Sendable {
    private struct Phases {
        var draining: ContinuousClock.Instant?
        var closing: ContinuousClock.Instant?
    }

    private let phases = Mutex(Phases())
    /// Ends the drain phase's wait early (`endDrainPhase`).
    private let ended: AsyncStream<Void>
    private let end: AsyncStream<Void>.Continuation

    init() {
        (ended, end) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Marks the start of the drain phase (the first call wins).
    func beginDraining() {
        phases.withLock { if $0.draining == nil { $0.draining = .now } }
    }

    /// Marks the start of the closing phase, and of the drain phase when it was skipped (the first call wins).
    func begin() {
        phases.withLock {
            let now = ContinuousClock.now
            if $0.draining == nil { $0.draining = now }
            if $0.closing == nil { $0.closing = now }
        }
    }

    /// Shutdown has begun (either phase): not ready, and connections are not kept alive.
    var isDraining: Bool { phases.withLock { $0.draining != nil } }

    /// The listener is closing (the second phase).
    var isClosing: Bool { phases.withLock { $0.closing != nil } }

    /// Ends the drain phase now rather than after `server.drain_delay_ms` (for tests, which hold a drain phase
    /// open with a long delay and end it when they have looked at it).
    func endDrainPhase() {
        end.yield()
    }

    /// Returns when `endDrainPhase` is called (at once when it was called before), or when cancelled.
    func drainPhaseEnded() async {
        for await _ in ended { return }
    }

    /// Whether a stream should be ended now: the listener began closing at least `window` ago.
    func shouldCut(window: Duration) -> Bool {
        guard let started = phases.withLock({ $0.closing }) else { return false }
        return ContinuousClock.now - started >= window
    }
}
