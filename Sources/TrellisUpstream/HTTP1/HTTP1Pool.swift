import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The connections to one host and port on the client's event loop group: ``HTTP1PoolState`` behind a lock, and
/// what it answers carried out (connections made, waiters served, timed out or cancelled, idle ones closed at
/// shutdown). A connection leaves the count when its channel closes, whoever closed it.
final class HTTP1Pool: Sendable {
    let host: String
    let port: Int
    private let group: any EventLoopGroup
    /// The group's loops, to tell whether a caller's loop is one of them.
    private let loops: [any EventLoop]
    private let idleTimeout: TimeAmount
    private let discard: HTTP1Handler.Discard
    /// An IP literal is connected to as is; a name is resolved by NIO at each connect.
    private let address: SocketAddress?
    private let observer: (@Sendable (HTTP1PoolEvent) -> Void)?
    private let state: Mutex<Inner>

    typealias Outcome = Result<HTTP1PoolState<HTTP1Connection>.Grant, HTTP1Error>

    struct Inner {
        var pool: HTTP1PoolState<HTTP1Connection>
        var waiters: [UInt64: Waiter] = [:]
        var shutDown = false
    }

    struct Waiter: Sendable {
        var continuation: UnsafeContinuation<Outcome, Never>
        var timer: Scheduled<Void>?
    }

    init(
        host: String, port: Int, group: any EventLoopGroup, limit: Int, maxWaiters: Int, idleTimeout: TimeAmount,
        discard: HTTP1Handler.Discard, observer: (@Sendable (HTTP1PoolEvent) -> Void)?
    ) {
        self.host = host
        self.port = port
        self.group = group
        self.loops = Array(group.makeIterator())
        self.idleTimeout = idleTimeout
        self.discard = discard
        self.address = try? SocketAddress(ipAddress: host, port: port)
        self.observer = observer
        self.state = Mutex(Inner(pool: HTTP1PoolState(limit: limit, maxWaiters: maxWaiters)))
    }

    /// Connections open or being made, and requests waiting (for tests and metrics).
    var counts: (open: Int, idle: Int, waiting: Int) {
        state.withLock { ($0.pool.open, $0.pool.idle.count, $0.pool.waiting) }
    }

    /// The idle connections, the most recently used last (tests).
    var idleConnections: [HTTP1Connection] {
        state.withLock { $0.pool.idle }
    }

    // MARK: Leasing

