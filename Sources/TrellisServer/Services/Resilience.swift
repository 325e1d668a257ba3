import Foundation
import Logging
import NIOPosix
import Synchronization
import TrellisCore
import TrellisStore

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

/// The gateway-wide bound on requests in flight. Past it a request is answered 503 with `Retry-After` at
/// once, rather than queued without bound behind the ones already running.
final class InFlightLimit: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes a slot, or returns false (taking nothing) when all are taken.
    func enter() -> Bool {
        let now = count.wrappingAdd(1, ordering: .relaxed).newValue
        if now > limit {
            count.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func leave() {
        count.wrappingSubtract(1, ordering: .relaxed)
    }

    var current: Int { count.load(ordering: .relaxed) }
}

/// One taken slot (the gateway's `InFlightLimit`, a tenant's `TenantInFlightLimit`), given back exactly
/// once: when the response is written, when writing it fails, or when the response (and the body closure
/// holding this) is dropped without being written.
final class InFlightSlot: Sendable {
    private let giveBack: @Sendable () -> Void
    private let released = Atomic<Bool>(false)

    init(_ limit: InFlightLimit) {
        self.giveBack = { limit.leave() }
    }

    init(release: @escaping @Sendable () -> Void) {
        self.giveBack = release
    }

    func release() {
        if !released.exchange(true, ordering: .relaxed) { giveBack() }
    }

    deinit {
        release()
    }
}
