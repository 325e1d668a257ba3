import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// Runs `router` as a test server on `address` (port 0: a free one), over TLS when given, in a task of its
/// own. Returns the bound port and the task (cancel it to stop the server), or throws when it could not bind.
func startLocalServer(
    _ router: Router<BasicRequestContext>, label: String, address: String = "127.0.0.1", port: Int = 0, tls: TLSConfiguration? = nil
) async throws -> (port: Int, task: Task<Void, Never>) {
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    var logger = Logger(label: label)
    logger.logLevel = .critical
    let app = Application(
        router: router, server: try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
        configuration: .init(address: .hostname(address, port: port)),
        onServerRunning: { channel in
            continuation.yield(channel.localAddress?.port ?? 0)
            continuation.finish()
        }, logger: logger)
    let task = Task {
        // A failed bind ends the stream without a port.
        try? await app.run()
        continuation.finish()
    }
    var bound = 0
    for await p in ports { bound = p }
    guard bound != 0 else {
        task.cancel()
        throw CancellationError()
    }
    return (bound, task)
}

/// A started test server's port and task: `stop` cancels the task and waits for the server to end.
final class LocalServerState: Sendable {
    private let state = Mutex<(port: Int, task: Task<Void, Never>?)>((0, nil))

    var port: Int { state.withLock { $0.port } }

    /// Runs `router` as `startLocalServer` does, keeping its port and task; returns the bound port.
    func start(
        _ router: Router<BasicRequestContext>, label: String, address: String = "127.0.0.1", port: Int = 0, tls: TLSConfiguration? = nil
    ) async throws -> Int {
        let (bound, task) = try await startLocalServer(router, label: label, address: address, port: port, tls: tls)
        state.withLock { $0 = (bound, task) }
        return bound
    }

    func stop() async {
        let task = state.withLock { $0.task }
        task?.cancel()
        await task?.value
    }
}
