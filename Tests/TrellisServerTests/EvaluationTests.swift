import Foundation
import OpenAIWire
import Testing
import TrellisCore
import TrellisStore

@testable import TrellisServer

/// Evaluation over the mock upstream: sets and their versions, runs that ask two versions and score them (contains,
/// exact, judge), the paired comparison, cancellation, resumption after a restart, sets from feedback, usage with
/// source `eval`, and tenant isolation.
@Suite struct EvaluationTests {
    /// Tenant `acme`'s model `assistant`: version 1 answers (echo), version 2 answers nothing (empty); a manage key.
    static func setUp(_ gw: TestGateway) async throws -> String {
        try await gw.createModel("assistant", tenant: "acme", spec: ["upstream": "mock", "model": "echo"])
        let v2 = try await gw.admin(.POST, "/models/assistant/versions?tenant=acme", ["spec": ["upstream": "mock", "model": "empty"]])
        try #require(v2.status == 201, "\(v2.text)")
        try await gw.createModel("grader", tenant: "acme", spec: ["upstream": "mock", "model": "judge"])
        return try await gw.issueKey(tenant: "acme", ["scopes": ["manage", "inference"]]).key
    }

    static let items: JSONValue = [
        ["input": "北京是中国的首都吗？", "expected": "echo:北京是中国的首都吗?"],
        ["input": "What is a deductible?", "expected": ["echo:What is a deductible", "deductible"]],
        ["messages": [["role": "system", "content": "Be brief."], ["role": "user", "content": "Claims"]], "expected": "ECHO：CLAIMS"],
        ["input": "Grace period", "metadata": ["topic": "premiums"]],
    ]

    /// Polls the run until it is no longer running (the background work has no other signal); fails after a minute.
    static func waitForEnd(_ gw: TestGateway, _ id: String, key: String) async throws -> JSONValue {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let reply = try await gw.request(.GET, "/admin/v1/eval-runs/\(id)", key: key)
            try #require(reply.status == 200, "\(reply.text)")
            if reply.json["status"] != "running" { return reply.json }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the run did not end within a minute")
        return .null
    }

    @Test func aRunScoresTwoVersionsAndComparesThem() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, _ in
            let manage = try await Self.setUp(gw)
            let created = try await gw.request(.POST, "/admin/v1/eval-sets", key: manage, json: ["name": "golden", "items": Self.items])
            #expect(created.status == 201 && created.json["version"] == 1 && created.json["items"] == 4, "\(created.text)")
            let started = try await gw.request(
                .POST, "/admin/v1/eval-runs", key: manage,
                json: [
                    "set": "golden", "models": ["assistant@1", "assistant@2"],
                    "scorers": [["type": "contains"], ["type": "judge", "model": "grader", "rubric": "Is it the echo?"]], "concurrency": 3,
                ])
            #expect(started.status == 202 && started.json["status"] == "running", "\(started.text)")
            #expect(started.json["progress"]?["total"] == 8)
            let id = try #require(started.json["id"]?.stringValue)
            let run = try await Self.waitForEnd(gw, id, key: manage)
            #expect(run["status"] == "done" && run["progress"]?["done"] == 8, "\(run)")
            let results = run["results"]?.arrayValue ?? []
            let v1 = try #require(results.first { $0["version"] == 1 })
            let v2 = try #require(results.first { $0["version"] == 2 })
            // v1: three items contain their expected echo (Chinese punctuation and case normalised), the fourth has
            // no expected answer and fails contains; the judge gives 0.9 to each echo.
            #expect(v1["passed"] == 3 && v1["failed"] == 1 && v1["errors"] == 0, "\(v1)")
            #expect(v2["passed"] == 0 && v2["failed"] == 4)
            let s1 = try #require(v1["score"]?.numberValue?.doubleValue)
            let s2 = try #require(v2["score"]?.numberValue?.doubleValue)
            #expect(abs(s1 - (3 * (1 + 0.9) / 2 + (0 + 0.9) / 2) / 4) < 1e-3 && abs(s2 - 0.05) < 1e-3, "\(s1) \(s2)")
            #expect(v1["tokens"]?.numberValue?.intValue ?? 0 > 0)
            let comparison = try #require(run["comparison"]?.objectValue)
            #expect(comparison["a"] == "assistant@1" && comparison["b"] == "assistant@2")
            #expect(comparison["worse"] == 4 && comparison["better"] == 0 && comparison["n"] == 4)
            #expect((comparison["ci_high"]?.numberValue?.doubleValue ?? 0) < 0, "v2 is worse with confidence")

