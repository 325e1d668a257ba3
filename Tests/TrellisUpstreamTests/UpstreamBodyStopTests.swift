import Foundation
import Logging
import NIOCore
import Testing
import TrellisCore

@testable import TrellisUpstream

/// `UpstreamBody.stop`: how a stream's relay, which reads the body in the response's own task, is ended from
/// outside (its client left, or the shutdown drain closed) while its upstream says nothing.
@Suite struct UpstreamBodyStopTests {
    @Test("stop from another task: a read waiting on a silent upstream fails as cancelled, and the connection is closed", arguments: [true, false])
    func stopEndsAWaitingReadAndClosesTheConnection(lean: Bool) async throws {
        try await withBreakingServer(lean: lean) { server, client in
            let call = UpstreamCall(
                upstream: UpstreamBreakTests().upstream(port: server.port), route: .asNamed, path: "/chat/completions",
                body: Array("{}".utf8), stream: true, requestID: "r", apiKey: nil)
            let opened = try await openStream(call, server: server, client: client)
            var body = opened.body
            let (response, child) = (opened.response, opened.child)
            // The upstream sends nothing more: the reader waits, and another task stops the body.
            let stopper = Task {
                let deadline = ContinuousClock.now + .seconds(60)
                while await !response.body.readerWaiting() && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(5))
                }
                response.body.stop()
            }
            do {
                _ = try await body.next()
                Issue.record("a stopped body has no more buffers")
            } catch {
                #expect((error as? UpstreamFailure)?.kind == .cancelled)
            }
            try await stopper.value
            // The request was cancelled: its connection closes rather than staying open or going back to the pool.
            let deadline = ContinuousClock.now + .seconds(60)
            while child.isActive && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(!child.isActive, "the upstream connection was closed")
        }
    }
}
