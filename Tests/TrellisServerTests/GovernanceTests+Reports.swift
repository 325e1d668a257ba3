import AsyncHTTPClient
import Foundation
import NIOCore
import OpenAIWire
import Synchronization
import Testing
import TrellisCore
import TrellisStore

@testable import TrellisServer

/// Governance after the fact: the usage report against what was sent, who may read it, cost from pricing,
/// feedback, capture for the flywheel and its exports, and the audit log.
extension GovernanceTests {
    @Test func usageReportNumbersEqualWhatWasSent() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            try await Self.setUpClaims(gw)
            try await Self.sendMix(gw, key: key)
            await gw.flushUsage()

            // By model. claims@2 serves "no-usage": its tokens are estimated ("echo:x" is 2 tokens).
            let byModel = try await gw.admin(.GET, "/usage?group_by=model")
            #expect(byModel.status == 200, "\(byModel.text)")
            #expect(Self.rows(byModel).count == 3)
            let echo = try #require(Self.row(byModel, "model", "echo"))
            #expect(echo["requests"] == 4 && echo["users"] == 3 && echo["errors"] == 0)
            #expect(echo["prompt_tokens"] == 28 && echo["completion_tokens"] == 17)
            #expect(echo["p50_ms"]?.numberValue != nil && echo["p95_ms"]?.numberValue != nil)
            #expect(echo["ttft_p50_ms"]?.numberValue != nil, "the stream has a time to first token")
            #expect((echo["p50_ms"]?.numberValue?.doubleValue ?? -1) <= (echo["p95_ms"]?.numberValue?.doubleValue ?? -2))
            let claims = try #require(Self.row(byModel, "model", "claims"))
            #expect(claims["requests"] == 3 && claims["users"] == 2 && claims["errors"] == 0)
            #expect(claims["prompt_tokens"] == 21 && claims["completion_tokens"] == 10)
            #expect(claims["ttft_p50_ms"] == .null, "no stream, no time to first token")
            let failed = try #require(Self.row(byModel, "model", "fail-500"))
            #expect(failed["requests"] == 1 && failed["errors"] == 1 && failed["users"] == 1)
            #expect(failed["prompt_tokens"] == 0 && failed["completion_tokens"] == 0)
            #expect(failed["p50_ms"] == .null, "latency percentiles are of answered requests")

            // By model and version.
            let byVersion = try await gw.admin(.GET, "/usage?group_by=model,+version&model=claims")  // + is a form space
            let versions = Self.rows(byVersion)
            #expect(versions.count == 2)
            #expect(versions.first { $0["version"] == 1 }?["requests"] == 2)
            #expect(versions.first { $0["version"] == 2 }?["requests"] == 1)
            #expect(versions.allSatisfy { $0["model"] == "claims" })

            // By end user.
            let byUser = try await gw.admin(.GET, "/usage?group_by=user")
            #expect(Self.rows(byUser).count == 4)
            let u1 = try #require(Self.row(byUser, "user", "u1"))
            #expect(u1["requests"] == 3 && u1["users"] == 1 && u1["prompt_tokens"] == 21 && u1["completion_tokens"] == 12)
            let u2 = try #require(Self.row(byUser, "user", "u2"))
            #expect(u2["requests"] == 2 && u2["errors"] == 1 && u2["prompt_tokens"] == 7 && u2["completion_tokens"] == 5)
            #expect(Self.row(byUser, "user", "u3")?["requests"] == 2)
            #expect(Self.row(byUser, "user", "u4")?["completion_tokens"] == 2)

            // By day: everything happened today.
            let byDay = try await gw.admin(.GET, "/usage?group_by=day")
            let days = Self.rows(byDay)
            #expect(days.count == 1)
            let today = UsageQuery.day(ms: Int64(Date().timeIntervalSince1970 * 1000))
            let day = try #require(days.first)
            #expect(day["day"]?.stringValue == today)
            #expect(day["requests"] == 8 && day["users"] == 4 && day["errors"] == 1)
            #expect(day["prompt_tokens"] == 49 && day["completion_tokens"] == 27)
            // No grouping: one total row, the same numbers.
            let total = try #require(Self.rows(try await gw.admin(.GET, "/usage")).first)
            #expect(total["requests"] == 8 && total["users"] == 4 && total["prompt_tokens"] == 49)
            // By key: one key sent everything.
            let byKey = Self.rows(try await gw.admin(.GET, "/usage?group_by=key"))
            #expect(byKey.count == 1 && byKey.first?["requests"] == 8)

