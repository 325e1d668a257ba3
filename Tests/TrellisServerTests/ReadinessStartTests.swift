import Foundation
import OpenAIWire
import PostgresNIO
import Testing
import TrellisCore
import TrellisStore
import TrellisStoreTestSupport

@testable import TrellisServer

/// A replica joining a cluster must not get traffic before it can answer as the others do: `/readyz` stays 503
/// until its catalog and its knowledge indexes are loaded.
@Suite struct ReadinessStartTests {
    @Test("readiness waits for the knowledge indexes: catalog loaded, index read held by a lock: 503; ready and searchable once it loads")
    func readinessWaitsForKnowledgeIndexes() async throws {
        let settings = try await TestDatabases.create()
        // A first replica makes a keyword knowledge base with one document, and stops.
        try await TestGateway.onStore(settings) { gw in
            try await gw.createTenant("acme")
            let kb = try await gw.admin(.POST, "/knowledge-bases", ["name": "policies", "tenant": "acme"])
            try #require(kb.status == 201, "\(kb.text)")
            let doc = try await gw.admin(.POST, "/knowledge-bases/policies/documents", ["title": "cars", "text": "Car claims are paid within ten days."])
            try #require(doc.status == 201, "\(doc.text)")
        }
        // The next replica starts while another session holds the table of the keyword index: its catalog loads,
        // its index read waits (and fails at the store's bulk deadline, and is tried again).
        try await TestDatabases.withConnection(to: settings) { lock in
            try await lock.query("BEGIN", logger: Self.logger)
            try await lock.query("LOCK TABLE chunk_terms IN ACCESS EXCLUSIVE MODE", logger: Self.logger)
            try await TestGateway.onStore(
                settings,
                configure: {
                    // The index read gives up after 12 x 500 ms; attempts are at most a second apart.
                    $0.storeOperationTimeoutMs = 500
                }
            ) { gw in
                // Listening: the first attempt failed on the index read, after the catalog was loaded.
                #expect(gw.gateway.snapshot.generation > 0, "the catalog is loaded")
                #expect(gw.gateway.snapshot.allKnowledgeBases.map(\.name) == ["policies"])
                let early = try await gw.request(.GET, "/readyz")
                #expect(early.status == 503)
                #expect(early.errorCode == "store_unavailable")
                #expect(early.json["catalog"]?.stringValue == "loaded" && early.json["start"]?.stringValue == "not finished", "\(early.text)")
                // Another attempt while listening, and still not ready.
                try await waitUntil(timeout: .seconds(90)) { gw.gateway.readiness.failedStarts >= 2 }
                let later = try await gw.request(.GET, "/readyz")
                #expect(later.status == 503, "not ready while the knowledge indexes are not loaded")

                try await lock.query("COMMIT", logger: Self.logger)
                try await waitUntil(timeout: .seconds(90)) { try await gw.request(.GET, "/readyz").status == 200 }
                let kb = try #require(gw.gateway.snapshot.allKnowledgeBases.first)
                #expect(gw.gateway.knowledge.keywordSearch(kb: kb, query: "claims", limit: 5).count == 1, "ready means searchable")
            }
        }
        try await TestDatabases.drop(settings)
    }

    static let logger: Logger = {
        var logger = Logger(label: "readiness-test")
        logger.logLevel = .critical
        return logger
    }()
}
