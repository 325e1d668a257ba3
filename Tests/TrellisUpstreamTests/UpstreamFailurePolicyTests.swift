import OpenAIWire
import Testing
import TrellisCore
import TrellisUpstream

/// An upstream failure as the dispatch policy sees it, and its timeout phase as clients read it.
@Suite struct UpstreamFailurePolicyTests {
    @Test("each failure kind maps to the policy's failure: no answer, an answered status, or the client gone")
    func dispatchFailure() {
        for kind in [UpstreamFailure.Kind.connect, .timeout, .protocolError] {
            #expect(UpstreamFailure(kind: kind, upstream: "u").dispatchFailure == .noAnswer)
        }
        #expect(UpstreamFailure(kind: .status, upstream: "u", status: 503).dispatchFailure == .status(503))
        #expect(UpstreamFailure(kind: .status, upstream: "u").dispatchFailure == .status(nil))
        #expect(UpstreamFailure(kind: .cancelled, upstream: "u").dispatchFailure == .cancelled)
    }

    @Test("isRetryable is the policy's rule: no answer, 5xx, 408 and 429 move on; other 4xx and cancellation do not")
    func retryable() {
        for kind in [UpstreamFailure.Kind.connect, .timeout, .protocolError] { #expect(UpstreamFailure(kind: kind, upstream: "u").isRetryable) }
        for status in [500, 502, 503, 504, 408, 429] { #expect(UpstreamFailure(kind: .status, upstream: "u", status: status).isRetryable) }
        for status in [400, 401, 403, 404, 413, 422] { #expect(!UpstreamFailure(kind: .status, upstream: "u", status: status).isRetryable) }
        #expect(!UpstreamFailure(kind: .cancelled, upstream: "u").isRetryable)
    }

    @Test(
        "a timeout's phase names it in the client's message exactly as before",
        arguments: [
            (UpstreamFailure.Phase.connect, "connect"), (.firstByte, "first byte"), (.idle, "idle"), (.total, "total"), (.probe, "probe"),
        ])
    func phaseText(phase: UpstreamFailure.Phase, text: String) {
        #expect(phase.rawValue == text && "\(phase)" == text)
        let error = UpstreamFailure(kind: .timeout, upstream: "u", phase: phase).clientError
        #expect(error.status == 504 && error.code == "upstream_timeout")
        #expect(error.message == "The model server did not answer in time (\(text) timeout).")
        #expect(UpstreamFailure(kind: .timeout, upstream: "u").clientError.message == "The model server did not answer in time.")
    }
}
