import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TrellisCore
import TrellisStore
import TrellisStoreTestSupport

@testable import TrellisServer

/// A PostgreSQL cluster of one test's own, through scripts/postgres.sh, so that the test can stop and start it
/// (an outage) without touching the cluster the other tests share. Its data and port survive `pause`.
struct PrivateCluster: Sendable {
    let directory: String
    let settings: PostgresSettings

    static let script: String = {
        // Tests/TrellisServerTests/Support/PrivateCluster.swift → the repository's root.
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("scripts/postgres.sh").path
    }()

    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts a cluster, runs `body`, and removes the cluster whatever happened.
    static func with<T>(_ body: (PrivateCluster) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-pgfault-\(UUID().uuidString)").path
        let url = try await run(["start", directory])
        let cluster: PrivateCluster
        do {
            guard case .postgres(let settings) = try StoreLocation.parse(url.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw Problem(description: "scripts/postgres.sh printed no postgres:// URL")
            }
            cluster = PrivateCluster(directory: directory, settings: settings)
            // The script's clusters trade durability for speed (synchronous_commit off), so a crash may lose
            // commits already answered; an outage test needs what was answered to survive: on for its sessions.
            try await TestDatabases.execute("ALTER DATABASE \(settings.database) SET synchronous_commit = on", on: settings)
        } catch {
            _ = try? await run(["stop", directory])
            throw error
        }
        return try await stopping({ _ = try? await run(["stop", directory]) }) { try await body(cluster) }
    }

    /// Stops the server, keeping its data and port: `fast` ends its sessions as a restart does, `immediate`
    /// as a crash would.
    func pause(immediate: Bool = false) async throws {
        _ = try await Self.run(["pause", directory, immediate ? "immediate" : "fast"])
    }

    /// Starts the paused server again on the same port.
    func resume() async throws {
        _ = try await Self.run(["resume", directory])
    }

    /// Runs scripts/postgres.sh with `arguments`; its standard output, or a `Problem` with its error output.
    /// Spawned and waited for directly (a thread blocked in `waitpid`), with its output in files: the server it
    /// starts keeps the script's descriptors open, and Foundation's `Process` did not see the script end.
    static func run(_ arguments: [String]) async throws -> String {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-pgscript-\(UUID().uuidString)").path
        let (outFile, errFile) = (base + ".out", base + ".err")
        defer {
            try? FileManager.default.removeItem(atPath: outFile)
            try? FileManager.default.removeItem(atPath: errFile)
        }
        let argv = ["/bin/bash", script] + arguments
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                var actions = posix_spawn_file_actions_t()
                posix_spawn_file_actions_init(&actions)
                defer { posix_spawn_file_actions_destroy(&actions) }
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
                posix_spawn_file_actions_addopen(&actions, 1, outFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                posix_spawn_file_actions_addopen(&actions, 2, errFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
                defer { for pointer in cArguments { free(pointer) } }
                var pid: pid_t = 0
                let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, &cArguments, environ)
                guard spawned == 0 else {
                    continuation.resume(throwing: Problem(description: "cannot run scripts/postgres.sh (error \(spawned))"))
                    return
                }
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1, errno == EINTR {}
                // Exited normally: the exit code (WEXITSTATUS); otherwise a failure.
                continuation.resume(returning: status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
            }
        }
        let text = (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""
        guard status == 0 else {
            let problem = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
            throw Problem(description: "scripts/postgres.sh \(arguments.first ?? "") failed (\(status)): \(problem)")
        }
        return text
    }
}

/// Every log line a gateway wrote, one string each: level, message and metadata.
final class LogCapture: Sendable {
    private let entries = Mutex<[String]>([])

    var lines: [String] { entries.withLock { $0 } }

    var logger: Logger {
        var logger = Logger(label: "trellis-test") { _ in CapturingLogHandler(capture: self) }
        logger.logLevel = .info
        return logger
    }

    func append(_ line: String) {
        entries.withLock { $0.append(line) }
    }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        capture.append("\(event.level) \(event.message) \(fields)")
    }
}

extension TestGateway {
    /// A gateway on `store` (a PostgreSQL database a test can take away), logging into `logs`, set up as
    /// `TestGateway.run` does, with short store deadlines and retries so that an outage shows quickly.
    static func onStore<T>(
        _ settings: PostgresSettings, logs: LogCapture = LogCapture(), configure: (inout TrellisConfig) -> Void = { _ in },
        _ body: (TestGateway) async throws -> T
    ) async throws -> T {
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-test-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        var config = TrellisConfig()
        config.storeLocation = .postgres(settings)
        config.host = "127.0.0.1"
        config.port = 0
        config.dataDir = dataDir
        config.adminKey = adminKey
        config.usageFlushIntervalMs = 50
        config.upstreamRetries = 0
        config.circuitFailureThreshold = 1_000
        config.healthCheckIntervalMs = 0
        config.catalogRefreshIntervalMs = 200
        config.storeRetryMaxMs = 1_000
        config.storeOperationTimeoutMs = 3_000
        config.drainDelayMs = 0
        configure(&config)
        let logger = logs.logger
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let (app, gateway) = try await buildApplication(
            config: config, environment: [:], logger: logger,
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            })
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let runTask = Task { try await group.run() }
        var port = 0
        for await p in ports { port = p }
        let harness = TestGateway(port: port, gateway: gateway, dataDir: dataDir) { await group.triggerGracefulShutdown() }
        defer { (gateway.store as? PostgresStore)?.shutdown() }
        // A request stuck in the store would hold the server's drain: the test fails then, it does not hang.
        func stop() async throws {
            await group.triggerGracefulShutdown()
            try await withDeadline(.seconds(60)) {
                PrivateCluster.Problem(description: "the gateway did not stop within 60 s (a request stuck in the store?)")
            } operation: {
                try await runTask.value
            }
        }
        do {
            let result = try await body(harness)
            try await stop()
            return result
        } catch {
            try? await stop()
            throw error
        }
    }
}
