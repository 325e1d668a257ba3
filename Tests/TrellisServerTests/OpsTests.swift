import Foundation
import OpenAIWire
import Testing

@testable import TrellisServer

@Suite struct OpsTests {
    @Test func healthReadinessAndMetrics() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            #expect(try await gw.request(.GET, "/healthz").status == 200)
            let ready = try await gw.request(.GET, "/readyz")
            #expect(ready.status == 200 && ready.json["status"]?.stringValue == "ready")
            _ = try await gw.request(
                .POST, "/v1/chat/completions", key: key, json: ["model": "echo", "messages": [["role": "user", "content": "x"]], "user": "u-123"])
            _ = try await gw.request(
                .POST, "/v1/chat/completions", key: key, json: ["model": "unknown-model-xyz", "messages": [["role": "user", "content": "x"]]])
            let metrics = try await gw.request(.GET, "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.headers.first(name: "content-type")?.hasPrefix("text/plain") == true)
            let text = metrics.text
            #expect(text.contains("trellis_model_requests_total{"))
            #expect(text.contains(#"model="echo""#) && text.contains(#"tenant="acme""#))
            #expect(text.contains("trellis_http_requests_total{"))
            #expect(text.contains(#"route="/v1/chat/completions""#))
            #expect(!text.contains("unknown-model-xyz"), "raw model names from requests never become labels")
            #expect(!text.contains("u-123"), "end users never become labels")
            #expect(!text.contains(key))
        }
    }
}
