import AsyncHTTPClient
import HTTPTypes
import Hummingbird
import NIOHTTP1
import OpenAIWire
import Testing

@testable import TrellisServer

/// The route list the gateway answers 405 with `Allow` from is the router's own, read after registration: every
/// route is declared once, and every registered path answers a wrong method with its methods.
@Suite struct RouteTableTests {
    /// The API as it is documented (docs/openapi.yaml) plus health, metrics and the console.
    static let expectedRoutes: Set<String> = [
        "GET /healthz", "GET /readyz", "GET /metrics",
        "GET /v1/models", "GET /v1/models/{model}", "POST /v1/chat/completions", "POST /v1/embeddings", "POST /v1/feedback",
        "POST /v1/knowledge-bases/{kb}/search", "POST /v1/responses", "GET /v1/responses/{id}", "DELETE /v1/responses/{id}", "POST /mcp", "DELETE /mcp",
        "POST /admin/v1/tenants", "GET /admin/v1/tenants", "GET /admin/v1/tenants/{tenant}", "PATCH /admin/v1/tenants/{tenant}",
        "POST /admin/v1/tenants/{tenant}/keys", "GET /admin/v1/tenants/{tenant}/keys", "DELETE /admin/v1/keys/{id}",
        "POST /admin/v1/upstreams", "GET /admin/v1/upstreams", "GET /admin/v1/upstreams/{name}",
        "POST /admin/v1/models", "GET /admin/v1/models", "GET /admin/v1/models/{name}", "POST /admin/v1/models/{name}/versions",
        "PUT /admin/v1/models/{name}/traffic",
        "POST /admin/v1/prompts", "GET /admin/v1/prompts", "GET /admin/v1/prompts/{name}", "PUT /admin/v1/prompts/{name}/labels",
        "POST /admin/v1/adapters", "GET /admin/v1/adapters", "GET /admin/v1/adapters/{name}",
        "GET /admin/v1/audit", "GET /admin/v1/usage", "GET /admin/v1/usage/overview", "GET /admin/v1/datasets/export",
        "POST /admin/v1/eval-sets", "GET /admin/v1/eval-sets", "GET /admin/v1/eval-sets/{name}", "POST /admin/v1/eval-sets/{name}/from-feedback",
        "POST /admin/v1/eval-runs", "GET /admin/v1/eval-runs", "GET /admin/v1/eval-runs/{id}", "GET /admin/v1/eval-runs/{id}/items",
        "DELETE /admin/v1/eval-runs/{id}",
        "POST /admin/v1/knowledge-bases", "GET /admin/v1/knowledge-bases", "GET /admin/v1/knowledge-bases/{kb}",
        "POST /admin/v1/knowledge-bases/{kb}/documents", "GET /admin/v1/knowledge-bases/{kb}/documents",
        "DELETE /admin/v1/knowledge-bases/{kb}/documents/{id}",
        "GET /console", "HEAD /console", "GET /console/{asset}", "HEAD /console/{asset}",
    ]

    @Test func theTableMatchesCapturesAndListsMethodsInAllowOrder() {
        let router = Router(context: TrellisRequestContext.self)
        router.get("items") { _, _ in "" }
        router.post("items") { _, _ in "" }
        router.patch("items/{id}") { _, _ in "" }
        router.get("items/{id}") { _, _ in "" }
        router.head("files/:name") { _, _ in "" }
        let table = RouteTable(router: router)
        #expect(table.methods(for: "/items") == [.post, .get])
        #expect(table.methods(for: "/items/") == [.post, .get])
        #expect(table.methods(for: "/items/42") == [.get, .patch])
        #expect(table.methods(for: "/files/a.js") == [.head])
        #expect(table.methods(for: "/items/42/more").isEmpty)
        #expect(table.methods(for: "/other").isEmpty)
    }

    @Test func theIndexAnswersNothingUntilItsTableIsInstalled() {
        let router = Router(context: TrellisRequestContext.self)
        router.get("items") { _, _ in "" }
        let index = RouteIndex()
        #expect(index.methods(for: "/items").isEmpty)
        index.install(RouteTable(router: router))
        #expect(index.methods(for: "/items") == [.get])
        // The first table stays.
        index.install(RouteTable([]))
        #expect(index.methods(for: "/items") == [.get])
    }

    @Test func everyRegisteredPathAnswersAWrongMethodWith405AndItsMethods() async throws {
        try await TestGateway.run { gw in
            let watchdog = StallWatchdog(deadline: .seconds(10), otherDeadlines: [])
            let router = buildRouter(gateway: gw.gateway, stallWatchdog: watchdog)
            let registered = Set(router.routes.map { "\($0.method) \($0.path)" })
            #expect(registered == Self.expectedRoutes)

            var byPath: [String: Set<HTTPRequest.Method>] = [:]
            for route in router.routes { byPath[route.path.description, default: []].insert(route.method) }
            let candidates: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete]
            for (pattern, methods) in byPath {
                let path = pattern.split(separator: "/").map { $0.hasPrefix("{") ? "x" : String($0) }.joined(separator: "/")
                let wrong = try #require(candidates.first { !methods.contains($0) }, "\(pattern)")
                let reply = try await gw.request(HTTPMethod(rawValue: wrong.rawValue), "/" + path, key: TestGateway.adminKey)
                #expect(reply.status == 405, "\(wrong) \(pattern)")
                #expect(reply.errorCode == "method_not_allowed", "\(wrong) \(pattern)")
                let allow = reply.headers.first(name: "allow") ?? ""
                #expect(Set(allow.split(separator: ",").map { HTTPRequest.Method(String($0.trimmingCharacters(in: .whitespaces)))! }) == methods, "\(pattern)")
                #expect(allow == RouteTable.allowOrder.filter(methods.contains).map(\.rawValue).joined(separator: ", "), "\(pattern)")
            }
            // The order clients have always seen: creating before reading.
            #expect(try await gw.admin(.DELETE, "/tenants").headers.first(name: "allow") == "POST, GET")
            #expect(try await gw.admin(.DELETE, "/tenants/acme").headers.first(name: "allow") == "GET, PATCH")
            #expect(try await gw.request(.POST, "/console").headers.first(name: "allow") == "GET, HEAD")
        }
    }

    @Test func theMetricsLabelIsTheRoutePatternInsideAChildContext() async throws {
        try await TestGateway.run { gw in
            _ = try await gw.admin(.GET, "/upstreams/none")
            _ = try await gw.request(.GET, "/v1/models", key: "trk-not-a-real-key")
            let metrics = try await gw.request(.GET, "/metrics").text
            #expect(metrics.contains("route=\"/admin/v1/upstreams/{name}\""))
            #expect(metrics.contains("route=\"/v1/models\""))
        }
    }
}
