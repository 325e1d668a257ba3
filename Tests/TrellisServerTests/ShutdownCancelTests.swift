import AsyncHTTPClient
import Foundation
import Logging
import OpenAIWire
import ServiceLifecycle
import Testing
import TrellisCore

@testable import TrellisServer

/// A shutdown cut short, as a second SIGTERM does: the service group cancelled while a stream runs.
@Suite struct ShutdownCancelTests {
    @Test("SIGTERM then a second one while a stream runs: the client had tokens, and the stream's usage row is written")
    func cancelledShutdownKeepsTheStreamsRow() async throws {
        let dataDir = TestGateway.makeDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        var config = TrellisConfig()
        config.storeLocation = try await TestStore.sqlite.location(dataDir: dataDir)
        config.host = "127.0.0.1"
        config.port = 0
        config.dataDir = dataDir
        config.adminKey = TestGateway.adminKey
        // Nothing is written before the final flush, and only the cancellation ends the shutdown.
        config.usageFlushIntervalMs = 3_600_000
        config.shutdownGraceSeconds = 600
        config.drainDelayMs = 0
        config.upstreamRetries = 0
        config.healthCheckIntervalMs = 0
        var logger = Logger(label: "trellis-test")
        logger.logLevel = .critical
        var requestID = ""
        try await withMockUpstream { upstream in
            let (ports, portContinuation) = AsyncStream<Int>.makeStream()
            let (app, gateway) = try await buildApplication(
                config: config, logger: logger,
                onServerRunning: { channel in
                    portContinuation.yield(channel.localAddress?.port ?? 0)
                    portContinuation.finish()
                })
            let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
            let running = Task { try await group.run() }
            var port = 0
            for await p in ports { port = p }
            let gw = TestGateway(port: port, gateway: gateway, dataDir: dataDir) { await group.triggerGracefulShutdown() }
            let key = try await gw.standardSetup(upstream: upstream)
            let body: JSONValue = [
                "model": "slower-stream", "stream": true, "max_tokens": 10_000, "messages": [["role": "user", "content": "x"]],
            ]
            let stream = try await gw.stream("/v1/chat/completions", key: key, json: body)
            #expect(stream.status.code == 200)
            requestID = stream.headers.first(name: "x-request-id") ?? ""
            // The client has its first tokens.
            var chunks = stream.body.makeAsyncIterator()
            _ = try await chunks.next()
            await group.triggerGracefulShutdown()
            try await waitUntil { gateway.drain.isClosing }
            running.cancel()
            _ = try? await running.value
            _ = try? await chunks.next()
        }
        #expect(!requestID.isEmpty)
        #expect(try await TestGateway.usageCount(dataDir: dataDir, store: .sqlite, where: "request_id = '\(requestID)'") == 1)
    }
}
