import NIOCore
import Synchronization

/// Tells a request that its client has gone. Hummingbird's own inbound-close helpers end the connection's
/// request stream when they finish, which breaks keep-alive; this watcher sits in the channel pipeline
/// instead and only observes: when the client closes its side (`inputClosed`) or the connection drops, the
/// request being served on it is cancelled.
///
/// HTTP/1.1 serves one request at a time per connection, so one slot for the current request's cancel action
/// is enough.
final class ConnectionWatcher: Sendable {
    private struct State {
        var closed = false
        var onClose: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    /// Sets the action to run if the client goes away. Returns false (and does not keep the action) when the
    /// client is already gone.
    func observe(_ onClose: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { s in
            guard !s.closed else { return false }
            s.onClose = onClose
            return true
        }
    }

    func clear() {
        state.withLock { $0.onClose = nil }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    func clientClosed() {
        let action = state.withLock { s -> (@Sendable () -> Void)? in
            s.closed = true
            defer { s.onClose = nil }
            return s.onClose
        }
        action?()
    }

    // MARK: Finding a connection's watcher

    private static let registry = Mutex<[ObjectIdentifier: ConnectionWatcher]>([:])

    static func watcher(for channel: any Channel) -> ConnectionWatcher? {
        let id = ObjectIdentifier(channel)
        return registry.withLock { $0[id] }
    }

    fileprivate static func register(_ watcher: ConnectionWatcher, for channel: any Channel) {
        let id = ObjectIdentifier(channel)
        registry.withLock { $0[id] = watcher }
    }

    fileprivate static func unregister(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        _ = registry.withLock { $0.removeValue(forKey: id) }
    }

    static var registeredCount: Int { registry.withLock { $0.count } }
}

/// The pipeline half of ``ConnectionWatcher``: passes everything through and reports the client's close.
final class ConnectionWatcherHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny

    private let watcher = ConnectionWatcher()

    func handlerAdded(context: ChannelHandlerContext) {
        ConnectionWatcher.register(watcher, for: context.channel)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        ConnectionWatcher.unregister(context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            watcher.clientClosed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        watcher.clientClosed()
        ConnectionWatcher.unregister(context.channel)
        context.fireChannelInactive()
    }
}

enum ClientDisconnect {
    /// Runs `operation` in a task that is cancelled if the client of `channel` goes away (or if the caller is
    /// cancelled). Without a watcher (in-process router tests) it simply runs the operation.
    static func cancelling<T: Sendable>(
        on channel: (any Channel)?, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        guard let channel, let watcher = ConnectionWatcher.watcher(for: channel) else {
            return try await operation()
        }
        let task = Task { try await operation() }
        guard watcher.observe({ task.cancel() }) else {
            task.cancel()
            throw CancellationError()
        }
        defer { watcher.clear() }
        return try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
    }
}
