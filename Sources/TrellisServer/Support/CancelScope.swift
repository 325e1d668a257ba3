import Synchronization

/// Lets another thread cancel the task that runs an operation, for as long as the operation runs and never after:
/// what `Task.cancel()` does for a task one holds a handle to, for the request's own task, which the HTTP server
/// runs and nobody holds a `Task` for. A stream's dispatch runs in the request's task under one, so that the
/// client going away cancels it (and the upstream call with it) without a task of its own.
///
/// `@unchecked Sendable`: the only mutable state is `task`, read and written only while holding `lock`. It is the
/// running task's `UnsafeCurrentTask`, set when ``run(watching:_:)`` starts and set back to nil, under the lock,
/// before `run` returns or throws. `cancel()` uses it only under the lock, so only while that task is still inside
/// `run`: running or suspended there, so alive (a task is freed only after it completes). `cancel()` is one of the
/// calls of `UnsafeCurrentTask` that are safe from another thread: it is `Task.cancel()`.
final class CancelScope: @unchecked Sendable {
    private let lock = Mutex(())
    private var task: UnsafeCurrentTask?

    private init() {}

    /// Cancels the task if it is still inside the scope; does nothing after the scope ended.
    func cancel() {
        lock.withLock { _ in task?.cancel() }
    }

    private func enter(_ current: UnsafeCurrentTask?) {
        lock.withLock { _ in task = current }
    }

    private func leave() {
        lock.withLock { _ in task = nil }
    }

    /// Runs `operation` in the current task, which is cancelled if `watcher` sees the client go away meanwhile;
    /// throws `CancellationError` without running it when the client has already gone. Without a watcher (no
    /// connection: in-process tests) it simply runs the operation.
    static func run<T>(watching watcher: ConnectionWatcher?, _ operation: () async throws -> T) async throws -> T {
        guard let watcher else { return try await operation() }
        let scope = CancelScope()
        withUnsafeCurrentTask { current in scope.enter(current) }
        defer { scope.leave() }
        guard watcher.observe({ scope.cancel() }) else { throw CancellationError() }
        defer { watcher.clear() }
        return try await operation()
    }
}
