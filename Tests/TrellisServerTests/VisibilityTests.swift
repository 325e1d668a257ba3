import Foundation
import OpenAIWire
import Testing

@testable import TrellisServer

@Suite struct VisibilityTests {
    @Test func tenantModelsAreInvisibleToOtherTenantsAndAnswerLikeMissingOnes() async throws {
        try await TestGateway.withStandardSetup { gw, _, acmeKey in
            try await gw.createTenant("globex")
            let globexKey = try await gw.issueKey(tenant: "globex").key
            try await gw.createModel("private-bot", tenant: "acme", spec: ["upstream": "mock", "model": "echo"])

            let acmeModels = try await gw.request(.GET, "/v1/models", key: acmeKey)
            let globexModels = try await gw.request(.GET, "/v1/models", key: globexKey)
            let acmeIDs = acmeModels.json["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            let globexIDs = globexModels.json["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            #expect(acmeIDs.contains("private-bot") && acmeIDs.contains("echo"))
            #expect(!globexIDs.contains("private-bot") && globexIDs.contains("echo"))
            #expect(acmeModels.json["object"]?.stringValue == "list")
            let entry = try #require(acmeModels.json["data"]?.arrayValue?.first { $0["id"]?.stringValue == "private-bot" })
            #expect(entry["object"]?.stringValue == "model" && entry["created"]?.numberValue?.intValue != nil)
            #expect(entry["owned_by"]?.stringValue == "acme")

            let body: (String) -> JSONValue = { ["model": .string($0), "messages": [["role": "user", "content": "x"]]] }
            let foreign = try await gw.request(.POST, "/v1/chat/completions", key: globexKey, json: body("private-bot"))
            let missing = try await gw.request(.POST, "/v1/chat/completions", key: globexKey, json: body("no-such-bot"))
            #expect(foreign.status == 404 && missing.status == 404)
            #expect(foreign.errorCode == "model_not_found" && missing.errorCode == "model_not_found")
            let foreignMessage = foreign.json["error"]?["message"]?.stringValue ?? ""
            let missingMessage = missing.json["error"]?["message"]?.stringValue ?? ""
            #expect(foreignMessage.replacingOccurrences(of: "private-bot", with: "X") == missingMessage.replacingOccurrences(of: "no-such-bot", with: "X"))
            #expect(try await gw.request(.GET, "/v1/models/private-bot", key: globexKey).status == 404)
            #expect(try await gw.request(.GET, "/v1/models/private-bot", key: acmeKey).status == 200)
            #expect(try await gw.request(.POST, "/v1/chat/completions", key: acmeKey, json: body("private-bot")).status == 200)
        }
    }

    @Test func tenantModelsShadowSharedOnesAndKeyAllowlistsHideModels() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, acmeKey in
            try await gw.createTenant("globex")
            try await gw.createModel("assistant", tenant: "acme", spec: ["upstream": "mock", "model": "acme-base"])
            try await gw.createModel("assistant", tenant: "globex", spec: ["upstream": "mock", "model": "globex-base"])
            // A tenant cannot take a shared name.
            let clash = try await gw.admin(.POST, "/models", ["name": "echo", "tenant": "acme", "spec": ["upstream": "mock", "model": "x"]])
            #expect(clash.status == 409)
            _ = try await gw.request(
                .POST, "/v1/chat/completions", key: acmeKey, json: ["model": "assistant", "messages": [["role": "user", "content": "x"]]])
            #expect(upstream.lastBody?["model"]?.stringValue == "acme-base")
            // The operator must say which tenant's model when the name is ambiguous.
            #expect(try await gw.admin(.GET, "/models/assistant").status == 409)
            let globex = try await gw.admin(.GET, "/models/assistant?tenant=globex")
            #expect(globex.status == 200 && globex.json["tenant"]?.stringValue == "globex")

            let limited = try await gw.issueKey(tenant: "acme", ["models": ["echo"]])
            let models = try await gw.request(.GET, "/v1/models", key: limited.key)
            #expect(models.json["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["echo"])
            let hidden = try await gw.request(
                .POST, "/v1/chat/completions", key: limited.key, json: ["model": "assistant", "messages": [["role": "user", "content": "x"]]])
            #expect(hidden.status == 404 && hidden.errorCode == "model_not_found")
        }
    }

    @Test func manageKeysSeeOnlyTheirOwnTenant() async throws {
        try await TestGateway.withStandardSetup { gw, _, _ in
            try await gw.createTenant("globex")
            let globexIssued = try await gw.issueKey(tenant: "globex")
            let manager = try await gw.issueKey(tenant: "acme", ["scopes": ["manage"]])
            #expect(try await gw.request(.GET, "/admin/v1/tenants/acme/keys", key: manager.key).status == 200)
            let foreignKeys = try await gw.request(.GET, "/admin/v1/tenants/globex/keys", key: manager.key)
            let missingTenant = try await gw.request(.GET, "/admin/v1/tenants/nosuch/keys", key: manager.key)
            #expect(foreignKeys.status == 404 && missingTenant.status == 404)
            #expect(
                foreignKeys.json["error"]?["message"]?.stringValue?.replacingOccurrences(of: "globex", with: "X")
                    == missingTenant.json["error"]?["message"]?.stringValue?.replacingOccurrences(of: "nosuch", with: "X"))
            #expect(try await gw.request(.DELETE, "/admin/v1/keys/\(globexIssued.id)", key: manager.key).status == 404)
            #expect(try await gw.request(.POST, "/admin/v1/tenants/globex/keys", key: manager.key, json: [:]).status == 404)
            let tenants = try await gw.request(.GET, "/admin/v1/tenants", key: manager.key)
            #expect(tenants.json["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["acme"])
            // A manage key creates models in its own tenant by default, and cannot write shared ones.
            let created = try await gw.request(
                .POST, "/admin/v1/models", key: manager.key, json: ["name": "own", "spec": ["upstream": "mock", "model": "echo"]])
            #expect(created.status == 201 && created.json["tenant"]?.stringValue == "acme")
            let sharedWrite = try await gw.request(
                .POST, "/admin/v1/models/echo/versions", key: manager.key, json: ["spec": ["upstream": "mock", "model": "x"]])
            #expect(sharedWrite.status == 403)
        }
    }
}
