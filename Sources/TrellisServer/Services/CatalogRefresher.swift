import Logging
import Synchronization
import TrellisCore
import TrellisStore

/// Picks up catalog changes made by another process sharing the database (another replica, or the CLI):
/// compares the stored generation with the snapshot's every interval and reloads when it moved, then the
/// knowledge indexes likewise. On PostgreSQL `ChangeListener` runs the same round as soon as a change commits;
/// the interval is then the fallback for a notification missed.
///
/// The same read is the store's health check: failing with the store unreachable makes the gateway unready
/// (`/readyz` 503; inference goes on from the loaded catalog), answering makes it ready again. One log line
/// when an outage begins and one when it ends.
struct CatalogRefresher: PeriodicService {
    let gateway: Gateway
    let interval: Duration
    let logger: Logger

    /// One check at a time, shared by the periodic round and `ChangeListener` (which holds a copy of this value):
    /// a check asked for while one runs is run once more after it, so two never load the catalog and the
    /// knowledge indexes side by side, and every request for a check is followed by one that starts after it.
    let gate = CheckGate()

    var waitsBeforeFirstRound: Bool { true }

    func round() async {
        guard gate.enter() else { return }
        repeat { await check() } while gate.again()
    }

    private func check() async {
        // Until the start is done, `StoreStartup` is the one trying the store.
        guard gateway.readiness.isStarted else { return }
        do {
            // Bounded here too: a store call that never returns must not stop the checks (nor keep readiness).
            let store = gateway.store
            let stored = try await withDeadline(.milliseconds(gateway.config.storeOperationTimeoutMs + 1_000)) {
                StoreFailure.unavailable("The store did not answer the health check in time.")
            } operation: {
                try await store.catalogGeneration()
            }
            if gateway.readiness.storeAnswered() {
                logger.notice("store reachable again; the gateway is ready", metadata: ["store": "\(StoreStartup.describe(gateway.config.store))"])
            }
            if stored != gateway.snapshot.generation {
                try await gateway.reloadCatalog()
                logger.info("catalog reloaded", metadata: ["generation": "\(stored)"])
            }
            try await gateway.knowledge.refreshIfChanged(gateway.snapshot.allKnowledgeBases)
        } catch {
            if StoreFailure.isUnavailable(error) {
                if gateway.readiness.storeFailed(StoreFailure.describe(error)) {
                    logger.warning(
                        "store unreachable; the gateway is unready, inference continues from the loaded catalog and usage rows wait in memory",
                        metadata: ["store": "\(StoreStartup.describe(gateway.config.store))", "problem": "\(StoreFailure.describe(error))"])
                }
                return
            }
            logger.error("catalog refresh failed", metadata: ["error_type": "\(type(of: error))"])
        }
    }
}

/// Single flight with one rerun: `enter` is false while a check runs (and asks it to run once more); the runner
/// asks `again` after each check and stops when nobody asked meanwhile.
final class CheckGate: Sendable {
    private let state = Mutex((running: false, rerun: false))

    func enter() -> Bool {
        state.withLock { s in
            if s.running {
                s.rerun = true
                return false
            }
            s.running = true
            return true
        }
    }

    func again() -> Bool {
        state.withLock { s in
            if s.rerun {
                s.rerun = false
                return true
            }
            s.running = false
            return false
        }
    }
}
