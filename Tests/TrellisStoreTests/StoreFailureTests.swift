import Foundation
import Testing
import TrellisCore
import TrellisStore
import TrellisStoreTestSupport

@Suite("Store failures a client can see")
struct StoreFailureTests {
    @Test("PostgreSQL refuses text with a NUL character with a 400 and stores nothing, never a 500")
    func nulText() async throws {
        let temp = try await StoreEngineFactory.postgres.make()
        defer { temp.remove() }
        let tenant = try await temp.store.createTenant(name: "acme", actor: "operator")
        await #expect(throws: TrellisError.invalidRequest("Text with a NUL character (\\u0000) cannot be stored.", code: "invalid_text")) {
            _ = try await temp.store.createModel(
                name: "assistant", tenantID: tenant.id, description: "before\u{0}after", spec: Fixtures.spec, actor: "operator")
        }
        #expect(try await temp.store.loadSnapshot().allModels.isEmpty)
    }
}
