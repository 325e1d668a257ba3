import Foundation
import OpenAIWire
import Testing

@testable import TrellisServer

@Suite struct AdminTests {
    @Test func tenantsAreValidatedAndUnique() async throws {
        try await TestGateway.run { gw in
            let created = try await gw.admin(.POST, "/tenants", ["name": "acme-insurance"])
            #expect(created.status == 201)
            #expect(created.json["id"]?.stringValue?.hasPrefix("tnt_") == true)
            #expect(created.json["name"]?.stringValue == "acme-insurance")
            #expect(try await gw.admin(.POST, "/tenants", ["name": "acme-insurance"]).status == 409)
            for bad in ["Acme", "-acme", "ac me", "acme/..", "", String(repeating: "a", count: 64), "ümlaut"] {
                let reply = try await gw.admin(.POST, "/tenants", ["name": .string(bad)])
                #expect(reply.status == 400, "'\(bad)'")
                #expect(reply.json["error"]?["param"]?.stringValue == "name", "'\(bad)'")
            }
            let unknownField = try await gw.admin(.POST, "/tenants", ["name": "ok", "colour": "red"])
            #expect(unknownField.status == 400 && unknownField.json["error"]?["param"]?.stringValue == "colour")
            let list = try await gw.admin(.GET, "/tenants")
            #expect(list.json["data"]?.arrayValue?.map { $0["name"]?.stringValue } == ["acme-insurance"])
            #expect(try await gw.admin(.GET, "/tenants/acme-insurance").json["name"]?.stringValue == "acme-insurance")
            #expect(try await gw.admin(.GET, "/tenants/nobody").status == 404)
        }
    }

    @Test func keyFieldsAreValidated() async throws {
        try await TestGateway.run { gw in
            try await gw.createTenant("acme")
            let cases: [(JSONValue, String)] = [
                (["scopes": ["root"]], "scopes[0]"), (["scopes": []], "scopes"), (["models": ["a*b"]], "models[0]"),
                (["rpm": 0], "rpm"), (["tpm": -5], "tpm"), (["expires_at": "tomorrow"], "expires_at"), (["name": 5], "name"),
            ]
            for (body, param) in cases {
                let reply = try await gw.admin(.POST, "/tenants/acme/keys", body)
                #expect(reply.status == 400, "\(body)")
                #expect(reply.json["error"]?["param"]?.stringValue == param, "\(body): \(reply.text)")
            }
            let issued = try await gw.admin(
                .POST, "/tenants/acme/keys", ["name": "ops", "scopes": ["inference", "usage"], "models": ["claims-*"], "rpm": 60, "tpm": 10000])
            #expect(issued.status == 201)
            #expect(issued.json["scopes"] == ["inference", "usage"])
            #expect(issued.json["models"] == ["claims-*"])
            #expect(issued.json["rpm"]?.numberValue?.intValue == 60)
            #expect(issued.headers.first(name: "cache-control") == "no-store")
            #expect(try await gw.admin(.POST, "/tenants/nobody/keys", [:]).status == 404)
        }
    }

    @Test func upstreamsAreValidated() async throws {
        try await TestGateway.run { gw in
            let ok = try await gw.admin(
                .POST, "/upstreams", ["name": "local", "base_url": "http://127.0.0.1:8081/v1/", "kind": "llamacpp", "labels": ["private"]])
            #expect(ok.status == 201)
            #expect(ok.json["base_url"]?.stringValue == "http://127.0.0.1:8081/v1", "trailing slash dropped")
            #expect(ok.json["health"]?["status"]?.stringValue == "unknown")
            #expect(try await gw.admin(.POST, "/upstreams", ["name": "local", "base_url": "http://127.0.0.1:8081/v1"]).status == 409)
            let cases: [(JSONValue, String)] = [
                (["name": "a", "base_url": "ftp://x/v1"], "base_url"), (["name": "a", "base_url": "not a url"], "base_url"),
                (["name": "a", "base_url": "http://x/v1?token=1"], "base_url"), (["name": "a", "base_url": "http://x/v1", "kind": "tgi"], "kind"),
                (["name": "a", "base_url": "http://x/v1", "labels": ["public"]], "labels[0]"),
                (["name": "a", "base_url": "http://x/v1", "labels": ["private", "external"]], "labels"),
                (["name": "a", "base_url": "http://x/v1", "api_key_env": "sk-123"], "api_key_env"),
                (["name": "../x", "base_url": "http://x/v1"], "name"), (["base_url": "http://x/v1"], "name"),
                (["name": "a", "base_url": "http://x/v1", "timeouts": ["connect_ms": 0]], "timeouts.connect_ms"),
            ]
            for (body, param) in cases {
                let reply = try await gw.admin(.POST, "/upstreams", body)
                #expect(reply.status == 400, "\(body)")
                #expect(reply.json["error"]?["param"]?.stringValue == param, "\(body): \(reply.text)")
            }
            #expect(try await gw.admin(.GET, "/upstreams").json["data"]?.arrayValue?.count == 1)
            #expect(try await gw.admin(.GET, "/upstreams/nope").status == 404)
        }
    }

