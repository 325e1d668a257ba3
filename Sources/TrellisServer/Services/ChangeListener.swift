import Logging
import ServiceLifecycle
import TrellisStore

/// Picks up another replica's changes as soon as they commit: the store signals (`CatalogStore.watchChanges`:
/// PostgreSQL's LISTEN/NOTIFY), and each signal runs the `CatalogRefresher`'s check at once (compare the catalog
/// generation and reload, then the knowledge indexes). A burst of signals while a check runs is one more check
/// after it. The refresher's periodic round stays as the fallback for a notification missed, and is still the
/// only check on SQLite or with `catalog.listen` off. Its connection is closed before the service returns.
struct ChangeListener: Service {
    let refresher: CatalogRefresher
    let enabled: Bool

    /// Checks run on a signal (one after each connect, then one per notification or burst of them), in `/metrics`.
    static let checksMetric = "trellis_catalog_change_checks_total"

    func run() async throws {
        let store = refresher.gateway.store
        let enabled = enabled
        // Newest only: signals arriving while a check runs collapse into the one buffered signal.
        let (signals, pending) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await cancelWhenGracefulShutdown {
                    if enabled { await store.watchChanges { pending.yield() } }
                }
                // Nothing to hear (SQLite, or listening off): stay until shutdown, since a service that returns
                // ends the whole service group.
                try? await gracefulShutdown()
                pending.finish()
            }
            for await _ in signals {
                await refresher.round()
                refresher.gateway.metrics.increment(Self.checksMetric, [])
            }
        }
    }
}
