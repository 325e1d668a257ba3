import Testing

@testable import TrellisUpstream

/// The pool's bookkeeping alone: the limit, reuse, the FIFO queue, and what a close or a failed connect frees.
@Suite("HTTP1PoolState")
struct HTTP1PoolStateTests {
    struct Conn: HTTP1PoolMember, Equatable {
        let id: Int
        /// Odd ids live on home 1, even ones on home 0.
        var home: Int { id % 2 }
    }

    typealias State = HTTP1PoolState<Conn>

    static func isConnect(_ lease: State.Lease) -> Bool {
        if case .connect = lease { return true }
        return false
    }

    static func used(_ lease: State.Lease) -> Conn? {
        if case .use(let conn) = lease { return conn }
        return nil
    }

    static func isWait(_ lease: State.Lease) -> Bool {
        if case .wait = lease { return true }
        return false
    }

    @Test("connections are made up to the limit, then requests wait, then the queue refuses")
    func limitThenQueueThenRefuse() {
        var pool = State(limit: 2, maxWaiters: 1)
        #expect(Self.isConnect(pool.lease(waiter: 1)))
        #expect(Self.isConnect(pool.lease(waiter: 2)))
        #expect(pool.open == 2)
        #expect(Self.isWait(pool.lease(waiter: 3)))
        guard case .refuse = pool.lease(waiter: 4) else { Issue.record("the full queue took another waiter"); return }
        #expect(pool.open == 2, "never more than the limit")
    }

    @Test("a released connection is reused, the most recent first")
    func reuse() {
        var pool = State(limit: 4, maxWaiters: 4)
        _ = pool.lease(waiter: 1)
        _ = pool.lease(waiter: 2)
        #expect(pool.release(Conn(id: 1)) == nil)
        #expect(pool.release(Conn(id: 2)) == nil)
        #expect(Self.used(pool.lease(waiter: 3)) == Conn(id: 2))
        #expect(Self.used(pool.lease(waiter: 4)) == Conn(id: 1))
        #expect(pool.open == 2, "reuse opens nothing")
    }

    @Test("with a home: an idle connection there, the most recent; else a new one while under the limit; else another home's")
    func home() {
        var pool = State(limit: 4, maxWaiters: 4)
        for waiter in 1...3 { _ = pool.lease(waiter: UInt64(waiter)) }
        for id in [1, 2, 3] { #expect(pool.release(Conn(id: id)) == nil) }
        #expect(Self.used(pool.lease(waiter: 4, home: 1)) == Conn(id: 3), "homes: 1, 0, 1; the most recent of home 1")
        #expect(Self.used(pool.lease(waiter: 5, home: 1)) == Conn(id: 1), "the older one of home 1 before home 0's newer")
        #expect(Self.isConnect(pool.lease(waiter: 6, home: 1)), "none of home 1 idles: a new one, under the limit")
        #expect(pool.open == 4)
        #expect(Self.used(pool.lease(waiter: 7, home: 1)) == Conn(id: 2), "at the limit: home 0's")
        #expect(Self.isWait(pool.lease(waiter: 8, home: 1)))
    }

    @Test("without a home, any idle connection is reused before one is made")
    func noHome() {
        var pool = State(limit: 4, maxWaiters: 4)
        _ = pool.lease(waiter: 1)
        #expect(pool.release(Conn(id: 2)) == nil)
        #expect(Self.used(pool.lease(waiter: 2)) == Conn(id: 2))
        #expect(pool.open == 1)
    }

    @Test("waiters are served in the order they came: released connections, then room left by closes")
    func fifo() {
        var pool = State(limit: 1, maxWaiters: 8)
        _ = pool.lease(waiter: 1)
        for waiter in 2...4 { #expect(Self.isWait(pool.lease(waiter: UInt64(waiter)))) }
        guard let first = pool.release(Conn(id: 1)), case .use(let conn) = first.grant else { Issue.record("no waiter served"); return }
        #expect(first.waiter == 2)
        #expect(conn == Conn(id: 1))
        guard let second = pool.closed(Conn(id: 1)), case .connect = second.grant else { Issue.record("the close freed nothing"); return }
        #expect(second.waiter == 3)
        #expect(pool.open == 1, "the room of the closed connection went to the waiter")
        guard let third = pool.connectFailed(), case .connect = third.grant else { Issue.record("the failed connect freed nothing"); return }
        #expect(third.waiter == 4)
        #expect(pool.connectFailed() == nil)
        #expect(pool.open == 0)
    }

    @Test("a closed idle connection leaves the pool; a removed waiter is never served")
    func closedIdleAndRemovedWaiter() {
        var pool = State(limit: 1, maxWaiters: 8)
        _ = pool.lease(waiter: 1)
        _ = pool.release(Conn(id: 7))
        #expect(pool.closed(Conn(id: 7)) == nil)
        #expect(pool.idle.isEmpty)
        #expect(pool.open == 0)
        _ = pool.lease(waiter: 2)
        _ = pool.lease(waiter: 3)
        let removed = pool.removeWaiter(3)
        let again = pool.removeWaiter(3)
        #expect(removed)
        #expect(!again, "removed once")
        #expect(pool.release(Conn(id: 8)) == nil, "nobody waits: the connection idles")
        #expect(pool.idle.count == 1)
    }

    @Test("asking without queueing says it would wait, and queues nothing")
    func peek() {
        var pool = State(limit: 1, maxWaiters: 8)
        _ = pool.lease(waiter: 1)
        #expect(Self.isWait(pool.lease(waiter: 2, queue: false)))
        #expect(pool.waiting == 0)
    }
}
