import Logging
import ServiceLifecycle
import TrellisStore

/// Periodic housekeeping: deletes captured interactions past their retention.
struct MaintenanceService: Service {
    let gateway: Gateway
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await PeriodicLoop.run(every: interval, start: .now) {
            do {
                let purged = try await gateway.store.purgeInteractions()
                if purged > 0 { logger.info("expired interactions purged", metadata: ["count": "\(purged)"]) }
            } catch {
                logger.error("interaction purge failed", metadata: ["error_type": "\(type(of: error))"])
            }
        }
    }
}
