import Foundation
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

extension EvaluationTests {
    @Test func aTenantsRunningRunsAreCappedAndOtherTenantsAreNotHeldBack() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, _ in
            let manage = try await Self.setUp(gw)
            try await gw.createModel("stuck", tenant: "acme", spec: ["upstream": "mock", "model": "hang"])
            #expect(try await gw.request(.POST, "/admin/v1/eval-sets", key: manage, json: ["name": "golden", "items": Self.items]).status == 201)
            func start(_ key: String, set: String = "golden", model: String = "stuck") async throws -> TestGateway.Reply {
                try await gw.request(
                    .POST, "/admin/v1/eval-runs", key: key,
                    json: ["set": .string(set), "models": [.string(model)], "scorers": [["type": "exact"]], "concurrency": 1])
            }
            let first = try await start(manage)
            let second = try await start(manage)
            #expect(first.status == 202 && second.status == 202)
            let third = try await start(manage)
            #expect(third.status == 429 && third.errorCode == "too_many_evaluation_runs", "\(third.text)")
            #expect(third.headers.first(name: "retry-after") == "30")
            // Another tenant starts its own.
            try await gw.createTenant("globex")
            let theirs = try await gw.issueKey(tenant: "globex", ["scopes": ["manage", "inference"]]).key
            #expect(try await gw.request(.POST, "/admin/v1/eval-sets", key: theirs, json: ["name": "mine", "items": [["input": "q"]]]).status == 201)
            #expect(try await start(theirs, set: "mine", model: "echo").status == 202)
            // One ended frees a place.
            let id = try #require(first.json["id"]?.stringValue)
            #expect(try await gw.request(.DELETE, "/admin/v1/eval-runs/\(id)", key: manage).status == 200)
            let again = try await start(manage)
            #expect(again.status == 202)
            for reply in [second, again] {
                _ = try await gw.request(.DELETE, "/admin/v1/eval-runs/\(reply.json["id"]?.stringValue ?? "")", key: manage)
            }
            #expect(await upstream.waitFor("hanging"))
        }
    }
}
