import Foundation
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

/// The 2-3-1 overview against what was sent: requests and users per day and model, the share of a router's
/// requests that smaller children answered with the cost saved, feedback and correction rates per version, and
/// the latest evaluation score per version; each tenant sees its own.
@Suite struct OverviewTests {
    @Test func theOverviewAddsUpWhatWasSentRatedAndEvaluated() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await RouterTests.setUp(gw, upstream)
            var ids: [String] = []
            for (i, text) in ["hi", "hello", "hey", String(repeating: "a long question about the policy ", count: 20)].enumerated() {
                let reply = try await gw.request(
                    .POST, "/v1/chat/completions", key: key,
                    json: ["model": "assistant", "user": .string("user-\(i % 2)"), "messages": [["role": "user", "content": .string(text)]]])
                #expect(reply.status == 200)
                ids.append(try #require(reply.headers.first(name: "x-request-id")))
            }
            await gw.flushUsage()
            for (id, rating, correction) in [(ids[0], 1, nil), (ids[1], -1, "Hello there."), (ids[3], -1, nil)] as [(String, Int, String?)] {
                var body: JSONObject = ["request_id": .string(id), "rating": .int(rating)]
                if let correction { body["correction"] = .string(correction) }
                #expect(try await gw.request(.POST, "/v1/feedback", key: key, json: .object(body)).status == 201)
            }
            let manage = try await gw.issueKey(tenant: "acme", ["scopes": ["manage", "inference"]]).key
            #expect(
                try await gw.request(
                    .POST, "/admin/v1/eval-sets", key: manage, json: ["name": "golden", "items": [["input": "q", "expected": "echo:q"]]]
                ).status == 201)
            let run = try await gw.request(
                .POST, "/admin/v1/eval-runs", key: manage, json: ["set": "golden", "models": ["small@1"], "scorers": [["type": "exact"]]])
            _ = try await EvaluationTests.waitForEnd(gw, try #require(run.json["id"]?.stringValue), key: manage)
            await gw.flushUsage()

            let overview = try await gw.request(.GET, "/admin/v1/usage/overview", key: manage)
            #expect(overview.status == 200, "\(overview.text)")
            let o = overview.json
            let usage = o["usage"]?.arrayValue ?? []
            let assistant = try #require(usage.first { $0["model"] == "assistant" })
            #expect(assistant["requests"] == 4 && assistant["users"] == 2)
            let efficiency = try #require(o["efficiency"]?.objectValue)
            #expect(efficiency["router_requests"] == 4 && efficiency["small_model_requests"] == 3, "\(overview.text)")
            #expect(efficiency["small_model_share"]?.numberValue?.doubleValue == 0.75)
            #expect((efficiency["cost_saved"]?.numberValue?.doubleValue ?? 0) > 0)
            #expect(efficiency["routers"]?.arrayValue?.first?["default"] == "large")
            let quality = try #require(o["quality"]?.arrayValue?.first { $0["model"] == "assistant" && $0["version"] == 1 })
            #expect(quality["requests"] == 4 && quality["rated"] == 3 && quality["positive"] == 1 && quality["negative"] == 2)
            #expect(quality["corrections"] == 1 && quality["correction_rate"]?.numberValue?.doubleValue == 0.25)
            let evaluation = try #require(o["evaluation"]?.arrayValue?.first)
            #expect(evaluation["model"] == "small" && evaluation["version"] == 1 && evaluation["score"] == 1 && evaluation["set"] == "golden")

            // Another tenant sees nothing of it; a bad period is a 400 naming the field.
            try await gw.createTenant("globex")
            let theirs = try await gw.issueKey(tenant: "globex", ["scopes": ["usage"]]).key
            let empty = try await gw.request(.GET, "/admin/v1/usage/overview", key: theirs)
            #expect(empty.json["usage"]?.arrayValue?.isEmpty == true && empty.json["evaluation"]?.arrayValue?.isEmpty == true)
            #expect(empty.json["efficiency"]?["router_requests"] == 0)
            let long = try await gw.request(.GET, "/admin/v1/usage/overview?from=2026-01-01&to=2026-12-01", key: manage)
            #expect(long.status == 400 && long.json["error"]?["param"] == "from")
        }
    }
}
