import Foundation
import Logging
import NIOCore
import Testing
import TrellisCore

@testable import TrellisUpstream

/// `UpstreamBody`: a reader far behind holds the upstream back and still gets every byte; a reader that leaves
/// (cancelled, or dropping the body) cancels the request, which closes its connection.
@Suite struct UpstreamBodyTests {
    let tests = UpstreamBreakTests()

    func call(port: Int) -> UpstreamCall {
        UpstreamCall(
            upstream: tests.upstream(port: port), route: .asNamed, path: "/chat/completions", body: Array("{}".utf8), stream: true, requestID: "r",
            apiKey: nil)
    }

    /// Polls `condition` for at most a minute (a bound only a condition that never comes reaches).
    func eventually(_ condition: () async -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return await condition()
    }

    /// True when `channel` closed within a minute.
    func closes(_ channel: any Channel) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await channel.closeFuture.get()) != nil }
            group.addTask {
                try? await Task.sleep(for: .seconds(60))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    @Test("a reader more than the bound behind holds the upstream back, then gets every byte and the end")
    func aSlowReaderGetsEveryByte() async throws {
        // AsyncHTTPClient's delegate reads ahead up to the bound; the lean client reads only when asked.
        try await withBreakingServer(lean: false) { server, client in
            async let sent = client.send(call(port: server.port), logger: Logger(label: "t"))
            let child = try await server.accept()
            try await BreakingServer.send(BreakingServer.head, on: child)
            let response = try await sent
            let chunk = BreakingServer.chunk(String(repeating: "x", count: 64 * 1024))
            let count = 48  // 3 MiB, three times the bound
            let writer = Task {
                for _ in 0..<count { try await BreakingServer.send(chunk, on: child) }
                try await BreakingServer.send("0\r\n\r\n", on: child)
            }
            // The reader has read nothing: the body fills up to the bound, and the upstream is held back there.
            #expect(try await eventually { response.body.delegateStream?.buffered.bytes ?? 0 >= UpstreamBodyStream.bound })
            // Everything waiting is handed over as one buffer (a relay writes it once).
            var reader = response.timedBody(upstream: "breaking")
            let first = try #require(try await reader.next())
            #expect(first.readableBytes >= UpstreamBodyStream.bound)
            let (text, failed) = await tests.drain(response)
            try await writer.value
            #expect(!failed)
            #expect(first.readableBytes + text.utf8.count == count * (64 * 1024 + "data: \n\n".utf8.count))
        }
    }

    @Test("cancelling a waiting reader ends its read as cancelled and closes the upstream connection", arguments: [true, false])
    func cancellingTheReaderCancelsTheRequest(lean: Bool) async throws {
        try await withBreakingServer(lean: lean) { server, client in
            async let sent = client.send(call(port: server.port), logger: Logger(label: "t"))
            let child = try await server.accept()
            try await BreakingServer.send(BreakingServer.head + BreakingServer.chunk("first"), on: child)
            let response = try await sent
            let reader = Task { () -> UpstreamFailure? in
                var body = response.timedBody(upstream: "breaking")
                do {
                    while try await body.next() != nil {}
                } catch {
                    return error as? UpstreamFailure
                }
                return nil
            }
            #expect(try await eventually { await response.body.readerWaiting() })
            reader.cancel()
            #expect(await reader.value?.kind == .cancelled)
            #expect(await closes(child), "the request was cancelled, so its connection closed")
        }
    }

    @Test("a body let go of before its end, whose end does not come, closes the upstream connection", arguments: [true, false])
    func droppingTheBodyCancelsTheRequest(lean: Bool) async throws {
        try await withBreakingServer(lean: lean) { server, client in
            let call = call(port: server.port)
            let read = Task {
                let response = try await client.send(call, logger: Logger(label: "t"))
                var body = response.timedBody(upstream: "breaking")
                return try await body.next().map { String(buffer: $0) }
            }
            let child = try await server.accept()
            try await BreakingServer.send(BreakingServer.head + BreakingServer.chunk("first"), on: child)
            #expect(try await read.value == "data: first\n\n")
            #expect(await closes(child), "the body was let go of, so its request was cancelled")
        }
    }

    @Test("on the lean client, the chunks that arrived together are read as one buffer (a relay writes them once)")
    func chunksThatArrivedTogetherAreOneRead() async throws {
        try await withBreakingServer(lean: true) { server, client in
            let opened = try await openStream(call(port: server.port), server: server, client: client)
            var body = opened.body
            let child = opened.child
            // Three chunks in one write, then the end: whatever one socket read brought is one buffer.
            try await BreakingServer.send(["a", "b", "c"].map(BreakingServer.chunk).joined(), on: child)
            let together = try #require(try await body.next())
            #expect(String(buffer: together) == "data: a\n\ndata: b\n\ndata: c\n\n")
            try await BreakingServer.send("0\r\n\r\n", on: child)
            #expect(try await body.next() == nil)
        }
    }

    @Test("calls in turn share one kept-alive connection", arguments: [true, false])
    func callsReuseTheConnection(lean: Bool) async throws {
        try await withBreakingServer(lean: lean) { server, client in
            let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
            async let first = client.send(call(port: server.port), logger: Logger(label: "t"))
            let child = try await server.accept()
            try await BreakingServer.send(answer, on: child)
            #expect(try await String(buffer: first.collect(upTo: 100, upstream: "breaking")) == "{}")
            async let second = client.send(call(port: server.port), logger: Logger(label: "t"))
            await server.nextRequest()
            try await BreakingServer.send(answer, on: child)
            #expect(try await String(buffer: second.collect(upTo: 100, upstream: "breaking")) == "{}")
            #expect(server.accepted.value.load(ordering: .relaxed) == 1)
        }
    }
}
