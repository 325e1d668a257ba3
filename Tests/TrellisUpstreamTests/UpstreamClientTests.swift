import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisUpstream

@Suite struct UpstreamFailureTests {
    func failure(_ status: Int, _ error: OpenAIError? = nil) -> UpstreamFailure {
        UpstreamFailure(kind: .status, upstream: "u", status: status, upstreamError: error)
    }

    @Test func retryableFailuresAreTheUpstreamsNotTheRequests() {
        #expect(UpstreamFailure(kind: .connect, upstream: "u").isRetryable)
        #expect(UpstreamFailure(kind: .timeout, upstream: "u").isRetryable)
        #expect(failure(500).isRetryable && failure(503).isRetryable && failure(429).isRetryable)
        #expect(!failure(400).isRetryable && !failure(404).isRetryable && !failure(422).isRetryable)
        #expect(!UpstreamFailure(kind: .cancelled, upstream: "u").isRetryable)
    }

    @Test func clientErrorsKeepRequestProblemsAndHideTheRest() {
        let context = failure(400, OpenAIError(message: "too long", type: "invalid_request_error", param: "messages", code: "context_length_exceeded"))
        #expect(context.clientError.status == 400)
        #expect(context.clientError.message == "too long")
        #expect(context.clientError.code == "context_length_exceeded")
        #expect(context.clientError.param == "messages")

        let crash = failure(500, OpenAIError(message: "Traceback /srv/app.py", type: "server_error"))
        #expect(crash.clientError.status == 502)
        #expect(!crash.clientError.message.contains("/srv"))

        let auth = failure(401, OpenAIError(message: "Incorrect API key provided: sk-12***", type: "x"))
        #expect(auth.clientError.status == 502 && !auth.clientError.message.contains("sk-"))

        var limited = failure(429)
        limited.retryAfter = "7"
        #expect(limited.clientError.status == 429)
        #expect(limited.clientError.headers.contains { $0.0 == "Retry-After" && $0.1 == "7" })

        #expect(UpstreamFailure(kind: .timeout, upstream: "u", phase: .firstByte).clientError.status == 504)
        #expect(UpstreamFailure(kind: .connect, upstream: "u").clientError.status == 502)
        #expect(failure(503).label == "status_503")
    }

    @Test func callURLJoinsTheBaseAndPath() {
        let upstream = Upstream(
            id: "u", name: "u", baseURL: "http://10.0.0.5:8000/v1/", kind: .vllm, labels: [.private], apiKeyEnv: nil, timeouts: .default,
            createdAt: Date())
        let call = UpstreamCall(upstream: upstream, route: .asNamed, path: "/chat/completions", body: [], stream: false, requestID: "r", apiKey: nil)
        #expect(call.url == "http://10.0.0.5:8000/v1/chat/completions")
    }

    @Test func classifyMapsClientErrorsWithoutKeepingTheirText() {
        #expect(UpstreamClient.classify(HTTPClientError.deadlineExceeded, upstream: "u", phase: .firstByte).kind == .timeout)
        #expect(UpstreamClient.classify(HTTPClientError.readTimeout, upstream: "u", phase: .total).phase == .idle)
        #expect(UpstreamClient.classify(HTTPClientError.connectTimeout, upstream: "u", phase: .total).phase == .connect)
        #expect(UpstreamClient.classify(CancellationError(), upstream: "u", phase: .total).kind == .cancelled)
        #expect(UpstreamClient.classify(HTTPClientError.remoteConnectionClosed, upstream: "u", phase: .total).kind == .protocolError)
        #expect(UpstreamClient.classify(ChannelError.ioOnClosedChannel, upstream: "u", phase: .total).kind == .connect)
    }
}

/// The client against small live servers on 127.0.0.1 port 0.
@Suite struct UpstreamClientLiveTests {
    func upstream(port: Int, firstByteMs: Int = 60_000) -> Upstream {
        Upstream(
            id: "u", name: "live", baseURL: "http://127.0.0.1:\(port)/v1", kind: .openai, labels: [.private], apiKeyEnv: nil,
            timeouts: UpstreamTimeouts(connectMs: 5_000, firstByteMs: firstByteMs, idleMs: 30_000, totalMs: 60_000), createdAt: Date())
    }

    @Test(arguments: [true, false])
    func successReturnsTheBodyAndErrorsCarryTheUpstreamsMessage(lean: Bool) async throws {
        let router = Router()
        router.post("v1/chat/completions") { request, _ -> Response in
            let auth = request.headers[.authorization] ?? ""
            if auth != "Bearer secret" {
                return Response(
                    status: .badRequest, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"object":"error","message":"bad things","type":"BadRequestError","code":400}"#)))
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"ok":true}"#)))
        }
        try await withLocalServer(router, label: "upstream-test") { port in
            try await withUpstreamClient(lean: lean) { client in
                let logger = Logger(label: "t")
                let ok = try await client.send(
                    UpstreamCall(
                        upstream: upstream(port: port), route: .asNamed, path: "/chat/completions", body: Array("{}".utf8), stream: false, requestID: "r1",
                        apiKey: "secret"),
                    logger: logger)
                let body = try await ok.collect(upTo: 1024, upstream: "live")
                #expect(String(buffer: body) == #"{"ok":true}"#)
                await #expect {
                    try await client.send(
                        UpstreamCall(
                            upstream: upstream(port: port), route: .asNamed, path: "/chat/completions", body: [], stream: false, requestID: "r2", apiKey: nil),
                        logger: logger)
                } throws: { error in
                    guard let f = error as? UpstreamFailure else { return false }
                    return f.kind == .status && f.status == 400 && f.upstreamError?.message == "bad things" && f.upstreamError?.code == "400"
                }
            }
        }
    }

    @Test(arguments: [true, false])
    func firstByteTimeoutAndRefusedConnectionsFailFast(lean: Bool) async throws {
        let router = Router()
        router.post("v1/chat/completions") { _, _ -> Response in
            try await Task.sleep(for: .seconds(30))
            return Response(status: .ok)
        }
        try await withLocalServer(router, label: "upstream-test") { port in
            try await withUpstreamClient(lean: lean) { client in
                let logger = Logger(label: "t")
                let started = ContinuousClock.now
                await #expect {
                    try await client.send(
                        UpstreamCall(
                            upstream: upstream(port: port, firstByteMs: 200), route: .asNamed, path: "/chat/completions", body: [], stream: false,
                            requestID: "r", apiKey: nil),
                        logger: logger)
                } throws: { error in
                    (error as? UpstreamFailure)?.kind == .timeout
                }
                #expect(ContinuousClock.now - started < .seconds(25), "the first-byte deadline ended the wait, not the server (30 s)")

                // Port 9 (discard) is closed on the test machine: refused at once, no retry loop.
                let refusedStart = ContinuousClock.now
                await #expect {
                    try await client.send(
                        UpstreamCall(
                            upstream: upstream(port: 9), route: .asNamed, path: "/chat/completions", body: [], stream: false, requestID: "r", apiKey: nil),
                        logger: logger)
                } throws: { error in
                    (error as? UpstreamFailure)?.kind == .connect
                }
                // A retry loop would go on until the minute-long first-byte deadline.
                #expect(ContinuousClock.now - refusedStart < .seconds(30))
            }
        }
    }
}
