import HTTPTypes
import Logging
import OpenAIWire
import ServiceLifecycle
import TrellisCore
import TrellisStore
import TrellisUpstream

/// Picks up catalog changes made by another process sharing the database (another replica, or the CLI):
/// compares the stored generation with the snapshot's every interval and reloads when it moved.
struct CatalogRefresher: Service {
    let gateway: Gateway
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
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
    }
}

/// Shuts the upstream HTTP client down after the server has stopped.
struct UpstreamClientService: Service {
    let gateway: Gateway

    func run() async throws {
        try? await gracefulShutdown()
        try await gateway.upstreams.shutdown()
    }
}

/// Periodic housekeeping: deletes captured interactions past their retention.
struct MaintenanceService: Service {
    let gateway: Gateway
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let purged = try await gateway.store.purgeInteractions()
                    if purged > 0 { logger.info("expired interactions purged", metadata: ["count": "\(purged)"]) }
                } catch {
                    logger.error("interaction purge failed", metadata: ["error_type": "\(type(of: error))"])
                }
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
            }
        }
    }
}
