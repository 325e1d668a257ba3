import NIOCore

/// The connections of one host, as a value: how many are open or being made (never more than `limit`), which
/// idle ready for reuse, and who waits for one, in order of arrival (at most `maxWaiters`). No I/O and no clock:
/// `HTTP1Pool` keeps it behind a lock and carries out its answers; tests drive it alone.
///
/// A request that finds no idle connection and room under the limit makes its own connection (and owns its
/// connect error); one that finds the limit reached waits. A waiter is served, first come first served, by a
/// connection released to the pool, or by the room a closed connection or a failed connect left.
struct HTTP1PoolState<Connection: Identifiable> {
    let limit: Int
    let maxWaiters: Int
    /// Connections open or being made.
    private(set) var open = 0
    /// Ready for reuse, the most recently used last (taken first, so the others idle out).
    private(set) var idle: [Connection] = []
    private var waiters = CircularBuffer<UInt64>()

    init(limit: Int, maxWaiters: Int) {
        self.limit = max(1, limit)
        self.maxWaiters = max(0, maxWaiters)
    }

    var waiting: Int { waiters.count }

    enum Lease {
        /// Use this idle connection.
        case use(Connection)
        /// Make a connection: the room for it is taken (give it back with `connectFailed` if it fails).
        case connect
        /// Wait: `waiter` is queued (when asked to be).
        case wait
        /// The queue is full.
        case refuse
    }

    /// What a waiter is given.
    enum Grant {
        case use(Connection)
        case connect
    }

    /// An idle connection, the room to make one, or a place in the queue (`queue` false: only says it would wait).
    /// Of the idle connections, the most recently used one that `preferring` accepts (the one on the caller's own
    /// event loop), else the most recently used of all: a preference never opens a connection.
    mutating func lease(waiter: UInt64, queue: Bool = true, preferring: (Connection) -> Bool = { _ in false }) -> Lease {
        if let i = idle.lastIndex(where: preferring) { return .use(idle.remove(at: i)) }
        if let connection = idle.popLast() { return .use(connection) }
        if open < limit {
            open += 1
            return .connect
        }
        guard waiters.count < maxWaiters else { return .refuse }
        if queue { waiters.append(waiter) }
        return .wait
    }

    /// A connection whose exchange ended cleanly and that may be reused: to the first waiter, or idle.
    mutating func release(_ connection: Connection) -> (waiter: UInt64, grant: Grant)? {
        if let waiter = waiters.popFirst() { return (waiter, .use(connection)) }
        idle.append(connection)
        return nil
    }

    /// A connection closed (whether it idled or was in use): its room goes to the first waiter, if any.
    mutating func closed(_ connection: Connection) -> (waiter: UInt64, grant: Grant)? {
        if let i = idle.firstIndex(where: { $0.id == connection.id }) { idle.remove(at: i) }
        return freed()
    }

    /// A connection being made failed: its room goes to the first waiter, if any.
    mutating func connectFailed() -> (waiter: UInt64, grant: Grant)? {
        freed()
    }

    /// Removes a waiter (timed out or cancelled); false when it is no longer queued (it was served meanwhile).
    mutating func removeWaiter(_ waiter: UInt64) -> Bool {
        guard let i = waiters.firstIndex(of: waiter) else { return false }
        waiters.remove(at: i)
        return true
    }

    /// Empties the pool at shutdown: the idle connections to close and the waiters to fail.
    mutating func drain() -> (idle: [Connection], waiters: [UInt64]) {
        let taken = (idle, Array(waiters))
        idle = []
        waiters.removeAll()
        return taken
    }

    private mutating func freed() -> (waiter: UInt64, grant: Grant)? {
        open = max(0, open - 1)
        guard let waiter = waiters.popFirst() else { return nil }
        open += 1
        return (waiter, .connect)
    }
}

extension HTTP1PoolState.Lease: Sendable where Connection: Sendable {}
extension HTTP1PoolState.Grant: Sendable where Connection: Sendable {}
