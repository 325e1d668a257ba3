import Logging
import TrellisCore
import TrellisStore

/// Picks up catalog changes made by another process sharing the database (another replica, or the CLI):
/// compares the stored generation with the snapshot's every interval and reloads when it moved.
struct CatalogRefresher: PeriodicService {
    let gateway: Gateway
    let interval: Duration
    let logger: Logger

    var waitsBeforeFirstRound: Bool { true }

    func round() async {
        do {
            let stored = try await gateway.store.catalogGeneration()
            if stored != gateway.snapshot.generation {
                try await gateway.reloadCatalog()
                logger.info("catalog reloaded", metadata: ["generation": "\(stored)"])
            }
            try await gateway.knowledge.refreshIfChanged(gateway.snapshot.allKnowledgeBases)
        } catch {
            logger.error("catalog refresh failed", metadata: ["error_type": "\(type(of: error))"])
        }
    }
}
