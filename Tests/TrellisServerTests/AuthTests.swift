import Foundation
import OpenAIWire
import Testing

@testable import TrellisServer

@Suite struct AuthTests {
    @Test func missingWrongAndMalformedKeysAre401() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, _ in
            let body: JSONValue = ["model": "echo", "messages": [["role": "user", "content": "x"]]]
            for (label, headers) in [
                ("missing", [(String, String)]()), ("wrong", [("Authorization", "Bearer trk-not-a-real-key")]),
                ("basic", [("Authorization", "Basic dXNlcjpwYXNz")]), ("empty bearer", [("Authorization", "Bearer ")]),
            ] {
                let reply = try await gw.request(.POST, "/v1/chat/completions", json: body, headers: headers)
                #expect(reply.status == 401, "\(label)")
                #expect(reply.errorCode == "invalid_api_key", "\(label)")
                #expect(reply.headers.first(name: "x-request-id") != nil, "\(label)")
            }
            #expect(upstream.requests.isEmpty, "nothing unauthenticated reaches the upstream")
        }
    }

    @Test func scopesAreEnforced() async throws {
        try await TestGateway.withStandardSetup { gw, _, _ in
            let usageOnly = try await gw.issueKey(tenant: "acme", ["scopes": ["usage"]])
            let chat = try await gw.request(
                .POST, "/v1/chat/completions", key: usageOnly.key, json: ["model": "echo", "messages": [["role": "user", "content": "x"]]])
            #expect(chat.status == 403)
            #expect(chat.errorCode == "permission_denied")
            let admin = try await gw.request(.GET, "/admin/v1/tenants/acme/keys", key: usageOnly.key)
            #expect(admin.status == 403)
            // The operator key is not a tenant and cannot call /v1.
            let op = try await gw.request(.GET, "/v1/models", key: TestGateway.adminKey)
            #expect(op.status == 403)
            // A tenant key cannot use operator-only routes.
            let inference = try await gw.issueKey(tenant: "acme")
            let up = try await gw.request(.POST, "/admin/v1/upstreams", key: inference.key, json: ["name": "x", "base_url": "http://127.0.0.1:1/v1"])
            #expect(up.status == 403)
        }
    }

    @Test func revocationTakesEffectOnTheNextRequest() async throws {
        try await TestGateway.withStandardSetup { gw, _, _ in
            let issued = try await gw.issueKey(tenant: "acme")
            #expect(try await gw.request(.GET, "/v1/models", key: issued.key).status == 200)
            let revoke = try await gw.admin(.DELETE, "/keys/\(issued.id)")
            #expect(revoke.status == 200)
            #expect(revoke.json["revoked"] == true)
            #expect(revoke.json["key"] == nil)
            #expect(try await gw.request(.GET, "/v1/models", key: issued.key).status == 401)
            // Revoking again is harmless; an unknown id is 404.
            #expect(try await gw.admin(.DELETE, "/keys/\(issued.id)").status == 200)
            #expect(try await gw.admin(.DELETE, "/keys/key_doesnotexist").status == 404)
        }
    }

    @Test func expiredKeysAreRefused() async throws {
        try await TestGateway.run { gw in
            try await gw.createTenant("acme")
            let past = try await gw.admin(.POST, "/tenants/acme/keys", ["expires_at": "2001-01-01T00:00:00Z"])
            #expect(past.status == 400, "a key cannot be issued already expired")
            // An hour ahead: a busy machine cannot reach it before the request below.
            let expiry = Int(Date().timeIntervalSince1970) + 3_600
            let issued = try await gw.issueKey(tenant: "acme", ["expires_at": .int(expiry)])
            #expect(try await gw.request(.GET, "/v1/models", key: issued.key).status == 200)
            // The check uses the current time on every request, not only at snapshot load.
            let at = Date(timeIntervalSince1970: Double(expiry))
            #expect(gw.gateway.authenticate(token: issued.key, now: at.addingTimeInterval(-1)) != nil)
            #expect(gw.gateway.authenticate(token: issued.key, now: at.addingTimeInterval(1)) == nil)
        }
    }

    @Test func keysAreStoredOnlyAsDigestsAndListedWithoutSecrets() async throws {
        // SQLite: the check reads the database file and its WAL byte for byte.
        try await TestGateway.run(store: .sqlite) { gw in
            try await gw.createTenant("acme")
            let issued = try await gw.issueKey(tenant: "acme", ["name": "ci", "scopes": ["inference", "usage"]])
            #expect(issued.key.hasPrefix("trk-"))
            #expect(issued.key.count >= 4 + 22, "at least 128 random bits")
            let list = try await gw.admin(.GET, "/tenants/acme/keys")
            #expect(list.status == 200)
            #expect(!list.text.contains(issued.key))
            let entry = try #require(list.json["data"]?.arrayValue?.first)
            #expect(entry["prefix"]?.stringValue == String(issued.key.prefix(12)))
            #expect(entry["key"] == nil && entry["digest"] == nil)
            // Nowhere in the database file does the key appear.
            let bytes = try Data(contentsOf: URL(fileURLWithPath: gw.dataDir + "/trellis.sqlite"))
            let wal = (try? Data(contentsOf: URL(fileURLWithPath: gw.dataDir + "/trellis.sqlite-wal"))) ?? Data()
            #expect(bytes.range(of: Data(issued.key.utf8)) == nil && wal.range(of: Data(issued.key.utf8)) == nil)
        }
    }
}
