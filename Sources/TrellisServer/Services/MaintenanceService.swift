import Logging
import TrellisStore

/// Periodic housekeeping: deletes captured interactions and stored responses past their retention.
struct MaintenanceService: PeriodicService {
    let gateway: Gateway
    let interval: Duration
    let logger: Logger

    var waitsBeforeFirstRound: Bool { false }

    func round() async {
        // Nothing to purge before the store is up; an outage is the refresher's to report.
        guard gateway.readiness.isReady else { return }
        do {
            let purged = try await gateway.store.purgeInteractions()
            if purged > 0 { logger.info("expired interactions purged", metadata: ["count": "\(purged)"]) }
        } catch {
            logger.error("interaction purge failed", metadata: ["error_type": "\(type(of: error))"])
        }
        do {
            let purged = try await gateway.store.purgeResponses()
            if purged > 0 { logger.info("expired responses purged", metadata: ["count": "\(purged)"]) }
        } catch {
            logger.error("response purge failed", metadata: ["error_type": "\(type(of: error))"])
        }
    }
}
