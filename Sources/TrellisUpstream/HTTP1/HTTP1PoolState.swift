import NIOCore

/// The connections of one host, as a value: how many are open or being made (never more than `limit`), which
/// idle ready for reuse, and who waits for one, in order of arrival (at most `maxWaiters`). No I/O and no clock:
/// `HTTP1Pool` keeps it behind a lock and carries out its answers; tests drive it alone.
///
/// A request that finds no idle connection and room under the limit makes its own connection (and owns its
/// connect error); one that finds the limit reached waits. A waiter is served, first come first served, by a
/// connection released to the pool, or by the room a closed connection or a failed connect left.
///
/// A request may name its home (the event loop it runs on): it then takes an idle connection of that home, else
/// makes one there while under the limit, and only at the limit takes an idle connection of another home. A
/// connection of another home would hand every step of every later request over between two threads; making one
/// costs a connect once, and connections in excess idle out.
struct HTTP1PoolState<Connection: HTTP1PoolMember> {
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
    /// With a `home`: the most recently used idle connection of that home, else the room to make one, else the most
    /// recently used idle connection of another home.
    mutating func lease(waiter: UInt64, queue: Bool = true, home: Connection.Home? = nil) -> Lease {
        if let home {
            if let i = idle.lastIndex(where: { $0.home == home }) { return .use(idle.remove(at: i)) }
            if open < limit {
                open += 1
                return .connect
            }
        }
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

/// What the pool keeps: a connection with an identity and a home (the event loop it lives on).
protocol HTTP1PoolMember: Identifiable {
    associatedtype Home: Equatable
    var home: Home { get }
}

extension HTTP1PoolState.Lease: Sendable where Connection: Sendable {}
extension HTTP1PoolState.Grant: Sendable where Connection: Sendable {}
