import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import TrellisServer
import TrellisStore
import UnixSignals

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway.",
        discussion: """
            Settings come from flags, then TRELLIS_* environment variables, then the YAML file, then defaults.
            The operator key is read from TRELLIS_ADMIN_KEY (or admin.key / admin.key_file in the file).

            Settings and their environment variables:
            \(TrellisConfig.settingsHelp)
            """)

    @OptionGroup var options: ConfigOptions

    @Option(name: .long, help: "Address to listen on (server.host, default 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "Port to listen on (server.port, default 8080; 0 picks a free port).")
    var port: Int?

    func run() async throws {
        var overrides: [String: String] = [:]
        if let host { overrides["server.host"] = host }
        if let port { overrides["server.port"] = String(port) }
        let config = try options.loadOrExit(extra: overrides)
        bootstrapLogging(level: config.logLevel)
        let logger = {
            var logger = Logger(label: "trellis")
            logger.logLevel = config.logLevel
            return logger
        }()

        do {
            try await serve(config: config, logger: logger)
        } catch let error as CatalogError {
            throw refused(error)
        }
    }

    func serve(config: TrellisConfig, logger: Logger) async throws {
        logger.notice("store", metadata: ["store": "\(describeStore(config.store))"])
        let (app, _) = try await buildApplication(config: config, logger: logger) { channel in
            let address = channel.localAddress
            let host = address?.ipAddress ?? config.host
            let port = address?.port ?? config.port
            let shown = host.contains(":") ? "[\(host)]" : host
            let scheme = config.tlsCertificateFile == nil ? "http" : "https"
            logger.notice("listening", metadata: ["address": "\(scheme)://\(shown):\(port)", "version": "\(TrellisVersion.string)"])
        }
        // Signals are handled here rather than by the group, so that a second one can end a shutdown that takes
        // too long: the first SIGTERM or SIGINT starts the graceful shutdown (draining for server.drain_delay_ms,
        // then closing the listener while requests finish within server.shutdown_grace_seconds, then the final
        // usage flush); a second one cancels what is still running (the final flush still happens, waiting a
        // bounded time for the rows of requests being cut); a third one exits at once with status 1, for a
        // cancelled shutdown that hangs (a final flush waiting on an unreachable database).
        var groupConfig = ServiceGroupConfiguration(services: [.init(service: app)], logger: logger)
        groupConfig.maximumGracefulShutdownDuration = .milliseconds(config.drainDelayMs) + .seconds(config.shutdownGraceSeconds)
        let group = ServiceGroup(configuration: groupConfig)
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let caught = SignalCount()
        let running = Task { try await group.run() }
        let watcher = Task {
            for await signal in signals {
                switch caught.increment() {
                case 1:
                    logger.notice("shutting down", metadata: ["signal": "\(signal)"])
                    await group.triggerGracefulShutdown()
                case 2:
                    logger.warning("second signal: stopping now; requests still in flight are cut", metadata: ["signal": "\(signal)"])
                    running.cancel()
                default:
                    // Still watching after the second, so that the signal is never left ignored.
                    logger.error("third signal: exiting at once; usage rows not yet written are lost", metadata: ["signal": "\(signal)"])
                    Foundation.exit(1)
                }
            }
        }
        defer { watcher.cancel() }
        do {
            try await running.value
        } catch  where caught.value > 0 {
            // A shutdown that ran past its time limit, or was cut short by a second signal, still ends here after
            // the final usage flush.
            logger.warning("shutdown ended early", metadata: ["error_type": "\(type(of: error))"])
        } catch {
            // No shutdown was asked for: the server could not start (the port in use) or stopped on its own.
            logger.critical("the gateway stopped on an error", metadata: ["error": "\(DatabaseMaintenance.line(for: error))"])
            throw ExitCode(1)
        }
        logger.notice("stopped")
    }
}

/// How many shutdown signals `serve` has caught.
private final class SignalCount: Sendable {
    private let count = Atomic<Int>(0)

    /// Counts one more; returns the count.
    func increment() -> Int { count.add(1, ordering: .sequentiallyConsistent).newValue }
    var value: Int { count.load(ordering: .sequentiallyConsistent) }
}

struct Catalog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply declarative catalog files to the database (works offline; a running gateway picks the change up).",
        subcommands: [Apply.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply a directory of catalog YAML files; applying twice changes nothing.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "Directory of *.yaml files (tenants, upstreams, prompts, adapters, models).") var directory: String

        func run() async throws {
            let config = try options.loadOrExit()
            do {
                let report = try await DatabaseMaintenance.applyCatalog(directory: directory, config: config)
                print(report.description)
            } catch let error as CatalogError {
                throw refused(error)
            } catch {
                throw storeFailed(error)
            }
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or upgrade the database and exit (works offline).")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try options.loadOrExit()
        let result: DatabaseMaintenance.MigrationResult
        do {
            result = try await DatabaseMaintenance.migrate(config: config)
        } catch {
            throw storeFailed(error)
        }
        print("store: \(describeStore(config.store))")
        print("journal mode: \(result.journalMode)")
        for name in result.applied { print("migration applied: \(name)") }
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an online backup of the database to a new file (SQLite).",
        discussion: """
            Safe while the gateway runs: the copy is one consistent snapshot (SQLite's VACUUM INTO), then checked \
            with PRAGMA integrity_check. Restore it with `trellis restore FILE` while the gateway is stopped.
            On PostgreSQL this refuses and exits 1: back the database up with pg_dump and its own continuous \
            archiving and replication.
            """)

    @OptionGroup var options: ConfigOptions
    @Argument(help: "The backup file to create (it must not exist).") var file: String

    func run() async throws {
        let config = try options.loadOrExit()
        let check: DatabaseMaintenance.FileCheck
        do {
            check = try await DatabaseMaintenance.backup(config: config, to: file)
        } catch {
            throw storeFailed(error)
        }
        printCheck(check, title: "backup")
        if check.integrity != "ok" { throw ExitCode(1) }
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace the database with a backup (SQLite; stop the gateway first).",
        discussion: """
            The backup is checked first; the database it replaces is kept beside it as <file>.before-restore-<time>. \
            On PostgreSQL this refuses: restore with pg_restore (or the database's point-in-time recovery).
            """)

    @OptionGroup var options: ConfigOptions
    @Argument(help: "A file written by `trellis backup`.") var file: String

    func run() async throws {
        let config = try options.loadOrExit()
        if case .postgres = config.store {
            printRefusal(
                "the store is on PostgreSQL (\(describeStore(config.store))): trellis restore replaces SQLite files only; "
                    + "restore a pg_dump with pg_restore, or use the database's point-in-time recovery")
            throw ExitCode(2)
        }
        let (check, previous) = try DatabaseMaintenance.restore(from: file, databasePath: config.databasePath)
        printCheck(check, title: "restored from")
        print("database: \(config.databasePath)")
        if let previous { print("previous database kept as: \(previous)") }
    }
}

/// A store task that failed: one line on standard error (the store's own message for a refusal, such as a
/// backup on PostgreSQL naming pg_dump), exit status 1.
func storeFailed(_ error: any Error) -> ExitCode {
    printRefusal(DatabaseMaintenance.line(for: error))
    return ExitCode(1)
}

func printCheck(_ check: DatabaseMaintenance.FileCheck, title: String) {
    print("\(title): \(check.path) (\(check.bytes) bytes)")
    print("integrity: \(check.integrity)")
    print("migrations: \(check.migrations.joined(separator: ", "))")
    print("rows: " + check.tables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
}
