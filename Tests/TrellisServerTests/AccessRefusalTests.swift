import Foundation
import NIOHTTP1
import OpenAIWire
import Testing

@testable import TrellisServer

/// Every kind of refusal the access rules give, end to end, with the status, code and message clients have
/// always received, whichever context (authenticated, operator-only, tenant) the route runs in.
@Suite struct AccessRefusalTests {
    @Test func refusalsKeepTheirStatusAndMessagePerRoute() async throws {
        try await TestGateway.withStandardSetup { gw, _, _ in
            try await gw.createTenant("other")
            let inference = try await gw.issueKey(tenant: "acme", ["scopes": ["inference"]]).key
            let manage = try await gw.issueKey(tenant: "acme", ["scopes": ["manage"]]).key
            let usage = try await gw.issueKey(tenant: "acme", ["scopes": ["usage"]]).key
            let created = try await gw.admin(.POST, "/knowledge-bases", ["name": "handbook", "tenant": "acme"])
            try #require(created.status == 201, "\(created.text)")
            let op = TestGateway.adminKey
            let chat: JSONValue = ["model": "echo", "messages": [["role": "user", "content": "x"]]]
            let feedback: JSONValue = ["request_id": "req_x", "rating": 1]
            let search: JSONValue = ["query": "x"]
            let onlyOperator = "Only the operator key may do this."
            let noManage = "This key does not have the 'manage' scope."
            let cases: [(String, String, String?, JSONValue?, Int, String?)] = [
                ("GET", "/admin/v1/tenants", nil, nil, 401, "No API key provided. Send it as 'Authorization: Bearer <key>'."),
                ("GET", "/v1/models", op, nil, 403, "The operator key cannot call the OpenAI API; issue a tenant key with the 'inference' scope."),
                (
                    "POST", "/v1/chat/completions", op, chat, 403,
                    "The operator key cannot call the OpenAI API; issue a tenant key with the 'inference' scope."
                ),
                ("POST", "/v1/chat/completions", manage, chat, 403, "This key does not have the 'inference' scope."),
                ("POST", "/v1/embeddings", usage, ["model": "echo", "input": "x"], 403, "This key does not have the 'inference' scope."),
                ("GET", "/v1/models/echo", manage, nil, 403, "This key does not have the 'inference' scope."),
                ("POST", "/v1/feedback", op, feedback, 403, "Feedback is given for a tenant's answers: use a tenant key."),
                ("POST", "/v1/feedback", manage, feedback, 403, "This key needs the 'inference' or 'usage' scope."),
                (
                    "POST", "/v1/knowledge-bases/handbook/search", op, search, 403,
                    "Search acts for a tenant: use a tenant key with the 'inference' or 'manage' scope."
                ),
                ("POST", "/v1/knowledge-bases/handbook/search", usage, search, 403, "This key needs one of the scopes: inference, manage."),
                ("POST", "/v1/knowledge-bases/nothing/search", usage, search, 404, nil),
                ("POST", "/admin/v1/tenants", manage, ["name": "x"], 403, onlyOperator),
                ("PATCH", "/admin/v1/tenants/acme", manage, ["rpm": 1], 403, onlyOperator),
                ("GET", "/admin/v1/upstreams", manage, nil, 403, onlyOperator),
                ("POST", "/admin/v1/upstreams", inference, ["name": "u"], 403, onlyOperator),
                ("GET", "/admin/v1/upstreams/mock", manage, nil, 403, onlyOperator),
                ("GET", "/admin/v1/tenants", inference, nil, 403, noManage),
                ("GET", "/admin/v1/tenants/acme", inference, nil, 403, noManage),
                ("GET", "/admin/v1/tenants/other", inference, nil, 404, nil),
                ("GET", "/admin/v1/tenants/other/keys", manage, nil, 404, nil),
                ("GET", "/admin/v1/models", inference, nil, 403, noManage),
                ("GET", "/admin/v1/models/echo", usage, nil, 403, noManage),
                ("PUT", "/admin/v1/models/echo/traffic", manage, ["1": 1], 403, "Shared models are managed by the operator."),
                ("GET", "/admin/v1/prompts", inference, nil, 403, noManage),
                ("GET", "/admin/v1/adapters/none", inference, nil, 403, noManage),
                ("GET", "/admin/v1/audit", usage, nil, 403, noManage),
                ("GET", "/admin/v1/usage", inference, nil, 403, "This key needs the 'usage' scope to read usage."),
                ("GET", "/admin/v1/datasets/export", inference, nil, 403, "This key needs the 'usage' scope to read usage."),
                ("GET", "/admin/v1/usage?tenant=other", usage, nil, 404, nil),
                ("GET", "/admin/v1/knowledge-bases", inference, nil, 403, noManage),
                ("GET", "/admin/v1/knowledge-bases/handbook", inference, nil, 403, "This key needs one of the scopes: manage."),
                ("DELETE", "/admin/v1/keys/key_none", inference, nil, 403, noManage),
            ]
            for (method, path, key, body, status, message) in cases {
                let reply = try await gw.request(.init(rawValue: method), path, key: key, json: body)
                #expect(reply.status == status, "\(method) \(path): \(reply.text)")
                if let message {
                    #expect(reply.json["error"]?["message"]?.stringValue == message, "\(method) \(path)")
                    #expect(reply.errorCode == (status == 401 ? "invalid_api_key" : "permission_denied"), "\(method) \(path)")
                } else {
                    #expect(reply.errorCode == "not_found", "\(method) \(path)")
                }
            }
        }
    }
}
