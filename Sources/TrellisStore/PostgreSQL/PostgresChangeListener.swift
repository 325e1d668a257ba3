import Logging
import PostgresNIO
import TrellisCore

/// Hears the changes other replicas commit: every transaction that moves the catalog or the knowledge generation
/// also runs `pg_notify('trellis_changes', 'catalog <generation>' | 'knowledge <generation>')`
/// (`PostgresStore.bumpGeneration`, `bumpKnowledgeGeneration`), which PostgreSQL delivers on commit to every
/// session that ran `LISTEN trellis_changes`.
///
/// One connection of its own, outside the pool (a pooled connection goes back to the pool, and LISTEN belongs
/// to a session), named `trellis-listen` in `pg_stat_activity`. When it drops, it connects again after a
/// doubling, jittered wait capped at `retryCap`; after every connect it signals once, since a notification sent
/// while it was away is lost. A query every `keepalive` finds a connection that died without a word (a
/// vanished server, a cut network), which would otherwise wait for notifications forever. The stored
/// generations stay the truth: a signal only says "compare them now".
struct PostgresChangeListener: Sendable {
    /// The channel every generation bump notifies.
    static let channel = "trellis_changes"
    /// The connection's `application_name`.
    static let applicationName = "trellis-listen"

    let settings: PostgresSettings
    let logger: Logger
    var firstRetry: Duration = .milliseconds(100)
    var retryCap: Duration = .seconds(5)
    var keepalive: Duration = .seconds(30)

    /// Listens until the task is cancelled, calling `changed` once after each (re)connect and once per
    /// notification; returns with its connection closed.
    func run(_ changed: @escaping @Sendable () -> Void) async {
        var failures = 0
        var away = false
        while !Task.isCancelled {
            do {
                let connection = try await connect()
                do {
                    try await listen(on: connection, changed) {
                        // Only a LISTEN in place counts as back: a server that takes the connection and refuses
                        // LISTEN (a standby in recovery) is retried with the growing wait, not in a tight loop.
                        if away {
                            logger.notice("listening for other replicas' changes again", metadata: ["store": "\(settings)"])
                            away = false
                        }
                        failures = 0
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                if Task.isCancelled { break }
                if !away {
                    away = true
                    logger.warning(
                        "not listening for other replicas' changes (no connection); they arrive by the periodic check until it is back",
                        metadata: ["store": "\(settings)", "problem": "\(StoreFailure.describe(error))"])
                }
            }
            failures += 1
            do {
                try await Task.sleep(for: wait(afterFailures: failures))
            } catch {
                break
            }
        }
    }

    /// The wait before the next attempt: `firstRetry` doubled per failure in a row, capped, then jittered down
    /// by up to half so that replicas that lost the database together do not come back in step.
    func wait(afterFailures failures: Int) -> Duration {
        var wait = firstRetry
        for _ in 1..<max(1, min(failures, 20)) where wait < retryCap { wait *= 2 }
        return min(wait, retryCap) * Double.random(in: 0.5...1)
    }

    /// A connection of its own, bounded like the start-up probe's. A connection that arrives after the deadline
    /// is closed, never left open.
    func connect() async throws -> PostgresConnection {
        var configuration = PostgresConnection.Configuration(
            host: settings.host, port: settings.port, username: settings.user, password: settings.password, database: settings.database,
            tls: try PostgresProbe.tls(settings))
        configuration.options.connectTimeout = .seconds(Int64(settings.connectTimeoutSeconds))
        configuration.options.additionalStartupParameters = [("application_name", Self.applicationName)]
        let leased = LeasedConnection()
        // Cancelled (shutdown) or past the deadline, a connection that completes afterwards is closed as it
        // arrives: `close()` leaves the lease timed out, and `hold` then refuses it.
        do {
            return try await connectHeld(configuration, leased)
        } catch {
            leased.close()
            throw error
        }
    }

    /// The connection, held by `leased` from the moment it arrives until it is returned.
    private func connectHeld(_ configuration: PostgresConnection.Configuration, _ leased: LeasedConnection) async throws -> PostgresConnection {
        let connection = try await withDeadline(
            .seconds(settings.connectTimeoutSeconds + 5),
            onTimeout: {
                leased.close()
                return StoreFailure.unavailable("The database did not accept the listening connection in time.")
            },
            operation: { [configuration] in
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: PostgresStore.quiet)
                do {
                    try leased.hold(connection)
                } catch {
                    try? await connection.close()
                    throw error
                }
                return connection
            })
        leased.release()
        return connection
    }

    /// LISTEN on `connection` until it fails (or the task is cancelled), with a keepalive query beside it;
    /// `listening` is called once LISTEN is in place.
    func listen(on connection: PostgresConnection, _ changed: @escaping @Sendable () -> Void, listening: () -> Void) async throws {
        let keepalive = keepalive
        try await connection.listen(on: Self.channel) { notifications in
            listening()
            // LISTEN is in place: whatever was committed before it, while this replica was not listening, is
            // found by comparing the generations once.
            changed()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await _ in notifications { changed() }
                }
                group.addTask {
                    while true {
                        try await Task.sleep(for: keepalive)
                        try await withDeadline(
                            .seconds(10), onTimeout: { StoreFailure.unavailable("The listening connection did not answer its keepalive.") },
                            operation: { _ = try await connection.query("SELECT 1", logger: PostgresStore.quiet).collect() })
                    }
                }
                // Either task ending means the connection is gone (or this task was cancelled).
                _ = try await group.next()
                group.cancelAll()
            }
        }
    }
}

extension PostgresStore {
    /// See `CatalogStore.watchChanges`: LISTEN on a connection of its own (`PostgresChangeListener`).
    public func watchChanges(_ changed: @escaping @Sendable () -> Void) async {
        await PostgresChangeListener(settings: settings, logger: logger).run(changed)
    }
}
