import Foundation
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

/// The evaluation guard: with `evaluation.guard_set`, a version gets more than the guarded share of traffic only
/// after a run on that set scored it well enough; without the setting, traffic changes as before.
@Suite struct EvaluationGuardTests {
    static func guarded(_ config: inout TrellisConfig) {
        config.evaluationGuardSet = "golden"
        config.evaluationGuardMaxShare = 10
        config.evaluationGuardMinScore = 0.8
    }

    @Test func aVersionNeedsAPassingRunBeforeItGetsMoreThanTheGuardedShare() async throws {
        try await TestGateway.withStandardSetup(configure: Self.guarded) { gw, _, _ in
            let manage = try await EvaluationTests.setUp(gw)
            func split(_ weights: JSONValue) async throws -> TestGateway.Reply {
                try await gw.request(.PUT, "/admin/v1/models/assistant/traffic", key: manage, json: weights)
            }
            // Version 3 answers like version 1; version 1 is in service (all the traffic) and keeps its place.
            let v3 = try await gw.admin(.POST, "/models/assistant/versions?tenant=acme", ["spec": ["upstream": "mock", "model": "echo"]])
            #expect(v3.status == 201)
            let before = try await split(["1": 50, "3": 50])
            #expect(before.status == 409 && before.errorCode == "evaluation_required" && before.json["error"]?["param"] == "3", "\(before.text)")
            #expect(before.json["error"]?["message"]?.stringValue?.contains("golden") == true)
            #expect(try await split(["1": 95, "3": 5]).status == 200, "5% is within the guarded share")
            let items: JSONValue = [["input": "a", "expected": "echo:a"], ["input": "b", "expected": "echo:b"]]
            // A tenant's own set by the guard's name does not count: only the operator's shared set does.
            #expect(try await gw.request(.POST, "/admin/v1/eval-sets", key: manage, json: ["name": "golden", "items": [["input": "a"]]]).status == 201)
            let own = try await gw.request(
                .POST, "/admin/v1/eval-runs", key: manage, json: ["set": "golden", "models": ["assistant@3"], "scorers": [["type": "regex", "pattern": "."]]])
            _ = try await EvaluationTests.waitForEnd(gw, try #require(own.json["id"]?.stringValue), key: manage)
            #expect(try await split(["1": 50, "3": 50]).status == 409, "a pass on the tenant's own set")
            #expect(try await gw.admin(.POST, "/eval-sets", ["name": "golden", "items": items]).status == 201)
            let run = try await gw.request(
                .POST, "/admin/v1/eval-runs", key: manage,
                json: ["set": "golden", "shared": true, "models": ["assistant@2", "assistant@3"], "scorers": [["type": "contains"]]])
            _ = try await EvaluationTests.waitForEnd(gw, try #require(run.json["id"]?.stringValue), key: manage)
            #expect(try await split(["1": 50, "3": 50]).status == 200, "v3 passed")
            let failing = try await split(["3": 50, "2": 50])
            #expect(failing.status == 409 && failing.json["error"]?["param"] == "2", "v2 scored 0")
            #expect(try await split(["1": 100]).status == 200, "a rollback to a version in service is never held up")
            // A run on another set does not count.
            #expect(try await gw.request(.POST, "/admin/v1/eval-sets", key: manage, json: ["name": "other", "items": items]).status == 201)
            let elsewhere = try await gw.request(
                .POST, "/admin/v1/eval-runs", key: manage, json: ["set": "other", "models": ["assistant@2"], "scorers": [["type": "exact"]]])
            _ = try await EvaluationTests.waitForEnd(gw, try #require(elsewhere.json["id"]?.stringValue), key: manage)
            #expect(try await split(["2": 1]).status == 409)
        }
    }

    @Test func withoutTheSettingTrafficChangesAsBefore() async throws {
        try await TestGateway.withStandardSetup { gw, _, _ in
            let manage = try await EvaluationTests.setUp(gw)
            let reply = try await gw.request(.PUT, "/admin/v1/models/assistant/traffic", key: manage, json: ["1": 0, "2": 100])
            #expect(reply.status == 200, "\(reply.text)")
        }
    }
}
