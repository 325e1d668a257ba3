import NIOCore
import NIOHTTP1
import Testing

@testable import TrellisUpstream

/// The lean client against a real server on 127.0.0.1: reuse, the ways a connection ends, and bodies.
@Suite("HTTP1Client", .timeLimit(.minutes(1)))
struct HTTP1ClientTests {
    @Test("sequential requests reuse one keep-alive connection")
    func keepAliveReuse() async throws {
        try await withHTTP1(reply: { request in .send(Canned.contentLength("{\"n\":\(request.index)}"), then: .keepOpen) }) { server, client, _ in
            for i in 0..<20 {
                let answer1 = try await client.postText(port: server.port)
                #expect(answer1 == "{\"n\":\(i)}")
            }
            #expect(server.counts.value.accepted == 1, "one connection for all 20 requests")
            #expect(server.counts.value.requests == 20)
            #expect(client.connections(host: "127.0.0.1", port: server.port).idle == 1)
        }
    }

    @Test("the request arrives as sent: method, path, Host, Content-Length and body")
    func requestAsSent() async throws {
        let seen = Watch<[String]>([])
        try await withHTTP1(reply: { request in
            let host = request.headers.first { $0.0.lowercased() == "host" }?.1 ?? "-"
            let length = request.headers.first { $0.0.lowercased() == "content-length" }?.1 ?? "-"
            seen.update { $0.append("\(request.method) \(request.path) \(host) \(length) \(String(decoding: request.body, as: UTF8.self))") }
            return .send(Canned.contentLength("{}"), then: .keepOpen)
        }) { server, client, _ in
            _ = try await client.postText(port: server.port)
            #expect(seen.value == ["POST /v1/chat/completions 127.0.0.1:\(server.port) 2 {}"])
        }
    }

    @Test("a connection the server closed between requests is dropped; the next request succeeds on a new one")
    func closedBetweenRequests() async throws {
        try await withHTTP1(reply: { _ in .send(Canned.contentLength("{}"), then: .close) }) { server, client, events in
            let answer2 = try await client.postText(port: server.port)
            #expect(answer2 == "{}")
            // The idle connection sees the server's close and leaves the pool.
            await events.until { $0.closed == 1 }
            #expect(client.connections(host: "127.0.0.1", port: server.port).open == 0)
            let answer3 = try await client.postText(port: server.port)
            #expect(answer3 == "{}")
            #expect(server.counts.value.accepted == 2)
        }
    }

    @Test(
        "a response that ends the connection is never reused, even when the server keeps it open",
        arguments: [
            Canned.contentLength("{}", extra: "Connection: close\r\n"),
            Canned.contentLength("{}", version: "HTTP/1.0"),
        ])
    func notReused(answer: [UInt8]) async throws {
        try await withHTTP1(reply: { _ in .send(answer, then: .keepOpen) }) { server, client, _ in
            let answer4 = try await client.postText(port: server.port)
            #expect(answer4 == "{}")
            // The client closed it itself: the server sees the close.
            await server.counts.until { $0.closed == 1 }
            let answer5 = try await client.postText(port: server.port)
            #expect(answer5 == "{}")
            #expect(server.counts.value.accepted == 2)
        }
    }

    @Test("a close-delimited body is read to the server's close, whole, and its connection not reused")
    func closeDelimited() async throws {
        let answer = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"until\":\"close\"}".utf8)
        try await withHTTP1(reply: { _ in .send(answer, then: .close) }) { server, client, events in
            let answer6 = try await client.postText(port: server.port)
            #expect(answer6 == "{\"until\":\"close\"}")
            await events.until { $0.closed == 1 }
            let answer7 = try await client.postText(port: server.port)
            #expect(answer7 == "{\"until\":\"close\"}")
            #expect(server.counts.value.accepted == 2)
        }
    }

    @Test("a chunked body arrives whole and in order, and its connection is reused")
    func chunked() async throws {
        let pieces = (0..<16).map { "data: {\"i\":\($0)}\n\n" }
        try await withHTTP1(reply: { _ in .send(Canned.chunked(pieces), then: .keepOpen) }) { server, client, _ in
            let answer8 = try await client.postText(port: server.port)
            #expect(answer8 == pieces.joined())
            let answer9 = try await client.postText(port: server.port)
            #expect(answer9 == pieces.joined())
            #expect(server.counts.value.accepted == 1)
        }
    }

    @Test("a 4 MiB body, far larger than one read, arrives byte for byte", arguments: [false, true])
    func largeBody(chunkedEncoding: Bool) async throws {
        let body = Canned.pattern(4 << 20)
        let answer: [UInt8]
        if chunkedEncoding {
            var text = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
            var offset = 0
            while offset < body.count {
                let size = min(100_000, body.count - offset)
                text += Array((String(size, radix: 16) + "\r\n").utf8) + body[offset..<offset + size] + Array("\r\n".utf8)
                offset += size
            }
            answer = text + Array("0\r\n\r\n".utf8)
        } else {
            answer = Canned.contentLength(body)
        }
        try await withHTTP1(reply: { _ in .send(answer, then: .keepOpen) }) { server, client, _ in
            let response = try await client.post(port: server.port)
            #expect(response.status == .ok)
            var received: [UInt8] = []
            received.reserveCapacity(body.count)
            var buffers = 0
            var iterator = response.body.makeAsyncIterator()
            while let buffer = try await iterator.read() {
                received += buffer.readableBytesView
                buffers += 1
            }
            #expect(received.count == body.count)
            #expect(received == body)
            #expect(buffers > 1, "read in more than one buffer")
            // The connection went back to the pool after the end and serves the next request.
            _ = try await client.post(port: server.port).body.collect(upTo: 8 << 20)
            #expect(server.counts.value.accepted == 1)
        }
    }

    @Test("an error status comes back as a response with its body (the caller decides)")
    func errorStatus() async throws {
        try await withHTTP1(reply: { _ in .send(Canned.contentLength(Array("{\"error\":{}}".utf8), status: "503 Service Unavailable"), then: .keepOpen) }) {
            server, client, _ in
            let response = try await client.post(port: server.port)
            #expect(response.status == .serviceUnavailable)
            let body = try await response.body.collect(upTo: 1024)
            #expect(body.map { String(buffer: $0) } == "{\"error\":{}}")
        }
    }
}
