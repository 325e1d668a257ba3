import Foundation
import Logging
import ServiceLifecycle
import TrellisCore
import TrellisStore

/// Brings the store up and loads what the gateway serves from: prepare (migrations) → the catalog directory →
/// the catalog → the knowledge indexes → the usage roll-ups → the month's quotas. `buildApplication` makes the
/// first attempt; on PostgreSQL a database that cannot be reached (or refuses the gateway's credentials) does
/// not stop the start: this service tries again with a doubling, jittered backoff capped at
/// `store.retry_max_ms`, one log line per failed attempt, and the gateway becomes ready when an attempt
/// succeeds. Anything else (a bad catalog file, a bug) ends the start as it does on SQLite.
struct StoreStartup: Service {
    /// Why an attempt failed, and what to do about it.
    enum Failure: Error {
        /// The database cannot be reached now: try again, logging each attempt.
        case unreachable(String)
        /// The database answered and refused (wrong password, unknown user or database): a setting to fix. Logged
        /// once; tried again at the backoff's cap, in case the database's side is what gets fixed.
        case refused(String)
        /// Not the database's availability: the start fails.
        case fatal(any Error)

        var line: String? {
            switch self {
            case .unreachable(let line), .refused(let line): return line
            case .fatal: return nil
            }
        }
    }

    /// A failure of the probe connection, kept raw so that it can say why (`StoreFailure.describe`).
    struct ProbeFailure: Error {
        var underlying: any Error
    }

    /// A failed attempt and the wait before the next one.
    struct Pending {
        var failure: Failure
        var wait: Duration
    }

    let gateway: Gateway
    let environment: [String: String]
    let logger: Logger
    /// The longest wait between attempts.
    let retryCap: Duration
    /// The first attempt's failure (made by `buildApplication` through `firstAttempt`), nil when it succeeded.
    var pending: Pending?

    var store: any TrellisStoreEngine { gateway.store }

    /// Where the store is, never the password (see `describeStore`).
    static func describe(_ location: StoreLocation) -> String { describeStore(location) }

    /// One attempt at the whole start; on success the gateway is marked started.
    func attempt() async throws {
        if let postgres = store as? PostgresStore {
            do {
                try await PostgresProbe.check(postgres.settings)
            } catch let error as StoreURLError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw ProbeFailure(underlying: error)
            }
        }
        try await store.prepare()
        // The declarative catalog first: a bad file stops the start before anything is served.
        if let directory = gateway.config.catalogDir {
            let report = try await CatalogApplier(store: store, environment: environment, egress: gateway.config.egress).apply(directory: directory)
            logger.notice("catalog applied", metadata: ["directory": "\(directory)", "changes": "\(report.changes.count)", "unchanged": "\(report.unchanged)"])
            for change in report.changes { logger.info("catalog change", metadata: ["change": "\(change)"]) }
        }
        try await gateway.reloadCatalog()
        try await gateway.knowledge.loadIndexes(gateway.snapshot.allKnowledgeBases)
        try await store.rebuildRollupsIfNeeded()
        // Monthly quotas continue from stored usage, so a restart does not reset them.
        let month = RateLimiter.month(of: Date())
        gateway.limiter.seedMonth(month, used: try await store.tokensThisMonth(month))
        gateway.readiness.markStarted()
    }

    /// What a failed attempt means; only PostgreSQL's unavailability is waited out.
    func classify(_ error: any Error) -> Failure {
        guard store is PostgresStore else { return .fatal(error) }
        if let probe = error as? ProbeFailure {
            let cause = StoreFailure.describe(probe.underlying)
            if StoreFailure.isCredentials(probe.underlying) {
                return .refused(
                    "\(cause); fix the user in store.url or the password (store.password_env, or the URL); the gateway stays unready until it can log in")
            }
            if PostgresProbe.answeredByServer(probe.underlying) {
                return .refused("\(cause); check store.url; the gateway stays unready until the database accepts it")
            }
            return .unreachable(cause)
        }
        if StoreFailure.isUnavailable(error) { return .unreachable(StoreFailure.describe(error)) }
        return .fatal(error)
    }

    /// The first attempt, made before the server listens: nil when it succeeded; the failure to wait out when
    /// the database is unavailable (logged); throws when the start must fail.
    func firstAttempt() async throws -> Pending? {
        do {
            try await attempt()
            return nil
        } catch {
            let failure = classify(error)
            if case .fatal(let error) = failure { throw error }
            let wait = delay(after: 1, failure)
            report(failure, attempt: 1, retryIn: wait, previous: nil)
            return Pending(failure: failure, wait: wait)
        }
    }

    /// Logs a failed attempt: every one while the database is unreachable, a refusal only when it is new.
    func report(_ failure: Failure, attempt: Int, retryIn: Duration, previous: Failure?) {
        guard let line = failure.line else { return }
        gateway.readiness.startFailed(line)
        let store = Self.describe(gateway.config.store)
        switch failure {
        case .unreachable:
            logger.warning(
                "store unreachable; the gateway stays unready and tries again",
                metadata: ["store": "\(store)", "problem": "\(line)", "attempt": "\(attempt)", "retry_in_ms": "\(Int(retryIn.milliseconds))"])
        case .refused:
            if previous?.line != line {
                logger.error("store refused the gateway", metadata: ["store": "\(store)", "problem": "\(line)"])
            }
        case .fatal:
            break
        }
    }

    /// The wait after `failures` failed attempts: 500 ms doubling per failure up to the cap, drawn from its
    /// upper half so that replicas do not retry in step; a refusal waits the cap.
    func delay(after failures: Int, _ failure: Failure) -> Duration {
        let capMs = retryCap.milliseconds
        if case .refused = failure { return retryCap }
        let base = min(capMs, 500 * pow(2, Double(min(failures, 20) - 1)))
        return .milliseconds(Int64(Double.random(in: (base / 2)...base)))
    }

    func run() async throws {
        if let first = pending {
            let attempts: Int? = try await cancelWhenGracefulShutdown { try await retry(from: first) }
            guard let attempts else { return }
            logger.notice("store ready", metadata: ["store": "\(Self.describe(gateway.config.store))", "attempts": "\(attempts)"])
        }
        // Returning would end the whole service group: stay until shutdown.
        try? await gracefulShutdown()
    }

    /// Attempts until one succeeds (answering how many it took), the task is cancelled (nil) or the start
    /// must fail (throws).
    private func retry(from first: Pending) async throws -> Int? {
        var pending = first
        var failures = 1
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: pending.wait)
            } catch {
                return nil
            }
            do {
                try await attempt()
                return failures + 1
            } catch {
                if Task.isCancelled { return nil }
                let next = classify(error)
                if case .fatal(let error) = next {
                    logger.error("store start failed", metadata: ["error": "\(StoreFailure.describe(error))"])
                    throw error
                }
                failures += 1
                let wait = delay(after: failures, next)
                report(next, attempt: failures, retryIn: wait, previous: pending.failure)
                pending = Pending(failure: next, wait: wait)
            }
        }
        return nil
    }
}
