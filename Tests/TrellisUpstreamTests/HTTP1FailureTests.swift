import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import TrellisUpstream

/// Timeouts in each phase, breaks, cancellation and the pool's limit, against a real server on 127.0.0.1. Each
/// test shortens only the timeout it is about and waits for what the server saw, never for time to pass.
@Suite("HTTP1Client failures", .timeLimit(.minutes(1)))
struct HTTP1FailureTests {
    static func ms(_ amount: Int64) -> TimeAmount { .milliseconds(amount) }

    /// The error `body` threw, or nil (an error of another type is recorded as an issue).
    static func error(_ body: () async throws -> Void) async -> HTTP1Error? {
        do {
            try await body()
            return nil
        } catch let error as HTTP1Error {
            return error
        } catch {
            Issue.record("not an HTTP1Error: \(error)")
            return nil
        }
    }

    /// Reads a body to its end or error: the bytes, then the error if one ended it.
    static func drain(_ response: HTTP1Response) async -> (bytes: [UInt8], error: HTTP1Error?) {
        var bytes: [UInt8] = []
        var iterator = response.body.makeAsyncIterator()
        do throws(HTTP1Error) {
            while let buffer = try await iterator.read() { bytes += buffer.readableBytesView }
            return (bytes, nil)
        } catch {
            return (bytes, error)
        }
    }

    /// A head announcing 100 bytes, and the first 10 of them.
    static let partial = Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".utf8)

    // MARK: Timeouts

    @Test("connect: a listener whose queue is full never answers")
    func connectTimeout() async throws {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 0)
            .serverChannelOption(.autoRead, value: false)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = listener.localAddress?.port ?? 0
        // Fill the accept queue (never accepted): connects beyond it get no answer at all.
        var fillers: [any Channel] = []
        for _ in 0..<16 {
            guard
                let filler = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connectTimeout(.seconds(1))
                    .connect(host: "127.0.0.1", port: port).get()
            else { break }
            fillers.append(filler)
        }
        let client = HTTP1Client(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        let failure = await Self.error {
            _ = try await client.post(port: port, timeouts: .generous.with { $0.connect = Self.ms(200) })
        }
        #expect(failure == .connectTimeout)
        #expect(client.connections(host: "127.0.0.1", port: port).open == 0, "the failed connect gave its room back")
        client.shutdown()
        for filler in fillers { try? await filler.close() }
        try? await listener.close()
    }

    @Test("pool wait: the only connection is busy; cancelling its request closes it")
    func poolTimeoutAndCancelBeforeHead() async throws {
        try await withHTTP1(settings: .init(maxConnectionsPerHost: 1), reply: { _ in .silent }) { server, client, events in
            let first = Task { await Self.error { _ = try await client.post(port: server.port) } }
            await server.counts.until { $0.requests == 1 }
            let second = await Self.error { _ = try await client.post(port: server.port, timeouts: .generous.with { $0.poolWait = Self.ms(100) }) }
            #expect(second == .poolTimeout)
            first.cancel()
            #expect(await first.value == .cancelled)
            // The cancelled request's connection is closed, never returned to the pool.
            await server.counts.until { $0.closed == 1 }
            await events.until { $0.closed == 1 }
            let counts = client.connections(host: "127.0.0.1", port: server.port)
            #expect(counts.open == 0 && counts.idle == 0 && counts.waiting == 0)
        }
    }

    @Test("head: a server that reads the request and answers nothing; the connection is closed")
    func headTimeout() async throws {
        try await withHTTP1(reply: { _ in .silent }) { server, client, _ in
            let failure = await Self.error { _ = try await client.post(port: server.port, timeouts: .generous.with { $0.head = Self.ms(200) }) }
            #expect(failure == .headTimeout)
            await server.counts.until { $0.closed == 1 }
        }
    }

    @Test("idle: the body stops arriving while the reader waits; the bytes before come first")
    func idleTimeout() async throws {
        try await withHTTP1(reply: { _ in .send(Self.partial, then: .hold) }) { server, client, _ in
            let response = try await client.post(port: server.port, timeouts: .generous.with { $0.idle = Self.ms(200) })
            let (bytes, failure) = await Self.drain(response)
            #expect(String(decoding: bytes, as: UTF8.self) == "0123456789")
            #expect(failure == .idleTimeout)
            await server.counts.until { $0.closed == 1 }
        }
    }

    @Test("total: the whole exchange outlasts its deadline, in the body or before the head", arguments: [true, false])
    func totalTimeout(headFirst: Bool) async throws {
        try await withHTTP1(reply: { _ in headFirst ? .send(Self.partial, then: .hold) : .silent }) { server, client, _ in
            let failure = await Self.error {
                let response = try await client.post(port: server.port, timeouts: .generous.with { $0.total = Self.ms(300) })
                if let error = await Self.drain(response).error { throw error }
            }
            #expect(failure == .totalTimeout)
            await server.counts.until { $0.closed == 1 }
        }
    }

    // MARK: Breaks and cancellation

