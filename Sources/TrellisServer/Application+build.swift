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

/// Builds the whole gateway from a configuration: opens and migrates the store, loads the catalog, and wires
/// the routes, middleware and background services. `trellis serve` runs what this returns; tests call it too.
public func buildApplication(
    config: TrellisConfig, environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in },
    clock: (@Sendable () -> Double)? = nil
) async throws -> (some ApplicationProtocol, Gateway) {
    let store = try await openStore(config, logger: logger)
    // The declarative catalog first: a bad file stops the start before anything else is running.
    if let directory = config.catalogDir {
        let report = try await CatalogApplier(store: store, environment: environment, egress: config.egress).apply(directory: directory)
        logger.notice("catalog applied", metadata: ["directory": "\(directory)", "changes": "\(report.changes.count)", "unchanged": "\(report.unchanged)"])
        for change in report.changes { logger.info("catalog change", metadata: ["change": "\(change)"]) }
    }
    let metrics = GatewayMetrics()
    let usage = UsageRecorder(
        store: store, capacity: config.usageBufferCapacity, batchSize: config.usageBatchSize,
        flushInterval: .milliseconds(config.usageFlushIntervalMs), logger: logger)
    let upstreams = UpstreamClient(
        settings: .init(
            maxConnectionsPerHost: config.upstreamMaxConnectionsPerHost, connectTimeoutMs: config.upstreamConnectTimeoutMs,
            readTimeoutMs: config.upstreamReadTimeoutMs, caFile: config.upstreamCAFile),
        eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
    let gateway = Gateway(
        config: config, store: store, upstreams: upstreams, usage: usage, metrics: metrics, logger: logger, environment: environment, clock: clock)
    do {
        try await gateway.reloadCatalog()
        try await gateway.knowledge.loadIndexes(gateway.snapshot.allKnowledgeBases)
        try await store.rebuildRollupsIfNeeded()
        // Monthly quotas continue from stored usage, so a restart does not reset them.
        let month = RateLimiter.month(of: Date())
        gateway.limiter.seedMonth(month, used: try await store.tokensThisMonth(month))
    } catch {
        // The HTTP client must be shut down before it is released.
        try? await upstreams.shutdown()
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
            : try .tls(.http1(configuration: http1), tlsConfiguration: tls)
    } else {
        server = .http1(configuration: http1)
    }
    var app = Application(
        router: router,
        server: server,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: nil),
        onServerRunning: onServerRunning,
        logger: appLogger)
    // Shut down in reverse order: the HTTP server first (draining requests), then the refresher, then the
    // upstream client, the usage recorder with its final flush, and last the stall watchdog (streams still
    // draining stay watched until the server is done).
    app.addServices(
        stallWatchdog,
        usage,
        UpstreamClientService(gateway: gateway),
        CatalogRefresher(gateway: gateway, interval: .milliseconds(config.catalogRefreshIntervalMs), logger: logger),
        MaintenanceService(gateway: gateway, interval: .seconds(config.capturePurgeIntervalSeconds), logger: logger),
        UpstreamProber(gateway: gateway, interval: .milliseconds(config.healthCheckIntervalMs), logger: logger))
    return (app, gateway)
}
