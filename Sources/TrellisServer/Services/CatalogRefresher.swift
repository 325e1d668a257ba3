import Logging
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

    var waitsBeforeFirstRound: Bool { true }

    func round() async {
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
