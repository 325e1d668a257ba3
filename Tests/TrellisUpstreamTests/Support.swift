import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import TrellisUpstream

/// Runs `router` as a server on 127.0.0.1 port 0 for `body`, which gets the bound port; the server stops after it.
func withLocalServer(_ router: Router<BasicRequestContext>, label: String, _ body: (Int) async throws -> Void) async throws {
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    var logger = Logger(label: label)
    logger.logLevel = .critical
    let app = Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in
            continuation.yield(channel.localAddress?.port ?? 0)
            continuation.finish()
        }, logger: logger)
    let task = Task { try await app.run() }
    defer { task.cancel() }
    var port = 0
    for await p in ports { port = p }
    try await body(port)
}

/// A client for the test, shut down however the test body ends (AsyncHTTPClient traps on a client released
/// without it).
/// `lean`: plain-http calls through the lean HTTP/1.1 client (the default), or through AsyncHTTPClient.
func withUpstreamClient(lean: Bool = true, _ body: (UpstreamClient) async throws -> Void) async throws {
    let client = UpstreamClient(settings: .init(leanHTTP1: lean), eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
    do {
        try await body(client)
    } catch {
        try? await client.shutdown()
        throw error
    }
    try await client.shutdown()
}

/// Runs `body` with a breaking server and a client, both stopped after it, whatever it threw.
func withBreakingServer(lean: Bool = true, _ body: (BreakingServer, UpstreamClient) async throws -> Void) async throws {
    let server = try await BreakingServer()
    do {
        try await withUpstreamClient(lean: lean) { client in try await body(server, client) }
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
}

/// Sends `call` to the breaking server, answers it with a stream's head and the event "first", and reads until
/// that event arrived: the response, its body part-read, and the server's side of the connection.
func openStream(
    _ call: UpstreamCall, server: BreakingServer, client: UpstreamClient
) async throws -> (response: UpstreamResponse, body: TimedBody, child: any Channel) {
    async let sent = client.send(call, logger: Logger(label: "t"))
    let child = try await server.accept()
    try await BreakingServer.send(BreakingServer.head + BreakingServer.chunk("first"), on: child)
    let response = try await sent
    var body = response.timedBody(upstream: "breaking")
    var received = ""
    while !received.contains("data: first\n\n"), let buffer = try await body.next() { received += String(buffer: buffer) }
    #expect(received.contains("data: first\n\n"))
    return (response, body, child)
}
