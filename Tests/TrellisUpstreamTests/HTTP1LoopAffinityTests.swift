import NIOCore
import NIOPosix
import Testing

@testable import TrellisUpstream

/// A request that runs on one of the client's event loops (the gateway handles each connection on its loop) takes
/// its upstream connection on that loop: an idle one there first, a new one made there, so the request and the
/// upstream's socket share a thread; calls through AsyncHTTPClient (HTTPS upstreams) take the client on that loop.
/// Run on a group of its own with two loops, whatever the machine's cores.
@Suite("HTTP1Client event loop affinity")
struct HTTP1LoopAffinityTests {
    /// Runs a task's jobs on one event loop, as the gateway's connections do.
    final class LoopExecutor: TaskExecutor {
        let loop: any EventLoop

        init(loop: any EventLoop) { self.loop = loop }

        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        }
    }

    /// A server answering `{}` to every request, and a client on a group of two loops; both stopped after `body`.
    func withTwoLoops(
        settings: HTTP1Client.Settings = .init(), _ body: (HTTP1TestServer, HTTP1Client, [any EventLoop]) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        let server = try await HTTP1TestServer(reply: { _ in .send(Canned.contentLength("{}"), then: .keepOpen) })
        let client = HTTP1Client(eventLoopGroup: group, settings: settings)
        let outcome: Result<Void, any Error>
        do {
            try await body(server, client, loops)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        client.shutdown()
        await server.stop()
        try await group.shutdownGracefully()
        try outcome.get()
    }

    /// Where the pool's idle connections live, the most recently used last.
    func idleLoops(_ client: HTTP1Client, _ server: HTTP1TestServer) throws -> [ObjectIdentifier] {
        try client.hostPool(host: "127.0.0.1", port: server.port).idleConnections.map { ObjectIdentifier($0.channel.eventLoop) }
    }

    /// A whole POST, as text, from a task whose jobs run on `loop`.
    func post(on loop: any EventLoop, _ client: HTTP1Client, _ server: HTTP1TestServer) async throws -> String {
        try await withTaskExecutorPreference(LoopExecutor(loop: loop)) {
            #expect(loop.inEventLoop)
            return try await client.postText(port: server.port)
        }
    }

    @Test("a request on one of the client's loops makes its connection on that loop, whichever loop is next")
    func madeOnTheCallersLoop() async throws {
        try await withTwoLoops { server, client, loops in
            for loop in [loops[1], loops[1], loops[0]] {
                let pool = try client.hostPool(host: "127.0.0.1", port: server.port)
                // Empty the pool so that each request makes its connection.
                for connection in pool.idleConnections { try await connection.channel.close() }
                await pollUntil { pool.counts.open == 0 }
                #expect(try await post(on: loop, client, server) == "{}")
                #expect(try idleLoops(client, server) == [ObjectIdentifier(loop)])
            }
            #expect(server.counts.value.accepted == 3)
        }
    }

    @Test("an idle connection on the caller's loop is taken before a more recent one on another loop")
    func idleOnTheCallersLoopFirst() async throws {
        try await withTwoLoops { server, client, loops in
            let pool = try client.hostPool(host: "127.0.0.1", port: server.port)
            // One connection made on each loop, the one on loop 1 released last (the most recent).
            var made: [HTTP1Connection] = []
            for loop in loops {
                let deadline = NIODeadline.now() + .seconds(30)
                guard case .success(.connect) = await pool.lease(request: UInt64(made.count + 1), on: loop, deadline: deadline, timeout: .poolTimeout),
                    case .success(let connection) = await pool.connect(on: loop, deadline: deadline, timeout: .connectTimeout)
                else {
                    Issue.record("no connection made")
                    return
                }
                #expect(connection.channel.eventLoop === loop)
                made.append(connection)
            }
            for connection in made { pool.release(connection) }
            #expect(try idleLoops(client, server) == loops.map { ObjectIdentifier($0) })
            // The server counts a connection when its own loop sets it up, which can come after the client's connect
            // has completed (loop 1's connection serves no request below); one that serves a request is counted
            // before it does. So the count is awaited here, and the last check sees any connection more.
            await pollUntil { server.counts.value.accepted == 2 }

            #expect(try await post(on: loops[0], client, server) == "{}")
            #expect(try idleLoops(client, server) == [ObjectIdentifier(loops[1]), ObjectIdentifier(loops[0])], "loop 0's connection was used")
            #expect(try await client.postText(port: server.port) == "{}")
            #expect(try idleLoops(client, server) == [ObjectIdentifier(loops[1]), ObjectIdentifier(loops[0])], "off the loops: the most recent")
            #expect(server.counts.value.accepted == 2, "no connection more")
        }
    }

    @Test("with no idle connection on its loop, a request makes one there rather than take another loop's")
    func madeRatherThanAnotherLoops() async throws {
        try await withTwoLoops { server, client, loops in
            let answers = [try await post(on: loops[1], client, server), try await post(on: loops[0], client, server)]
            #expect(answers == ["{}", "{}"])
            #expect(try idleLoops(client, server) == [ObjectIdentifier(loops[1]), ObjectIdentifier(loops[0])])
            #expect(server.counts.value.accepted == 2)
        }
    }

    @Test("at the limit, a request takes an idle connection on another loop rather than wait")
    func anotherLoopsAtTheLimit() async throws {
        try await withTwoLoops(settings: .init(maxConnectionsPerHost: 1)) { server, client, loops in
            let answers = [try await post(on: loops[1], client, server), try await post(on: loops[0], client, server)]
            #expect(answers == ["{}", "{}"])
            #expect(try idleLoops(client, server) == [ObjectIdentifier(loops[1])])
            #expect(server.counts.value.accepted == 1)
        }
    }

    @Test("AsyncHTTPClient's calls (HTTPS upstreams) go through the client on the caller's loop")
    func asyncHTTPClientOnTheCallersLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        let client = UpstreamClient(settings: .init(leanHTTP1: false), eventLoopGroup: group)
        for loop in [loops[1], loops[0], loops[1]] {
            let chosen = await withTaskExecutorPreference(LoopExecutor(loop: loop)) { client.http.eventLoopGroup }
            #expect(chosen === loop)
        }
        try await client.shutdown()
        try await group.shutdownGracefully()
    }
}
