import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// An event loop as a task executor: a task that prefers it runs its jobs on the loop's thread, so a request's
/// task and the I/O it waits for (its client's connection, its upstream's connection on the same loop) do not
/// hand each other over between threads at every await.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// A server child channel whose connections are handled on their own event loop (``EventLoopTaskExecutor``):
/// reading each request, the handler with its upstream call, and writing the response, including a relayed
/// stream. Work that may hold a thread for long (administration, document ingestion, retrieval) asks for the
/// shared pool again (``OffLoop``), so that one such request cannot stall the other connections of its loop.
struct OnLoopChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(loop: value.channel.eventLoop)) {
            await base.handle(value: value, logger: logger)
        }
    }
}

/// Administration requests run on the shared pool (``OffLoop``): uploads, exports and reports may hold a thread.
struct OffLoopMiddleware: RouterMiddleware {
    typealias Context = TrellisRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await OffLoop.run { try await next(request, context) }
    }
}

/// Runs `operation` on the shared concurrency pool rather than an event loop, for work that may hold a thread
/// for long (CPU-heavy, or synchronous); costs nothing when the task has no executor preference.
enum OffLoop {
    static func run<T: Sendable>(_ operation: () async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(globalConcurrentExecutor) { try await operation() }
    }
}