    @Test func modelsVersionsAndTraffic() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            let bad = try await gw.admin(.POST, "/models", ["name": "m", "spec": ["upstream": "nowhere", "model": "x"]])
            #expect(bad.status == 400 && bad.json["error"]?["param"]?.stringValue == "spec.upstream")
            let typo = try await gw.admin(.POST, "/models", ["name": "m", "spec": ["upstream": "mock", "model": "x", "parms": [:]]])
            #expect(typo.status == 400 && typo.json["error"]?["param"]?.stringValue == "spec.parms")
            let created = try await gw.admin(.POST, "/models", ["name": "claims", "description": "理赔助手", "spec": ["upstream": "mock", "model": "echo"]])
            #expect(created.status == 201)
            #expect(created.json["version"]?.numberValue?.intValue == 1)
            #expect(created.json["traffic"] == ["1": 100])
            #expect(created.json["description"]?.stringValue == "理赔助手")

            let v2 = try await gw.admin(.POST, "/models/claims/versions", ["spec": ["upstream": "mock", "model": "no-usage"]])
            #expect(v2.status == 201 && v2.json["version"]?.numberValue?.intValue == 2)
            let shown = try await gw.admin(.GET, "/models/claims")
            #expect(shown.json["versions"]?.arrayValue?.map { $0["version"]?.numberValue?.intValue } == [1, 2])
            #expect(shown.json["traffic"] == ["1": 100], "a new version gets no traffic until the split says so")

            let chat: (String) -> JSONValue = { ["model": .string($0), "messages": [["role": "user", "content": "x"]]] }
            let unpinned = try await gw.request(.POST, "/v1/chat/completions", key: key, json: chat("claims"))
            #expect(unpinned.headers.first(name: "x-trellis-model-version") == "1")
            let pinned = try await gw.request(.POST, "/v1/chat/completions", key: key, json: chat("claims@2"))
            #expect(pinned.headers.first(name: "x-trellis-model-version") == "2")
            #expect(upstream.lastBody?["model"]?.stringValue == "no-usage")
            #expect(pinned.json["model"]?.stringValue == "claims@2")
            #expect(try await gw.request(.POST, "/v1/chat/completions", key: key, json: chat("claims@9")).status == 404)

            #expect(try await gw.admin(.PUT, "/models/claims/traffic", ["3": 10]).status == 400)
            #expect(try await gw.admin(.PUT, "/models/claims/traffic", ["1": 0, "2": 0]).status == 400)
            #expect(try await gw.admin(.PUT, "/models/claims/traffic", ["1": -1]).status == 400)
            let moved = try await gw.admin(.PUT, "/models/claims/traffic", ["2": 100])
            #expect(moved.status == 200 && moved.json["traffic"] == ["2": 100])
            let now = try await gw.request(.POST, "/v1/chat/completions", key: key, json: chat("claims"))
            #expect(now.headers.first(name: "x-trellis-model-version") == "2")
            #expect(try await gw.admin(.PUT, "/models/nope/traffic", ["1": 1]).status == 404)
        }
    }

    @Test func everyChangeIsAudited() async throws {
        try await TestGateway.withStandardSetup { gw, _, _ in
            let manager = try await gw.issueKey(tenant: "acme", ["scopes": ["manage"]])
            let issued = try await gw.request(.POST, "/admin/v1/tenants/acme/keys", key: manager.key, json: ["name": "by-manager"])
            let id = try #require(issued.json["id"]?.stringValue)
            _ = try await gw.admin(.DELETE, "/keys/\(id)")
            _ = try await gw.admin(.PUT, "/models/echo/traffic", ["1": 100])
            let audit = try await gw.admin(.GET, "/audit?limit=1000")
            let entries = audit.json["data"]?.arrayValue ?? []
            let actions = Set(entries.compactMap { $0["action"]?.stringValue })
            #expect(actions.isSuperset(of: ["tenant.create", "upstream.create", "model.create", "key.create", "key.revoke", "model.traffic.set"]))
            let byManager = entries.first { $0["target"]?.stringValue == "key:\(id)" && $0["action"]?.stringValue == "key.create" }
            #expect(byManager?["actor"]?.stringValue == "key:\(manager.key.prefix(12))")
            #expect(entries.allSatisfy { $0["at"]?.stringValue != nil && $0["id"] != nil })
            #expect(!audit.text.contains(manager.key), "audit never holds a key")
            // Paging.
            let page = try await gw.admin(.GET, "/audit?limit=2")
            #expect(page.json["data"]?.arrayValue?.count == 2 && page.json["has_more"] == true)
            // A manage key sees its own tenant's entries only.
            let tenantView = try await gw.request(.GET, "/admin/v1/audit", key: manager.key)
            #expect(tenantView.json["data"]?.arrayValue?.allSatisfy { $0["tenant"]?.stringValue == "acme" } == true)
        }
    }
}
