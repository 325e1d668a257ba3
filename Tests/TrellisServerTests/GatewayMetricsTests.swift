import Testing

@testable import TrellisServer

/// What a model request adds to the Prometheus exposition, through the per-series cache.
@Suite struct GatewayMetricsTests {
    /// The exposition's sample lines that begin with `prefix`, value by line.
    static func samples(_ metrics: GatewayMetrics, _ prefix: String) -> [String: String] {
        let text = String(decoding: metrics.render(), as: UTF8.self)
        var found: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
            guard let space = line.lastIndex(of: " ") else { continue }
            found[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        return found
    }

    @Test("requests by status class, tokens by kind, durations, and time to first token only when measured")
    func modelRequests() {
        let metrics = GatewayMetrics()
        metrics.modelRequest(tenant: "acme", model: "m", version: 2, status: 200, seconds: 0.003, ttft: nil, promptTokens: 5, completionTokens: 7)
        metrics.modelRequest(tenant: "acme", model: "m", version: 2, status: 201, seconds: 0.2, ttft: 0.002, promptTokens: 1, completionTokens: 0)
        metrics.modelRequest(tenant: "acme", model: "m", version: 2, status: 502, seconds: 0.01, ttft: nil, promptTokens: 0, completionTokens: 0)
        metrics.modelRequest(tenant: "beta", model: "m", version: nil, status: 429, seconds: 0.001, ttft: nil, promptTokens: 0, completionTokens: 0)

        let requests = Self.samples(metrics, "trellis_model_requests_total{")
        #expect(requests.count == 3)
        #expect(requests.first { $0.key.contains(#"tenant="acme""#) && $0.key.contains(#"status="2xx""#) }?.value == "2")
        #expect(requests.first { $0.key.contains(#"tenant="acme""#) && $0.key.contains(#"status="502""#) }?.value == "1")
        #expect(requests.first { $0.key.contains(#"tenant="beta""#) && $0.key.contains(#"version="none""#) && $0.key.contains(#"status="429""#) }?.value == "1")

        let tokens = Self.samples(metrics, "trellis_model_tokens_total{")
        #expect(tokens.count == 2, "no series for a kind that never had a token, nor for beta")
        #expect(tokens.first { $0.key.contains(#"kind="prompt""#) && $0.key.contains(#"version="2""#) }?.value == "6")
        #expect(tokens.first { $0.key.contains(#"kind="completion""#) }?.value == "7")

        let durations = Self.samples(metrics, "trellis_model_request_duration_seconds_count{")
        #expect(durations.first { $0.key.contains(#"tenant="acme""#) }?.value == "3")
        #expect(durations.first { $0.key.contains(#"tenant="beta""#) }?.value == "1")
        let fast = Self.samples(metrics, "trellis_model_request_duration_seconds_bucket{")
        #expect(fast.first { $0.key.contains(#"tenant="acme""#) && $0.key.contains(#"le="0.005""#) }?.value == "1")

        let ttft = Self.samples(metrics, "trellis_model_time_to_first_token_seconds_count{")
        #expect(ttft.count == 1)
        #expect(ttft.first?.key.contains(#"tenant="acme""#) == true && ttft.first?.value == "1")
    }
}