            let items = try await gw.request(.GET, "/admin/v1/eval-runs/\(id)/items?model=assistant@1", key: manage)
            let rows = items.json["data"]?.arrayValue ?? []
            #expect(rows.count == 4)
            let first = try #require(rows.first { $0["item"] == 0 })
            #expect(first["answer"] == "echo:北京是中国的首都吗？" && first["passed"] == true)
            #expect(first["scores"]?.arrayValue?.compactMap { $0["scorer"]?.stringValue } == ["contains", "judge"])
            #expect(first["scores"]?.arrayValue?.last?["reason"]?.stringValue?.contains("matches") == true)
            let failed = try await gw.request(.GET, "/admin/v1/eval-runs/\(id)/items?failed=true", key: manage)
            #expect(failed.json["data"]?.arrayValue?.count == 5)

            // Every call went through the flow: usage rows with source eval, answers and judge calls.
            await gw.flushUsage()
            let usage = try await gw.admin(.GET, "/usage?group_by=source")
            let eval = usage.json["data"]?.arrayValue?.first { $0["source"] == "eval" }
            #expect(eval?["requests"]?.numberValue?.intValue == 16, "8 answers and 8 judge calls: \(usage.text)")
            #expect(upstream.calls("judge") == 8)
            // The 8 pairs are one batch: every answer was asked before the judge's first call.
            let asked = upstream.requests.filter { $0.path.hasSuffix("/chat/completions") }.compactMap { $0.body["model"]?.stringValue }
            #expect(asked.count == 16 && asked.prefix(8).allSatisfy { $0 != "judge" } && asked.suffix(8).allSatisfy { $0 == "judge" }, "\(asked)")

