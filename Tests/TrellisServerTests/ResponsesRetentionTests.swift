import Foundation
import Logging
import OpenAIWire
import Testing
import TrellisStore

@testable import TrellisServer

/// Stored responses' retention (`responses.retention_days`): the expiry a kept response gets, and the maintenance
/// service's purge, run at a time past one response's expiry and before the other's.
@Suite struct ResponsesRetentionTests {
    static func create(_ gw: TestGateway, key: String, _ input: String) async throws -> String {
        let reply = try await gw.request(.POST, "/v1/responses", key: key, json: ["model": "echo", "input": .string(input)])
        try #require(reply.status == 200, "\(reply.text)")
        return try #require(reply.json["id"]?.stringValue)
    }

    @Test func aResponseExpiresAfterTheRetentionDaysAndThePurgeDeletesOnlyExpiredOnes() async throws {
        try await TestGateway.withStandardSetup(configure: { $0.responsesRetentionDays = 1 }) { gw, _, key in
            let store = gw.gateway.store
            let tenantID = try #require(gw.gateway.snapshot.tenant(named: "acme")?.id)
            let before = Date()
            let oldID = try await Self.create(gw, key: key, "first")
            let old = try #require(try await store.response(id: oldID, tenantID: tenantID), "kept before the client had its answer")
            #expect(old.createdAt.timeIntervalSince(before) > -1 && old.createdAt.timeIntervalSinceNow < 1, "created now: \(old.createdAt)")
            #expect(abs(old.expiresAt.timeIntervalSince(old.createdAt) - 86_400) < 0.01, "one day, not the default 30: \(old.expiresAt)")
            #expect(old.response["id"]?.stringValue == oldID)

            // The store keeps milliseconds: the next response is kept later than this one (a time between their
            // expiries must exist), which a fast machine could otherwise do within the same millisecond.
            try await waitUntil { Date() > old.createdAt.addingTimeInterval(0.005) }
            let freshID = try await Self.create(gw, key: key, "second")
            let fresh = try #require(try await store.response(id: freshID, tenantID: tenantID))
            #expect(abs(fresh.expiresAt.timeIntervalSince(fresh.createdAt) - 86_400) < 0.01)
            try #require(fresh.expiresAt > old.expiresAt.addingTimeInterval(0.001), "\(fresh.expiresAt) after \(old.expiresAt)")

            var logger = Logger(label: "retention-test")
            logger.logLevel = .critical
            let maintenance = MaintenanceService(gateway: gw.gateway, interval: .seconds(3_600), logger: logger)
            await maintenance.purge(now: old.expiresAt.addingTimeInterval(-1))
            #expect(try await gw.request(.GET, "/v1/responses/\(oldID)", key: key).status == 200, "not purged before its expiry")

            await maintenance.purge(now: old.expiresAt.addingTimeInterval(0.001))
            #expect(try await store.response(id: oldID, tenantID: tenantID, now: old.createdAt) == nil, "deleted, not only hidden by its expiry")
            let gone = try await gw.request(.GET, "/v1/responses/\(oldID)", key: key)
            #expect(gone.status == 404, "\(gone.text)")
            let continued = try await gw.request(
                .POST, "/v1/responses", key: key, json: ["model": "echo", "input": "again", "previous_response_id": .string(oldID)])
            #expect(continued.status == 404)
            #expect(continued.errorCode == "previous_response_not_found")

            let kept = try await gw.request(.GET, "/v1/responses/\(freshID)", key: key)
            #expect(kept.status == 200, "a response before its expiry survives the purge")
            #expect(kept.json["id"]?.stringValue == freshID)
            #expect(try await store.response(id: freshID, tenantID: tenantID) == fresh)
        }
    }
}
