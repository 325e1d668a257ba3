import Foundation
import Logging
import TrellisStore

/// Periodic housekeeping: deletes captured interactions and stored responses past their retention.
struct MaintenanceService: PeriodicService {
    let gateway: Gateway
    let interval: Duration
    let logger: Logger

    var waitsBeforeFirstRound: Bool { false }

    func round() async {
        await purge(now: Date())
    }

    /// Deletes what expired before `now` (a test passes a later time than the wall clock's).
    func purge(now: Date) async {
        // Nothing to purge before the store is up; an outage is the refresher's to report.
        guard gateway.readiness.isReady else { return }
        do {
            let purged = try await gateway.store.purgeInteractions(now: now)
            if purged > 0 { logger.info("expired interactions purged", metadata: ["count": "\(purged)"]) }
        } catch {
            logger.error("interaction purge failed", metadata: ["error_type": "\(type(of: error))"])
        }
        do {
            let purged = try await gateway.store.purgeResponses(now: now)
            if purged > 0 { logger.info("expired responses purged", metadata: ["count": "\(purged)"]) }
        } catch {
            logger.error("response purge failed", metadata: ["error_type": "\(type(of: error))"])
        }
    }
}
