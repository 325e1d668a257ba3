import Synchronization

/// Graceful shutdown for streams: once shutdown begins, streams still running when the drain window closes are
/// ended by the gateway with an error event and `[DONE]` (and recorded), instead of being cut off mid-frame.
final class DrainState: Sendable {
    private let startedAt = Mutex<ContinuousClock.Instant?>(nil)

    /// Marks the start of shutdown (the first call wins).
    func begin() {
        startedAt.withLock { if $0 == nil { $0 = .now } }
    }

    var isDraining: Bool { startedAt.withLock { $0 != nil } }

    /// Whether a stream should be ended now: shutdown began at least `window` ago.
    func shouldCut(window: Duration) -> Bool {
        guard let started = startedAt.withLock({ $0 }) else { return false }
        return ContinuousClock.now - started >= window
    }
}
