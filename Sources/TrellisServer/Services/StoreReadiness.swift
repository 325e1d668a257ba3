import OpenAIWire
import Synchronization
import TrellisCore
import TrellisStore

/// Whether the gateway can serve: its store prepared and its catalog loaded (once, by `StoreStartup`), and the
/// store reachable now (the catalog refresher's read, every `catalog.refresh_interval_ms`). `/readyz` answers
/// from here without touching the store; the API routes refuse with 503 `store_unavailable` until the start
/// is done, so that nothing acts on an empty catalog.
final class StoreReadiness: Sendable {
    private struct State {
        var started = false
        var reachable = true
        /// Why the store cannot be used, one line without credentials (nil when it can).
        var problem: String?
        var failedStarts = 0
    }

    private let state = Mutex(State())

    /// The catalog and everything else the gateway serves from is loaded.
    var isStarted: Bool { state.withLock { $0.started } }

    /// Started, and the store answered its last check.
    var isReady: Bool { state.withLock { $0.started && $0.reachable } }

    /// Why the gateway is not ready, for `/readyz` (nil when it is).
    var problem: String? { state.withLock { $0.started && $0.reachable ? nil : $0.problem } }

    func markStarted() {
        state.withLock {
            $0.started = true
            $0.reachable = true
            $0.problem = nil
        }
    }

    /// Attempts at the start that failed so far.
    var failedStarts: Int { state.withLock { $0.failedStarts } }

    /// The start could not finish: `problem` says why.
    func startFailed(_ problem: String) {
        state.withLock {
            $0.problem = problem
            $0.failedStarts += 1
        }
    }

    /// The store answered; true when it had been unreachable (the outage is over).
    @discardableResult
    func storeAnswered() -> Bool {
        state.withLock { s in
            defer {
                s.reachable = true
                if s.started { s.problem = nil }
            }
            return !s.reachable
        }
    }

    /// The store could not be reached; true when it had been reachable (an outage begins).
    @discardableResult
    func storeFailed(_ problem: String) -> Bool {
        state.withLock { s in
            defer {
                s.reachable = false
                s.problem = problem
            }
            return s.reachable
        }
    }

    /// The 503 an API route answers while the gateway has not loaded its catalog.
    static let notStarted = StoreFailure.unavailable(
        "The gateway is starting and cannot reach its store yet; nothing was done. Try again shortly.")
}
