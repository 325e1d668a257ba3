import Foundation
import OpenAIWire
import Testing
import TrellisCore
import TrellisStore
import TrellisStoreTestSupport

@testable import TrellisServer

/// An operator's calls through a load balancer land on any replica: a write through one replica that names what
/// was just made through another must find it, even before the change notification arrives. Replica B here neither
/// listens nor checks periodically within the test, so only the admin API's own freshness check can show it the
/// upstream registered through A.
@Suite(
    "Admin calls read their writes across replicas", .serialized)
struct AdminFreshnessTests {
    static func deaf(_ config: inout TrellisConfig) {
        config.catalogRefreshIntervalMs = 3_600_000
        config.catalogListen = false
    }

    @Test("a model written through replica B names the upstream and tenant just made through replica A")
    func modelNamesUpstreamFromAnotherReplica() async throws {
        let settings = try await TestDatabases.create()
        try await stopping({ try? await TestDatabases.drop(settings) }) {
            try await TestGateway.onStore(settings, configure: Self.deaf) { a in
                try await TestGateway.onStore(settings, configure: Self.deaf) { b in
                    _ = try await a.createTenant("acme")
                    try await a.createUpstream("fresh", baseURL: "http://127.0.0.1:9/v1")
                    let reply = try await b.admin(.POST, "/models", ["name": "claims", "tenant": "acme", "spec": ["upstream": "fresh", "model": "m"]])
                    #expect(reply.status == 201, "\(reply.text)")
                    #expect(try await b.admin(.GET, "/upstreams").text.contains("\"fresh\""))
                }
            }
        }
    }
}