            // A window that excludes today is empty; bad parameters are 400.
            #expect(Self.rows(try await gw.admin(.GET, "/usage?group_by=day&from=2020-01-01&to=2020-01-31")).isEmpty)
            #expect(try await gw.admin(.GET, "/usage?group_by=colour").status == 400)
            #expect(try await gw.admin(.GET, "/usage?from=yesterday").status == 400)
            #expect(try await gw.admin(.GET, "/usage?from=2026-02-01&to=2026-01-01").status == 400)
        }
    }

    @Test func aTenantUsageKeySeesOnlyItsOwnTenantAndTheOperatorSeesAll() async throws {
        try await TestGateway.withStandardSetup { gw, _, acme in
            try await gw.createTenant("beta")
            let beta = try await gw.issueKey(tenant: "beta").key
            for _ in 0..<2 { _ = try await Self.send(gw, key: acme, Self.chat("echo", user: "a", maxTokens: 5)) }
            for _ in 0..<3 { _ = try await Self.send(gw, key: beta, Self.chat("echo", user: "b", maxTokens: 5)) }
            await gw.flushUsage()
            let operatorView = try await gw.admin(.GET, "/usage?group_by=tenant")
            #expect(Self.rows(operatorView).count == 2)
            #expect(Self.row(operatorView, "tenant", "acme")?["requests"] == 2)
            #expect(Self.row(operatorView, "tenant", "beta")?["requests"] == 3)
            let onlyBeta = try await gw.admin(.GET, "/usage?tenant=beta&group_by=user")
            #expect(Self.rows(onlyBeta).compactMap { $0["user"]?.stringValue } == ["b"])

            let usageKey = try await gw.issueKey(tenant: "acme", ["scopes": ["usage"]]).key
            let own = try await gw.request(.GET, "/admin/v1/usage?group_by=tenant", key: usageKey)
            #expect(own.status == 200, "\(own.text)")
            #expect(Self.rows(own).count == 1)
            #expect(Self.rows(own).first?["tenant"] == "acme" && Self.rows(own).first?["requests"] == 2)
            let users = try await gw.request(.GET, "/admin/v1/usage?group_by=user", key: usageKey)
            #expect(Self.rows(users).compactMap { $0["user"]?.stringValue } == ["a"], "no other tenant's end users")
            // Asking for another tenant answers as if it did not exist.
            let foreign = try await gw.request(.GET, "/admin/v1/usage?tenant=beta", key: usageKey)
            let missing = try await gw.request(.GET, "/admin/v1/usage?tenant=nope", key: usageKey)
            #expect(foreign.status == 404 && missing.status == 404)
            // An inference-only key may not read usage; no key at all is 401.
            #expect(try await gw.request(.GET, "/admin/v1/usage", key: acme).status == 403)
            #expect(try await gw.request(.GET, "/admin/v1/usage").status == 401)
        }
    }

    @Test func costComesFromTheUpstreamsPricing() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await gw.createUpstream(
                "priced", baseURL: upstream.baseURL,
                extra: ["pricing": ["models": ["echo": ["input_per_1k": 1, "output_per_1k": 2], "*": ["input_per_1k": 0.5, "output_per_1k": 0.5]]]])
            try await gw.createUpstream("gpu", baseURL: upstream.baseURL, extra: ["pricing": ["gpu_hour": 3.6, "tokens_per_gpu_hour": 36_000]])
            #expect(try await gw.admin(.GET, "/upstreams/priced").json["pricing"]?["models"]?["echo"]?["input_per_1k"] == 1)
            try await gw.createModel("priced-echo", spec: ["upstream": "priced", "model": "echo"])
            try await gw.createModel("priced-other", spec: ["upstream": "priced", "model": "fail-400"])
            try await gw.createModel("gpu-echo", spec: ["upstream": "gpu", "model": "echo"])
            // 7 in, 5 out at 1 and 2 per 1k: 0.017 each; twice.
            for _ in 0..<2 { #expect(try await Self.send(gw, key: key, Self.chat("priced-echo", maxTokens: 5)).status == 200) }
            // 7 + 3 tokens of a 3.60 GPU hour serving 36,000: 0.001.
            #expect(try await Self.send(gw, key: key, Self.chat("gpu-echo", maxTokens: 3)).status == 200)
            // Unpriced upstream: no cost. A failed request used no tokens: no cost.
            #expect(try await Self.send(gw, key: key, Self.chat("echo", maxTokens: 5)).status == 200)
            #expect(try await Self.send(gw, key: key, Self.chat("priced-other", maxTokens: 5)).status == 400)
            await gw.flushUsage()
            let report = try await gw.admin(.GET, "/usage?group_by=model")
            func cost(_ model: String) -> Double? { Self.row(report, "model", .string(model))?["cost"]?.numberValue?.doubleValue }
            #expect(abs((cost("priced-echo") ?? -1) - 0.034) < 1e-9)
            #expect(abs((cost("gpu-echo") ?? -1) - 0.001) < 1e-9)
            #expect(cost("echo") == 0)
            #expect(cost("priced-other") == 0)
            let total = try #require(Self.rows(try await gw.admin(.GET, "/usage")).first)
            #expect(abs((total["cost"]?.numberValue?.doubleValue ?? -1) - 0.035) < 1e-9)
            // Bad pricing is refused when the upstream is registered.
            let bad = try await gw.admin(
                .POST, "/upstreams", ["name": "bad", "base_url": .string(upstream.baseURL), "kind": "openai", "pricing": ["gpu_hour": 1]])
            #expect(bad.status == 400)
        }
    }

    // MARK: Feedback

    @Test func feedbackOnOwnRequestsCountsInTheReportAndForeignOrUnknownIdsAre404() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            try await gw.createTenant("beta")
            let beta = try await gw.issueKey(tenant: "beta").key
            let good = try await Self.send(gw, key: key, Self.chat("echo", user: "u1"))
            let bad = try await Self.send(gw, key: key, Self.chat("echo", user: "u2"))
            let theirs = try await Self.send(gw, key: beta, Self.chat("echo"))
            // Rated straight away: the usage rows may still be in the recorder's buffer.
            let rated = try await gw.request(
                .POST, "/v1/feedback", key: key, json: ["request_id": .string(Self.requestID(good)), "rating": 1, "comment": "spot on"])
            #expect(rated.status == 201, "\(rated.text)")
            #expect(rated.json["object"] == "feedback" && rated.json["rating"] == 1 && rated.json["model"] == "echo")
            #expect(rated.json["request_id"]?.stringValue == Self.requestID(good))
            let down = try await gw.request(
                .POST, "/v1/feedback", key: key, json: ["request_id": .string(Self.requestID(bad)), "rating": -1, "correction": "4"])
            #expect(down.status == 201 && down.json["correction"] == "4")

            var report = try await gw.admin(.GET, "/usage?group_by=model")
            #expect(Self.row(report, "model", "echo")?["positive"] == 1)
            #expect(Self.row(report, "model", "echo")?["negative"] == 1)
            let byUser = try await gw.admin(.GET, "/usage?group_by=user")
            #expect(Self.row(byUser, "user", "u1")?["positive"] == 1 && Self.row(byUser, "user", "u1")?["negative"] == 0)
            #expect(Self.row(byUser, "user", "u2")?["negative"] == 1)
            // Rating again replaces the earlier rating in the counts.
            #expect(try await gw.request(.POST, "/v1/feedback", key: key, json: ["request_id": .string(Self.requestID(good)), "rating": -1]).status == 201)
            report = try await gw.admin(.GET, "/usage?group_by=model")
            #expect(Self.row(report, "model", "echo")?["positive"] == 0)
            #expect(Self.row(report, "model", "echo")?["negative"] == 2)

            // Another tenant's request answers exactly like one that does not exist.
            let foreignID = Self.requestID(theirs)
            let unknownID = "req_does_not_exist_0000"
            let foreign = try await gw.request(.POST, "/v1/feedback", key: key, json: ["request_id": .string(foreignID), "rating": 1])
            let unknown = try await gw.request(.POST, "/v1/feedback", key: key, json: ["request_id": .string(unknownID), "rating": 1])
            #expect(foreign.status == 404 && unknown.status == 404)
            #expect(foreign.errorCode == unknown.errorCode)
            #expect(foreign.json["error"]?["type"] == unknown.json["error"]?["type"])
            let foreignMessage = foreign.json["error"]?["message"]?.stringValue?.replacingOccurrences(of: foreignID, with: "ID")
            let unknownMessage = unknown.json["error"]?["message"]?.stringValue?.replacingOccurrences(of: unknownID, with: "ID")
            #expect(foreignMessage != nil && foreignMessage == unknownMessage)
            // Beta's own report shows nothing of acme's ratings, and acme's rating did not land on beta's row.
            report = try await gw.admin(.GET, "/usage?group_by=tenant")
            #expect(Self.row(report, "tenant", "beta")?["positive"] == 0)

            // Validation.
            #expect(try await gw.request(.POST, "/v1/feedback", key: key, json: ["request_id": .string(Self.requestID(good))]).status == 400)
            #expect(try await gw.request(.POST, "/v1/feedback", key: key, json: ["request_id": .string(Self.requestID(good)), "rating": 0]).status == 400)
            #expect(try await gw.request(.POST, "/v1/feedback", key: key, json: ["request_id": .string(Self.requestID(good)), "rating": 5]).status == 400)
            #expect(try await gw.request(.POST, "/v1/feedback", key: key, json: ["rating": 1]).status == 400)
            #expect(
                try await gw.request(.POST, "/v1/feedback", key: TestGateway.adminKey, json: ["request_id": .string(Self.requestID(good)), "rating": 1])
                    .status == 403)
        }
    }

    // MARK: Capture and export

    static func exportLines(_ reply: TestGateway.Reply) -> [JSONValue] {
        reply.text.split(separator: "\n").map { (try? JSONParser.parse(String($0))) ?? .null }
    }

    @Test func captureOnTheTenantFeedsSFTAndDPOExports() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            let patched = try await gw.admin(.PATCH, "/tenants/acme", ["capture": ["enabled": true, "retention_days": 7]])
            #expect(patched.json["capture"] == ["enabled": true, "retention_days": 7])
            let wellRated = try await Self.send(gw, key: key, Self.chat("echo", "What is 2+2?"))
            let corrected = try await Self.send(gw, key: key, Self.chat("echo", "Capital of Australia?"))
            let disliked = try await Self.send(gw, key: key, Self.chat("echo", "Tell me a joke"))
            let unrated = try await Self.send(gw, key: key, Self.chat("echo", "Unrated question"))
            let streamed = try await gw.stream("/v1/chat/completions", key: key, json: Self.chat("echo", "Stream please", maxTokens: 2, stream: true))
            let streamedID = streamed.headers.first(name: "x-request-id") ?? ""
            _ = try await readEvents(streamed)
            #expect(unrated.status == 200)
            func rate(_ id: String, _ rating: Int, correction: String? = nil) async throws {
                var body: JSONObject = ["request_id": .string(id), "rating": .int(rating)]
                if let correction { body["correction"] = .string(correction) }
                let reply = try await gw.request(.POST, "/v1/feedback", key: key, json: .object(body))
                #expect(reply.status == 201, "\(reply.text)")
            }
            try await rate(Self.requestID(wellRated), 1)
            try await rate(Self.requestID(corrected), -1, correction: "Canberra.")
            try await rate(Self.requestID(disliked), -1)
            try await rate(streamedID, 1)
            await gw.flushUsage()
            #expect(try await gw.gateway.store.interactionCount() == 5)

            let sft = try await gw.admin(.GET, "/datasets/export?model=echo&format=openai-sft")
            #expect(sft.status == 200)
            #expect(sft.headers.first(name: "content-type")?.hasPrefix("application/x-ndjson") == true)
            #expect(sft.headers.first(name: "content-disposition") == #"attachment; filename="echo-openai-sft.jsonl""#)
            let odd = try await gw.admin(.GET, "/datasets/export?model=a%22b%0D%0Ac&format=openai-sft")
            #expect(odd.headers.first(name: "content-disposition") == #"attachment; filename="a_b__c-openai-sft.jsonl""#)
            let lines = Self.exportLines(sft)
            #expect(lines.count == 3, "well rated, corrected, streamed; not the disliked or the unrated: \(sft.text)")
            func sftLine(asking question: String) -> [JSONValue]? {
                lines.first { $0["messages"]?.arrayValue?.first?["content"]?.stringValue == question }?["messages"]?.arrayValue
            }
            #expect(
                sftLine(asking: "What is 2+2?") == [["role": "user", "content": "What is 2+2?"], ["role": "assistant", "content": "echo:What is 2+2?"]])
            #expect(
                sftLine(asking: "Capital of Australia?") == [
                    ["role": "user", "content": "Capital of Australia?"], ["role": "assistant", "content": "Canberra."],
                ],
                "the correction is the assistant turn")
            #expect(sftLine(asking: "Stream please")?.last == ["role": "assistant", "content": "tok0tok1"], "a streamed answer is captured whole")
            #expect(sftLine(asking: "Tell me a joke") == nil && sftLine(asking: "Unrated question") == nil)

            let dpo = try await gw.admin(.GET, "/datasets/export?model=echo&format=openai-dpo")
            let pairs = Self.exportLines(dpo)
            #expect(pairs.count == 1, "\(dpo.text)")
            let pair = try #require(pairs.first)
            #expect(pair["input"] == ["messages": [["role": "user", "content": "Capital of Australia?"]]])
            #expect(pair["preferred_output"] == [["role": "assistant", "content": "Canberra."]])
            #expect(pair["non_preferred_output"] == [["role": "assistant", "content": "echo:Capital of Australia?"]])

            // The tenant's usage key exports its own; another model's export is empty; bad format is 400.
            let usageKey = try await gw.issueKey(tenant: "acme", ["scopes": ["usage"]]).key
            let own = try await gw.request(.GET, "/admin/v1/datasets/export?format=openai-sft", key: usageKey)
            #expect(Self.exportLines(own).count == 3)
            #expect(try await gw.admin(.GET, "/datasets/export?model=no-usage&format=openai-sft").text.isEmpty)
            #expect(try await gw.admin(.GET, "/datasets/export?format=csv").status == 400)
            try await gw.createTenant("beta")
            let betaUsage = try await gw.issueKey(tenant: "beta", ["scopes": ["usage"]]).key
            #expect(try await gw.request(.GET, "/admin/v1/datasets/export", key: betaUsage).text.isEmpty, "nothing of acme's")
        }
    }

    @Test func captureIsOffByDefault() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            #expect(try await gw.admin(.GET, "/tenants/acme").json["capture"] == .null)
            let reply = try await Self.send(gw, key: key, Self.chat("echo", "Hello"))
            let rated = try await gw.request(
                .POST, "/v1/feedback", key: key, json: ["request_id": .string(Self.requestID(reply)), "rating": 1, "correction": "Hi."])
            #expect(rated.status == 201)
            await gw.flushUsage()
            #expect(try await gw.gateway.store.interactionCount() == 0)
            let sft = try await gw.admin(.GET, "/datasets/export?format=openai-sft")
            #expect(sft.status == 200 && sft.text.isEmpty)
            #expect(try await gw.admin(.GET, "/datasets/export?format=openai-dpo").text.isEmpty)
        }
    }

    @Test func capturePerModelAndPurgeWhenRetentionEnds() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            _ = try await gw.admin(.PATCH, "/tenants/acme", ["capture": ["enabled": true, "retention_days": 7]])
            // A model keeping its interactions for 30 days, and one opting out of the tenant's capture.
            try await gw.createModel("kept", spec: ["upstream": "mock", "model": "echo", "capture": ["enabled": true, "retention_days": 30]])
            try await gw.createModel("private", spec: ["upstream": "mock", "model": "echo", "capture": ["enabled": false]])
            for model in ["echo", "echo", "kept", "private"] {
                #expect(try await Self.send(gw, key: key, Self.chat(model)).status == 200)
            }
            await gw.flushUsage()
            #expect(try await gw.gateway.store.interactionCount() == 3, "the private model captured nothing")
            let store = gw.gateway.store
            #expect(try await store.purgeInteractions(now: Date()) == 0, "nothing has expired yet")
            #expect(try await store.purgeInteractions(now: Date().addingTimeInterval(8 * 86_400)) == 2)
            #expect(try await store.interactionCount() == 1, "the 30-day model's interaction is kept")
            #expect(try await store.purgeInteractions(now: Date().addingTimeInterval(31 * 86_400)) == 1)
            #expect(try await store.interactionCount() == 0)
        }
    }

    // MARK: Audit

    @Test func everyAdminChangeHasAnAuditRowAndTheFiltersWork() async throws {
        try await withMockUpstream { upstream in
            try await TestGateway.run { gw in
                try await gw.createTenant("acme")
                #expect(try await gw.admin(.PATCH, "/tenants/acme", ["tpm": 5_000]).status == 200)
                #expect(try await gw.admin(.PATCH, "/tenants/acme", ["tpm": 5_000]).status == 200, "no change: no audit row")
                try await gw.createUpstream("mock", baseURL: upstream.baseURL)
                try await gw.createModel("claims", tenant: "acme", spec: ["upstream": "mock", "model": "echo"])
                #expect(try await gw.admin(.POST, "/models/claims/versions?tenant=acme", ["spec": ["upstream": "mock", "model": "no-usage"]]).status == 201)
                #expect(try await gw.admin(.PUT, "/models/claims/traffic?tenant=acme", ["1": 50, "2": 50]).status == 200)
                #expect(try await gw.admin(.POST, "/prompts", ["name": "greeting", "messages": [["role": "system", "content": "Be brief."]]]).status == 201)
                let manager = try await gw.issueKey(tenant: "acme", ["scopes": ["manage"]])
                let inference = try await gw.issueKey(tenant: "acme")
                #expect(try await gw.admin(.DELETE, "/keys/\(inference.id)").status == 200)
                let kb = try await gw.request(.POST, "/admin/v1/knowledge-bases", key: manager.key, json: ["name": "handbook"])
                #expect(kb.status == 201, "\(kb.text)")
                // Reads are not audited.
                _ = try await gw.admin(.GET, "/tenants")
                _ = try await gw.admin(.GET, "/usage")

                let all = Self.rows(try await gw.admin(.GET, "/audit?limit=1000"))
                let actions = all.compactMap { $0["action"]?.stringValue }
                #expect(
                    actions.sorted() == [
                        "key.create", "key.create", "key.revoke", "knowledge_base.create", "model.create", "model.traffic.set", "model.version.create",
                        "prompt.version.create", "tenant.create", "tenant.update", "upstream.create",
                    ], "\(actions)")
                let update = try #require(all.first { $0["action"] == "tenant.update" })
                #expect(update["target"] == "tenant:acme" && update["actor"] == "operator")
                #expect(update["detail"]?["after"]?["tpm"] == 5_000 && update["detail"]?["before"]?["tpm"] == .null)
                #expect(all.allSatisfy { $0["id"]?.numberValue != nil && $0["at"]?.stringValue != nil })

                func filtered(_ query: String) async throws -> [String] {
                    let reply = try await gw.admin(.GET, "/audit?limit=1000&" + query)
                    #expect(reply.status == 200, "\(query): \(reply.text)")
                    return Self.rows(reply).compactMap { $0["action"]?.stringValue }
                }
                #expect(try await filtered("action=key.create") == ["key.create", "key.create"])
                #expect(try await filtered("action=model.*").sorted() == ["model.create", "model.traffic.set", "model.version.create"])
                #expect(try await filtered("action=nothing.like.this").isEmpty)
                let managerActor = "key:\(manager.key.prefix(12))"
                #expect(try await filtered("actor=\(managerActor)") == ["knowledge_base.create"])
                #expect(try await filtered("actor=operator").count == 10)
                #expect(try await filtered("target=tenant:acme").sorted() == ["tenant.create", "tenant.update"])
                #expect(try await filtered("action=key.revoke&actor=operator") == ["key.revoke"])
                #expect(try await filtered("from=2999-01-01T00:00:00Z").isEmpty)
                #expect(try await filtered("to=2999-01-01T00:00:00Z").count == 11)
                #expect(try await gw.admin(.GET, "/audit?from=tomorrow").status == 400)

                // Paging: newest first, pages of 4 that cover everything once.
                var seen: [Int] = []
                var before: Int?
                var pages = 0
                repeat {
                    let page = try await gw.admin(.GET, "/audit?limit=4" + (before.map { "&before=\($0)" } ?? ""))
                    let ids = Self.rows(page).compactMap { $0["id"]?.numberValue?.intValue }
                    #expect(ids == ids.sorted(by: >))
                    seen += ids
                    before = ids.last
                    pages += 1
                    if page.json["has_more"] != true { break }
                } while pages < 10
                #expect(pages == 3 && seen.count == 11 && Set(seen).count == 11)
                // A page of a filter.
                let firstKey = try await gw.admin(.GET, "/audit?action=key.create&limit=1")
                #expect(Self.rows(firstKey).count == 1 && firstKey.json["has_more"] == true)
            }
        }
    }
}