            let list = try await gw.request(.GET, "/admin/v1/eval-runs", key: manage)
            #expect(list.json["data"]?.arrayValue?.first?["id"]?.stringValue == id)
            let ended = try await gw.request(.DELETE, "/admin/v1/eval-runs/\(id)", key: manage)
            #expect(ended.status == 409, "an ended run cannot be cancelled")
        }
    }

    @Test func aRunGoesInBatchesOfAnswersThenGrades() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, _ in
            let manage = try await Self.setUp(gw)
            let items = JSONValue.array((0..<10).map { ["input": .string("q\($0)"), "expected": .string("echo:q\($0)")] })
            let created = try await gw.request(.POST, "/admin/v1/eval-sets", key: manage, json: ["name": "ten", "items": items])
            try #require(created.status == 201, "\(created.text)")
            let started = try await gw.request(
                .POST, "/admin/v1/eval-runs", key: manage,
                json: ["set": "ten", "models": ["assistant@1"], "scorers": [["type": "judge", "model": "grader"]], "concurrency": 1])
            let id = try #require(started.json["id"]?.stringValue, "\(started.text)")
            let run = try await Self.waitForEnd(gw, id, key: manage)
            #expect(run["status"] == "done" && run["progress"]?["done"] == 10, "\(run)")
            // Batches of 8 at concurrency 1: 8 answers, their 8 grades, then the last 2 answers and their grades.
            let asked = upstream.requests.filter { $0.path.hasSuffix("/chat/completions") }.compactMap { $0.body["model"]?.stringValue }
            let expected = Array(repeating: "echo", count: 8) + Array(repeating: "judge", count: 8) + ["echo", "echo", "judge", "judge"]
            #expect(asked == expected)
            let rows = try await gw.request(.GET, "/admin/v1/eval-runs/\(id)/items", key: manage).json["data"]?.arrayValue ?? []
            #expect(rows.count == 10 && rows.allSatisfy { $0["passed"] == true && $0["scores"]?.arrayValue?.count == 1 }, "\(rows)")
        }
    }

    @Test func setsAreVersionedValidatedAndEachTenantsOwn() async throws {
        try await TestGateway.withStandardSetup { gw, _, _ in
            let manage = try await Self.setUp(gw)
            #expect(try await gw.request(.POST, "/admin/v1/eval-sets", key: manage, json: ["name": "golden", "items": Self.items]).status == 201)
            let again = try await gw.request(.POST, "/admin/v1/eval-sets", key: manage, json: ["name": "golden", "items": [["input": "x"]]])
            #expect(again.json["version"] == 2 && again.json["items"] == 1)
            let latest = try await gw.request(.GET, "/admin/v1/eval-sets/golden", key: manage)
            #expect(latest.json["version"] == 2 && latest.json["items"]?.arrayValue?.count == 1)
            let first = try await gw.request(.GET, "/admin/v1/eval-sets/golden?version=1", key: manage)
            #expect(first.json["items"]?.arrayValue?.count == 4 && first.json["tenant"] == "acme")
            // Bad items name the field.
            let cases: [(JSONValue, String)] = [
                ([["expected": "x"]], "items[0].input"),
                ([["input": "a", "messages": [["role": "user", "content": "b"]]]], "items[0].messages"),
                ([["input": "a", "expected": 3]], "items[0].expected"),
                ([["input": "a", "answer": "b"]], "items[0].answer"),
                ([], "items"),
            ]
            for (items, param) in cases {
                let bad = try await gw.request(.POST, "/admin/v1/eval-sets", key: manage, json: ["name": "bad", "items": items])
                #expect(bad.status == 400 && bad.json["error"]?["param"]?.stringValue == param, "\(bad.text)")
            }
            // A shared set (the operator's) is visible to every tenant; another tenant's is not.
            #expect(try await gw.admin(.POST, "/eval-sets", ["name": "common", "items": [["input": "hi", "expected": "hi"]]]).status == 201)
            try await gw.createTenant("globex")
            let theirs = try await gw.issueKey(tenant: "globex", ["scopes": ["manage", "inference"]]).key
            let seen = try await gw.request(.GET, "/admin/v1/eval-sets", key: theirs)
            #expect(seen.json["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["common"])
            #expect(try await gw.request(.GET, "/admin/v1/eval-sets/golden", key: theirs).status == 404)
            let all = try await gw.admin(.GET, "/eval-sets")
            #expect(Set(all.json["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []) == ["golden", "common"])
            // An inference-only key does not manage evaluations.
            let inference = try await gw.issueKey(tenant: "acme").key
            #expect(try await gw.request(.GET, "/admin/v1/eval-sets", key: inference).status == 403)
        }
    }

    @Test func anotherTenantsSetsRunsAndModelsAre404() async throws {
        try await TestGateway.withStandardSetup { gw, _, _ in
            let manage = try await Self.setUp(gw)
            #expect(try await gw.request(.POST, "/admin/v1/eval-sets", key: manage, json: ["name": "golden", "items": Self.items]).status == 201)
            let started = try await gw.request(
                .POST, "/admin/v1/eval-runs", key: manage, json: ["set": "golden", "models": ["assistant@1"], "scorers": [["type": "exact"]]])
            let id = try #require(started.json["id"]?.stringValue)
            try await gw.createTenant("globex")
            let theirs = try await gw.issueKey(tenant: "globex", ["scopes": ["manage"]]).key
            #expect(try await gw.request(.GET, "/admin/v1/eval-runs/\(id)", key: theirs).status == 404)
            #expect(try await gw.request(.GET, "/admin/v1/eval-runs/\(id)/items", key: theirs).status == 404)
            #expect(try await gw.request(.DELETE, "/admin/v1/eval-runs/\(id)", key: theirs).status == 404)
            #expect(try await gw.request(.GET, "/admin/v1/eval-runs", key: theirs).json["data"]?.arrayValue?.isEmpty == true)
            let foreignSet = try await gw.request(
                .POST, "/admin/v1/eval-runs", key: theirs, json: ["set": "golden", "models": ["echo"], "scorers": [["type": "exact"]]])
            #expect(foreignSet.status == 404, "\(foreignSet.text)")
            #expect(try await gw.request(.POST, "/admin/v1/eval-sets", key: theirs, json: ["name": "mine", "items": [["input": "q"]]]).status == 201)
            let foreignModel = try await gw.request(
                .POST, "/admin/v1/eval-runs", key: theirs, json: ["set": "mine", "models": ["assistant@1"], "scorers": [["type": "exact"]]])
            #expect(foreignModel.status == 404 && foreignModel.json["error"]?["param"] == "models[0]", "\(foreignModel.text)")
            let foreignJudge = try await gw.request(
                .POST, "/admin/v1/eval-runs", key: theirs,
                json: ["set": "mine", "models": ["echo"], "scorers": [["type": "judge", "model": "grader"]]])
            #expect(foreignJudge.status == 404 && foreignJudge.json["error"]?["param"] == "scorers[0].model")
            _ = try await Self.waitForEnd(gw, id, key: manage)
        }
    }

    @Test func aCancelledRunStopsItsCallsAndKeepsItsStatus() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, _ in
            let manage = try await Self.setUp(gw)
            try await gw.createModel("stuck", tenant: "acme", spec: ["upstream": "mock", "model": "hang"])
            #expect(try await gw.request(.POST, "/admin/v1/eval-sets", key: manage, json: ["name": "golden", "items": Self.items]).status == 201)
            let started = try await gw.request(
                .POST, "/admin/v1/eval-runs", key: manage,
                json: ["set": "golden", "models": ["stuck"], "scorers": [["type": "exact"]], "concurrency": 1])
            let id = try #require(started.json["id"]?.stringValue)
            #expect(started.json["models"]?.arrayValue == ["stuck@1"], "a bare name is pinned")
            #expect(await upstream.waitFor("hanging"))
            let cancelled = try await gw.request(.DELETE, "/admin/v1/eval-runs/\(id)", key: manage)
            #expect(cancelled.status == 200 && cancelled.json["status"] == "cancelled", "\(cancelled.text)")
            #expect(await upstream.waitFor("cancelled:hang"), "the upstream call in flight was cancelled")
            #expect(try await gw.request(.GET, "/admin/v1/eval-runs/\(id)", key: manage).json["status"] == "cancelled")
            #expect(upstream.calls("hang") == 1, "nothing more was asked")
        }
    }

    @Test func aRunLeftRunningIsResumedWithOnlyWhatIsLeft() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, _ in
            let manage = try await Self.setUp(gw)
            let created = try await gw.request(.POST, "/admin/v1/eval-sets", key: manage, json: ["name": "golden", "items": Self.items])
            let setID = try #require(created.json["id"]?.stringValue)
            let tenantID = try #require(gw.gateway.snapshot.tenant(named: "acme")?.id)
            // As a process that stopped would leave it: running, one result kept, its heartbeat old.
            let run = EvalRunRecord(
                id: "evr_left", tenantID: tenantID, keyID: EvalRunRecord.operatorKeyID, setID: setID, setName: "golden", setVersion: 1,
                models: ["assistant@1"], scorers: [["type": "contains"]], concurrency: 2, status: .running, total: 4,
                createdAt: Date(timeIntervalSinceNow: -3600), createdBy: "operator")
            try await gw.gateway.store.insertEvalRun(run, owner: "proc_gone")
            try await gw.gateway.store.saveEvalResult(
                EvalResultRecord(
                    runID: run.id, item: 2, model: "assistant@1", answer: "kept", error: nil, scores: [], passed: true, score: 1, latencyMs: 1,
                    promptTokens: 0, completionTokens: 0, costMicros: 0))
            let before = upstream.calls("echo")
            // The round a replica runs every 30 s, taking over runs whose heartbeat is old (here: any).
            await EvalService(gateway: gw.gateway, logger: gw.gateway.logger).claim(staleAfter: 0)
            // The run is this process's now: the process that left it can no longer say it works on it.
            #expect(try await gw.gateway.store.touchEvalRun(id: run.id, owner: "proc_gone", now: Date()) == false)
            let ended = try await Self.waitForEnd(gw, run.id, key: manage)
            #expect(ended["status"] == "done" && ended["progress"]?["done"] == 4, "\(ended)")
            #expect(upstream.calls("echo") - before == 3, "the kept result was not asked again")
            let kept = try await gw.request(.GET, "/admin/v1/eval-runs/\(run.id)/items", key: manage)
            #expect(kept.json["data"]?.arrayValue?.first { $0["item"] == 2 }?["answer"] == "kept")
        }
    }

    @Test func expertCorrectionsAndWellRatedAnswersBecomeItems() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            let manage = try await Self.setUp(gw)
            try await gw.createModel("captured", tenant: "acme", spec: ["upstream": "mock", "model": "echo", "capture": ["enabled": true]])
            func ask(_ text: String) async throws -> String {
                let reply = try await gw.request(
                    .POST, "/v1/chat/completions", key: key, json: ["model": "captured", "messages": [["role": "user", "content": .string(text)]]])
                return try #require(reply.headers.first(name: "x-request-id"))
            }
            let corrected = try await ask("免赔额是多少？")
            let liked = try await ask("What is covered?")
            let disliked = try await ask("Anything else?")
            await gw.flushUsage()
            for (id, rating, correction) in [(corrected, -1, "免赔额为500元。"), (liked, 1, nil), (disliked, -1, nil)] as [(String, Int, String?)] {
                var body: JSONObject = ["request_id": .string(id), "rating": .int(rating)]
                if let correction { body["correction"] = .string(correction) }
                #expect(try await gw.request(.POST, "/v1/feedback", key: key, json: .object(body)).status == 201)
            }
            await gw.flushUsage()
            let built = try await gw.request(.POST, "/admin/v1/eval-sets/flywheel/from-feedback", key: manage, json: ["model": "captured"])
            #expect(built.status == 201 && built.json["added"] == 2 && built.json["version"] == 1, "\(built.text)")
            let set = try await gw.request(.GET, "/admin/v1/eval-sets/flywheel", key: manage)
            let items = set.json["items"]?.arrayValue ?? []
            #expect(Set(items.compactMap { $0["expected"]?.stringValue }) == ["免赔额为500元。", "echo:What is covered?"])
            #expect(items.contains { $0["input"] == "免赔额是多少？" && $0["metadata"]?["corrected"] == true })
            let again = try await gw.request(.POST, "/admin/v1/eval-sets/flywheel/from-feedback", key: manage, json: ["model": "captured"])
            #expect(again.status == 400 && again.errorCode == "nothing_to_add", "each interaction once")
        }
    }
}