    @Test("a connection reset or closed mid-body: the bytes already received, then the error", arguments: [true, false])
    func breakMidBody(reset: Bool) async throws {
        try await withHTTP1(reply: { _ in .send(Self.partial, then: .hold) }) { server, client, _ in
            let response = try await client.post(port: server.port)
            var iterator = response.body.makeAsyncIterator()
            var bytes: [UInt8] = []
            while bytes.count < 10, let buffer = try await iterator.read() { bytes += buffer.readableBytesView }
            #expect(String(decoding: bytes, as: UTF8.self) == "0123456789")
            server.endHeld(reset: reset)
            var failure: HTTP1Error?
            do throws(HTTP1Error) {
                while try await iterator.read() != nil {}
            } catch {
                failure = error
            }
            if reset {
                #expect(failure == .io(ECONNRESET) || failure == .connectionClosed)
            } else {
                #expect(failure == .connectionClosed)
            }
        }
    }

    @Test("cancelling a reader mid-body closes the connection; the next request uses a new one")
    func cancelWhileReading() async throws {
        try await withHTTP1(reply: { request in
            request.index == 0 ? .send(Self.partial, then: .hold) : .send(Canned.contentLength("{}"), then: .keepOpen)
        }) { server, client, events in
            let started = Watch(false)
            let reader = Task {
                await Self.error {
                    let response = try await client.post(port: server.port)
                    var iterator = response.body.makeAsyncIterator()
                    _ = try await iterator.read()
                    started.update { $0 = true }
                    while try await iterator.read() != nil {}
                }
            }
            await started.until { $0 }
            reader.cancel()
            #expect(await reader.value == .cancelled)
            await server.counts.until { $0.closed == 1 }
            await events.until { $0.closed == 1 }
            let answer1 = try await client.postText(port: server.port)
            #expect(answer1 == "{}")
            #expect(server.counts.value.accepted == 2)
        }
    }

    // A body let go of before its end: HTTP1AbandonTests.

    // MARK: The limit

    @Test("a connection idle in the pool past the idle timeout is closed")
    func idleConnectionClosed() async throws {
        try await withHTTP1(settings: .init(idleTimeout: Self.ms(100)), reply: { _ in .send(Canned.contentLength("{}"), then: .keepOpen) }) {
            server, client, events in
            let answer = try await client.postText(port: server.port)
            #expect(answer == "{}")
            await events.until { $0.closed == 1 }
            await server.counts.until { $0.closed == 1 }
            #expect(client.connections(host: "127.0.0.1", port: server.port).open == 0)
        }
    }

    @Test("a full queue of waiters refuses at once")
    func poolFull() async throws {
        try await withHTTP1(settings: .init(maxConnectionsPerHost: 1, maxWaitersPerHost: 0), reply: { _ in .silent }) { server, client, _ in
            let first = Task { await Self.error { _ = try await client.post(port: server.port) } }
            await server.counts.until { $0.requests == 1 }
            let second = await Self.error { _ = try await client.post(port: server.port) }
            #expect(second == .poolFull)
            first.cancel()
            #expect(await first.value == .cancelled)
        }
    }

    @Test("1,000 concurrent requests through a pool of 8: all answered, never more than 8 connections")
    func poolLimit() async throws {
        let settings = HTTP1Client.Settings(maxConnectionsPerHost: 8, maxWaitersPerHost: 2000)
        try await withHTTP1(settings: settings, reply: { request in .send(Canned.contentLength("{\"n\":\(request.index)}"), then: .keepOpen) }) {
            server, client, _ in
            let answers = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<1000 {
                    group.addTask { try await client.postText(port: server.port) }
                }
                var answers = Set<String>()
                for try await answer in group { answers.insert(answer) }
                return answers
            }
            #expect(answers.count == 1000, "every request answered, each by its own response")
            #expect(server.counts.value.requests == 1000)
            #expect(server.counts.value.maxOpen <= 8)
            #expect(server.counts.value.accepted <= 8)
            #expect(client.connections(host: "127.0.0.1", port: server.port).open <= 8)
        }
    }

    // MARK: Mapping

    @Test("errors map to the failure kinds and phases UpstreamClient reports")
    func mapping() {
        let cases: [(HTTP1Error, UpstreamFailure.Kind, UpstreamFailure.Phase?)] = [
            (.connectTimeout, .timeout, .connect),
            (.poolTimeout, .timeout, .connect),
            (.headTimeout, .timeout, .firstByte),
            (.idleTimeout, .timeout, .idle),
            (.totalTimeout, .timeout, .total),
            (.connectionClosed, .protocolError, nil),
            (.invalidResponse, .protocolError, nil),
            (.cancelled, .cancelled, nil),
            (.connectFailed, .connect, nil),
            (.poolFull, .connect, nil),
            (.io(ECONNRESET), .connect, nil),
            (.shutdown, .connect, nil),
        ]
        for (error, kind, phase) in cases {
            let failure = error.upstreamFailure(upstream: "m")
            #expect(failure.kind == kind, "\(error)")
            #expect(failure.phase == phase, "\(error)")
            #expect(failure.upstream == "m")
        }
        #expect(HTTP1Error.headTimeout.upstreamFailure(upstream: "m").isRetryable)
        #expect(!HTTP1Error.cancelled.upstreamFailure(upstream: "m").isRetryable)
    }
}
