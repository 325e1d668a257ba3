import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import HummingbirdTLS
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import OpenAIWire
import ServiceLifecycle
import TrellisCore
import TrellisStore
import TrellisUpstream

/// Builds the whole gateway from a configuration: opens the store, migrates it and loads the catalog, and wires
/// the routes, middleware and background services. `trellis serve` runs what this returns; tests call it too.
///
/// On SQLite a store that cannot be opened fails the start. On PostgreSQL a database that cannot be reached (or
/// refuses the gateway's credentials) does not: the gateway listens unready (`/readyz` 503, the API 503
/// `store_unavailable`) while `StoreStartup` tries again, and becomes ready when the database answers.
public func buildApplication(
    config: TrellisConfig, environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in },
    clock: (@Sendable () -> Double)? = nil
) async throws -> (GatewayService, Gateway) {
    let store = try makeStore(config.store, logger: logger, operationTimeout: .milliseconds(config.storeOperationTimeoutMs))
    let metrics = GatewayMetrics()
    let usage = UsageRecorder(
        store: store, capacity: config.usageBufferCapacity, batchSize: config.usageBatchSize,
        flushInterval: .milliseconds(config.usageFlushIntervalMs), logger: logger, onDrop: { metrics.recorderDropped($0, kind: $1) })
    let upstreams = UpstreamClient(
        settings: .init(
            maxConnectionsPerHost: config.upstreamMaxConnectionsPerHost, connectTimeoutMs: config.upstreamConnectTimeoutMs,
            readTimeoutMs: config.upstreamReadTimeoutMs, caFile: config.upstreamCAFile,
            leanHTTP1: config.upstreamLeanHTTP1),
        eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
    let gateway = Gateway(
        config: config, store: store, upstreams: upstreams, usage: usage, metrics: metrics, logger: logger, environment: environment, clock: clock)
    var startup = StoreStartup(gateway: gateway, environment: environment, logger: logger, retryCap: .milliseconds(config.storeRetryMaxMs))
    do {
        startup.pending = try await startup.firstAttempt()
    } catch {
        // The HTTP client must be shut down before it is released.
        try? await upstreams.shutdown()
        (store as? PostgresStore)?.shutdown()
        throw error
    }
    if config.adminKey == nil {
        logger.warning("no operator key is configured (TRELLIS_ADMIN_KEY or admin.key): the administration API refuses every call")
    }

    let stallWatchdog = StallWatchdog(deadline: .milliseconds(config.writeStallMs), otherDeadlines: [.milliseconds(config.bodyReadMs)])
    let router = buildRouter(gateway: gateway, stallWatchdog: stallWatchdog)

    // Hummingbird's own messages at notice and above only, so that starting logs a single "listening" line.
    var appLogger = logger
    appLogger.logLevel = max(logger.logLevel, .notice)
    let http1 = HTTP1Channel.Configuration(
        additionalChannelHandlers: [ConnectionWatcherHandler()], idleTimeout: .seconds(Int64(config.idleTimeoutSeconds)))
    // Connections handled on their own event loop; administration and retrieval go back to the shared pool.
    let plain: HTTPServerBuilder =
        config.handleOnEventLoop
        ? HTTPServerBuilder { responder in OnLoopChildChannel(base: HTTP1Channel(responder: responder, configuration: http1)) }
        : .http1(configuration: http1)
    let server: HTTPServerBuilder
    if let certificateFile = config.tlsCertificateFile, let keyFile = config.tlsKeyFile {
        let tls: TLSConfiguration
        do {
            tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem)))
        } catch {
            try? await upstreams.shutdown()
            throw ConfigError(key: "server.tls.certificate_file", source: certificateFile, problem: "cannot load the certificate or key: \(error)")
        }
        server =
            config.tlsHTTP2
            ? try .http2Upgrade(
                tlsConfiguration: tls, configuration: .init(idleTimeout: .seconds(Int64(config.idleTimeoutSeconds)), streamConfiguration: http1))
            : try .tls(plain, tlsConfiguration: tls)
    } else {
        server = plain
    }
    var app = Application(
        router: router,
        server: server,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: nil),
        onServerRunning: onServerRunning,
        logger: appLogger)
    // Shut down in reverse order: the HTTP server first (draining requests), then the refresher, then the
    // upstream client, the store's start (when it is still trying), the usage recorder with its final flush,
    // and last the stall watchdog (streams still draining stay watched until the server is done).
    let refresher = CatalogRefresher(gateway: gateway, interval: .milliseconds(config.catalogRefreshIntervalMs), logger: logger)
    app.addServices(
        stallWatchdog,
        usage,
        startup,
        UpstreamClientService(gateway: gateway),
        refresher,
        ChangeListener(refresher: refresher, enabled: config.catalogListen),
        MaintenanceService(gateway: gateway, interval: .seconds(config.capturePurgeIntervalSeconds), logger: logger),
        EvalService(gateway: gateway, logger: logger),
        UpstreamProber(gateway: gateway, interval: .milliseconds(config.healthCheckIntervalMs), logger: logger))
    // The limits shared with other replicas (PostgreSQL): synced every `limits.sync_interval_ms`.
    if let limitSync = gateway.limitSync { app.addServices(LimitSyncService(gateway: gateway, sync: limitSync)) }
    // A graceful shutdown drains first (readiness 503, `Connection: close`, still serving for
    // `server.drain_delay_ms`), then closes the listener and stops the application as above.
    let drain = DrainPhase(gateway: gateway, delay: .milliseconds(config.drainDelayMs), logger: logger)
    return (GatewayService(app: app, drain: drain, logger: appLogger), gateway)
}