    /// An idle connection, or the room to make one, now or once one comes free by `deadline` (then `timeout`).
    /// With `loop` (the caller's event loop), an idle connection on it is taken first, else one is made on it while
    /// under the limit (``HTTP1PoolState``). Cancelling the waiting task takes the request out of the queue.
    func lease(request id: UInt64, on loop: (any EventLoop)?, deadline: NIODeadline, timeout: HTTP1Error) async -> Outcome {
        let home = loop.flatMap { loop in loops.contains { $0 === loop } ? ObjectIdentifier(loop) : nil }
        let now = state.withLock { inner -> Outcome? in
            if inner.shutDown { return .failure(.shutdown) }
            switch inner.pool.lease(waiter: id, queue: false, home: home) {
            case .use(let connection): return .success(.use(connection))
            case .connect: return .success(.connect)
            case .refuse: return .failure(.poolFull)
            case .wait: return nil
            }
        }
        if let now { return now }
        let result = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Outcome, Never>) in
                let immediate = state.withLock { inner -> Outcome? in
                    if inner.shutDown { return .failure(.shutdown) }
                    if Task.isCancelled { return .failure(.cancelled) }
                    switch inner.pool.lease(waiter: id, queue: true, home: home) {
                    case .use(let connection): return .success(.use(connection))
                    case .connect: return .success(.connect)
                    case .refuse: return .failure(.poolFull)
                    case .wait:
                        inner.waiters[id] = Waiter(continuation: continuation, timer: nil)
                        return nil
                    }
                }
                if let immediate { return continuation.resume(returning: immediate) }
                let timer = group.next().scheduleTask(deadline: deadline) { [self] in
                    self.dequeue(id, with: timeout)
                }
                let stale = state.withLock { inner -> Bool in
                    guard inner.waiters[id] != nil else { return true }
                    inner.waiters[id]?.timer = timer
                    return false
                }
                if stale { timer.cancel() }
            }
        } onCancel: {
            dequeue(id, with: .cancelled)
        }
        return result
    }

    /// Takes a waiter out of the queue with an error, unless it was served meanwhile.
    private func dequeue(_ id: UInt64, with error: HTTP1Error) {
        let waiter = state.withLock { inner -> Waiter? in
            guard inner.pool.removeWaiter(id) else { return nil }
            return inner.waiters.removeValue(forKey: id)
        }
        guard let waiter else { return }
        waiter.timer?.cancel()
        waiter.continuation.resume(returning: .failure(error))
    }

    /// Serves a waiter the pool chose (outside the lock).
    private func serve(_ served: (waiter: Waiter, grant: HTTP1PoolState<HTTP1Connection>.Grant)?) {
        guard let served else { return }
        served.waiter.timer?.cancel()
        served.waiter.continuation.resume(returning: .success(served.grant))
    }

    private static func take(
        _ inner: inout Inner, _ chosen: (waiter: UInt64, grant: HTTP1PoolState<HTTP1Connection>.Grant)?
    ) -> (waiter: Waiter, grant: HTTP1PoolState<HTTP1Connection>.Grant)? {
        guard let chosen, let waiter = inner.waiters.removeValue(forKey: chosen.waiter) else { return nil }
        return (waiter, chosen.grant)
    }

    // MARK: Connections

    /// A connection whose exchange ended cleanly comes back (called on its event loop).
    func release(_ connection: HTTP1Connection) {
        let served = state.withLock { inner -> (waiter: Waiter, grant: HTTP1PoolState<HTTP1Connection>.Grant)?? in
            if inner.shutDown { return nil }
            let chosen = inner.pool.release(connection)
            return .some(Self.take(&inner, chosen))
        }
        guard let served else { return connection.channel.close(promise: nil) }
        serve(served)
    }

    /// Makes a connection, in the room `lease` granted, by `deadline` (then `timeout`): on `preferred` (the caller's
    /// event loop) when it is one of the client's, so that the request and its upstream's socket share a thread.
    func connect(on preferred: (any EventLoop)?, deadline: NIODeadline, timeout: HTTP1Error) async -> Result<HTTP1Connection, HTTP1Error> {
        let loop = preferred.flatMap { preferred in loops.first { $0 === preferred } } ?? group.next()
        let (pool, idleTimeout, discard) = (self, self.idleTimeout, self.discard)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(max(TimeAmount.nanoseconds(0), deadline - NIODeadline.now()))
            .channelOption(ChannelOptions.autoRead, value: false)
            .channelInitializer { channel in
                do {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(HTTP1Handler(pool: pool, poolIdleTimeout: idleTimeout, discard: discard))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        let connected = address.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: host, port: port)
        do {
            let connection = try await connected.flatMapThrowing { channel in
                let handler = try channel.pipeline.syncOperations.handler(type: HTTP1Handler.self)
                let connection = HTTP1Connection(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
                channel.closeFuture.whenComplete { _ in pool.closed(connection) }
                return connection
            }.get()
            observer?(.opened)
            return .success(connection)
        } catch {
            serve(
                state.withLock { inner in
                    let chosen = inner.pool.connectFailed()
                    return Self.take(&inner, chosen)
                })
            if let error = error as? ChannelError, case .connectTimeout = error { return .failure(timeout) }
            return .failure(.connectFailed)
        }
    }

    /// A connection's channel closed: its room is free.
    private func closed(_ connection: HTTP1Connection) {
        serve(
            state.withLock { inner in
                let chosen = inner.pool.closed(connection)
                return Self.take(&inner, chosen)
            })
        observer?(.closed)
    }

    /// Closes the idle connections and fails the waiters; connections in use close when their exchange ends.
    func shutdown() {
        let (idle, waiters) = state.withLock { inner -> ([HTTP1Connection], [Waiter]) in
            inner.shutDown = true
            let (idle, ids) = inner.pool.drain()
            let waiters = ids.compactMap { inner.waiters.removeValue(forKey: $0) }
            return (idle, waiters)
        }
        for connection in idle { connection.channel.close(promise: nil) }
        for waiter in waiters {
            waiter.timer?.cancel()
            waiter.continuation.resume(returning: .failure(.shutdown))
        }
    }
}

/// What a pool reports to its observer (tests, metrics).
public enum HTTP1PoolEvent: Sendable, Equatable {
    case opened
    case closed
}
