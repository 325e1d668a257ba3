import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization
import Testing
import TrellisCore

@testable import TrellisUpstream

/// Calls along a pinned route connect to the checked addresses only, with the upstream's name kept for the
/// `Host` header; the name itself is never looked up.
@Suite struct UpstreamRouteTests {
    /// `upstream.invalid` cannot resolve (`.invalid` is reserved), so a call that reaches the server was
    /// connected by address, not by a lookup of the name.
    static let name = "upstream.invalid"

    func upstream(port: Int) -> Upstream {
        Upstream(
            id: "u", name: "pinned", baseURL: "http://\(Self.name):\(port)/v1", kind: .openai, labels: [.private], apiKeyEnv: nil,
            timeouts: UpstreamTimeouts(connectMs: 5_000, firstByteMs: 30_000, idleMs: 30_000, totalMs: 60_000), createdAt: Date())
    }

    func call(_ port: Int, _ route: UpstreamRoute) -> UpstreamCall {
        UpstreamCall(
            upstream: upstream(port: port), route: route, path: "/chat/completions", body: Array("{}".utf8), stream: false, requestID: "r", apiKey: nil)
    }

    func address(_ text: String) throws -> IPAddress { try #require(IPAddress(text)) }

    /// A server on 127.0.0.1 port 0 that records each request's `Host`.
    func withServer(_ body: (_ port: Int, _ hosts: @Sendable () -> [String]) async throws -> Void) async throws {
        let seen = Mutex<[String]>([])
        let router = Router()
        router.post("v1/chat/completions") { request, _ -> Response in
            seen.withLock { $0.append(request.head.authority ?? "") }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"ok":true}"#)))
        }
        router.get("v1/models") { request, _ -> Response in
            seen.withLock { $0.append(request.head.authority ?? "") }
            return Response(status: .ok)
        }
        try await withLocalServer(router, label: "route-test") { port in try await body(port, { seen.withLock { $0 } }) }
    }

    @Test(arguments: [true, false])
    func pinnedCallsConnectToTheAddressKeepTheNameAndShareOnePool(lean: Bool) async throws {
        try await withServer { port, hosts in
            try await withUpstreamClient(lean: lean) { client in
                let logger = Logger(label: "t")
                for _ in 0..<3 {
                    let response = try await client.send(call(port, .pinned([try address("127.0.0.1")])), logger: logger)
                    _ = try await response.collect(upTo: 1024, upstream: "pinned")
                }
                #expect(hosts() == Array(repeating: "\(Self.name):\(port)", count: 3), "the Host header names the upstream")
                if lean {
                    #expect(client.lean.connections(host: "127.0.0.1", port: port).open == 1, "one connection to the address, reused")
                } else {
                    #expect(client.pinnedClientsMade.load(ordering: .relaxed) == 1, "one client (and pool) for the name and address, reused")
                }
                // The probe goes the same way.
                let probed = await client.probe(
                    upstream: upstream(port: port), route: .pinned([try address("127.0.0.1")]), apiKey: nil, timeoutMs: 5_000)
                #expect(probed == .healthy)
                #expect(hosts().count == 4)

                // As named, the client would have to look the name up: it cannot, and nothing is sent.
                await #expect {
                    try await client.send(call(port, .asNamed), logger: logger)
                } throws: { error in
                    (error as? UpstreamFailure)?.kind == .connect
                }
                // A pinned route without addresses connects nowhere (never to a lookup of the name).
                await #expect {
                    try await client.send(call(port, .pinned([])), logger: logger)
                } throws: { error in
                    (error as? UpstreamFailure)?.kind == .connect
                }
                #expect(hosts().count == 4)
            }
        }
    }

    @Test(arguments: [true, false])
    func aRefusedAddressMovesOnToTheNextCheckedOne(lean: Bool) async throws {
        try await withServer { port, hosts in
            try await withUpstreamClient(lean: lean) { client in
                // Nothing listens on 127.0.0.3: the connection is refused, nothing was sent, the next address is tried.
                let route = UpstreamRoute.pinned([try address("127.0.0.3"), try address("127.0.0.1")])
                for _ in 0..<2 {
                    let response = try await client.send(call(port, route), logger: Logger(label: "t"))
                    #expect(response.status == 200)
                }
                #expect(hosts().count == 2)
            }
        }
    }

    @Test func onlyConnectionFailuresAreRetriedOnAnotherAddress() {
        #expect(UpstreamClient.isConnectFailure(IOError(errnoCode: ECONNREFUSED, reason: "connect")))
        #expect(UpstreamClient.isConnectFailure(HTTPClientError.connectTimeout))
        #expect(UpstreamClient.isConnectFailure(ChannelError.connectTimeout(.seconds(1))))
        #expect(!UpstreamClient.isConnectFailure(IOError(errnoCode: ECONNRESET, reason: "read")), "the request may have been sent")
        #expect(!UpstreamClient.isConnectFailure(HTTPClientError.remoteConnectionClosed))
        #expect(!UpstreamClient.isConnectFailure(HTTPClientError.readTimeout))
    }

    @Test func theCheckedHostIsTheOneTheClientConnectsFor() {
        #expect(UpstreamRoute.host(ofURL: "http://gpu1.models.internal:8000/v1") == "gpu1.models.internal")
        #expect(UpstreamRoute.host(ofURL: "https://[fd00::1]:8443/v1") == "fd00::1")
        #expect(UpstreamRoute.host(ofURL: "http://10.0.0.5/v1") == "10.0.0.5")
        #expect(UpstreamRoute.host(ofURL: "not a url") == nil)
        #expect(UpstreamRoute.overrideKey(forHost: "fd00::1") == "[fd00::1]")
        #expect(UpstreamRoute.overrideKey(forHost: "gpu1.models.internal") == "gpu1.models.internal")
    }
}

@Suite struct ProbeOutcomeTests {
    @Test func aServerThatAnswersIsUpUnlessItIsPacingOrFailing() {
        #expect(ProbeOutcome.healthy.serverIsUp && ProbeOutcome.healthy.failureReason == nil)
        for code in [400, 401, 404, 405] {
            #expect(ProbeOutcome.status(code).serverIsUp, "\(code): it answered")
            #expect(ProbeOutcome.status(code).failureReason == nil)
        }
        #expect(ProbeOutcome.status(429).failureReason == "status_429")
        #expect(ProbeOutcome.status(503).failureReason == "status_503")
        #expect(ProbeOutcome.status(302).failureReason == "status_302")
        #expect(ProbeOutcome.unreachable("connect").failureReason == "connect")
        #expect(!ProbeOutcome.unreachable("timeout").serverIsUp)
    }
}
