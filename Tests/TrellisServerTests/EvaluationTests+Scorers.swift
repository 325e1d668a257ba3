import Foundation
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

extension EvaluationTests {
    /// Similarity through an embedding model of the catalog (the mock's bigram vectors), regex with the scorer's
    /// pattern, and the cost of the answers at the version's price.
    @Test func similarityRegexAndCostThroughTheFlow() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, _ in
            try await gw.createUpstream(
                "priced", baseURL: upstream.baseURL, extra: ["pricing": ["models": ["*": ["input_per_1k": 1, "output_per_1k": 2]]]])
            try await gw.createModel("assistant", tenant: "acme", spec: ["upstream": "priced", "model": "echo"])
            try await gw.createModel("embedder", tenant: "acme", spec: ["upstream": "mock", "model": "embed-small"])
            let manage = try await gw.issueKey(tenant: "acme", ["scopes": ["manage", "inference"]]).key
            let items: JSONValue = [
                ["input": "What is a deductible in travel insurance?", "expected": "echo:What is a deductible in travel insurance?"],
                ["input": "航班延误多久可以赔偿？", "expected": "完全无关的另一句话"],
            ]
            #expect(try await gw.request(.POST, "/admin/v1/eval-sets", key: manage, json: ["name": "sim", "items": items]).status == 201)
            let started = try await gw.request(
                .POST, "/admin/v1/eval-runs", key: manage,
                json: [
                    "set": "sim", "models": ["assistant@1"],
                    "scorers": [["type": "similarity", "model": "embedder", "threshold": 0.9], ["type": "regex", "pattern": "^echo:.+"]],
                ])
            #expect(started.status == 202, "\(started.text)")
            let run = try await Self.waitForEnd(gw, try #require(started.json["id"]?.stringValue), key: manage)
            let result = try #require(run["results"]?.arrayValue?.first)
            #expect(result["passed"] == 1 && result["failed"] == 1, "\(run)")
            // 7 prompt and 3 completion tokens per answer at 1 and 2 per 1k: 0.013 each, 0.026 for the two.
            #expect(abs((result["cost"]?.numberValue?.doubleValue ?? 0) - 0.026) < 1e-9, "\(result)")
            #expect(result["tokens"] == 20)
            let rows = try await gw.request(.GET, "/admin/v1/eval-runs/\(run["id"]?.stringValue ?? "")/items", key: manage).json["data"]?.arrayValue ?? []
            func scores(_ item: Int) -> [JSONValue] { rows.first { $0["item"]?.numberValue?.intValue == item }?["scores"]?.arrayValue ?? [] }
            let same = try #require(scores(0).first { $0["scorer"] == "similarity" })
            #expect((same["score"]?.numberValue?.doubleValue ?? 0) > 0.99 && same["passed"] == true)
            let unrelated = try #require(scores(1).first { $0["scorer"] == "similarity" })
            #expect((unrelated["score"]?.numberValue?.doubleValue ?? 1) < 0.9 && unrelated["passed"] == false)
            #expect(scores(1).first { $0["scorer"] == "regex" }?["passed"] == true, "the pattern holds for every echo")
            #expect(upstream.embeddingCalls.count == 2, "one call per item: the answer and the expected text together")
        }
    }
}
