import Foundation
import Testing
import TrellisCore

@Suite("CatalogSnapshot")
struct CatalogSnapshotTests {
    @Test("keys are found by their digest, and only by it")
    func keyLookup() throws {
        let one = APIKeys.generate()
        let two = APIKeys.generate()
        let snapshot = CatalogSnapshot(
            generation: 3, tenants: [Fixtures.tenant("acme")],
            keys: [(one.digest, Fixtures.key(tenant: "acme", id: "key_1")), (two.digest, Fixtures.key(tenant: "acme", id: "key_2"))],
            upstreams: [], models: [])
        #expect(snapshot.keyCount == 2)
        #expect(snapshot.generation == 3)
        #expect(snapshot.key(for: KeyDigest(of: one.key))?.id == "key_1")
        #expect(snapshot.key(for: KeyDigest(of: two.key))?.id == "key_2")
        #expect(snapshot.key(for: KeyDigest(of: APIKeys.generate().key)) == nil)
        #expect(snapshot.key(for: KeyDigest(of: one.prefix)) == nil)  // a prefix never authenticates
        #expect(CatalogSnapshot.empty.key(for: one.digest) == nil)
    }

    @Test("visible models: shared plus the tenant's own, own shadowing shared, sorted by name")
    func visibleModels() throws {
        let sharedAssistant = try Fixtures.model("assistant")
        let sharedBase = try Fixtures.model("base-llm")
        let acmeAssistant = try Fixtures.model("assistant", tenantID: "tnt_acme")
        let acmeClaims = try Fixtures.model("claims", tenantID: "tnt_acme")
        let globexZeta = try Fixtures.model("Zeta", tenantID: "tnt_globex")
        let snapshot = CatalogSnapshot(
            generation: 1, tenants: [], keys: [], upstreams: [],
            models: [acmeClaims, sharedBase, globexZeta, acmeAssistant, sharedAssistant])

        let acme = snapshot.visibleModels(tenantID: "tnt_acme")
        #expect(acme.map(\.name) == ["assistant", "base-llm", "claims"])
        #expect(acme.first?.tenantID == "tnt_acme")

        let globex = snapshot.visibleModels(tenantID: "tnt_globex")
        #expect(globex.map(\.name) == ["Zeta", "assistant", "base-llm"])  // byte order: upper case first
        #expect(globex.first { $0.name == "assistant" }?.tenantID == nil)

        #expect(snapshot.visibleModels(tenantID: nil).map(\.name) == ["assistant", "base-llm"])
        #expect(snapshot.visibleModels(tenantID: "tnt_unknown").map(\.name) == ["assistant", "base-llm"])
    }

    @Test("model(named:) resolves own first, then shared; never another tenant's")
    func modelLookup() throws {
        let shared = try Fixtures.model("assistant")
        let acme = try Fixtures.model("assistant", tenantID: "tnt_acme")
        let secret = try Fixtures.model("secret", tenantID: "tnt_acme")
        let snapshot = CatalogSnapshot(generation: 1, tenants: [], keys: [], upstreams: [], models: [shared, acme, secret])
        #expect(snapshot.model(named: "assistant", tenantID: "tnt_acme")?.id == acme.id)
        #expect(snapshot.model(named: "assistant", tenantID: "tnt_globex")?.id == shared.id)
        #expect(snapshot.model(named: "assistant", tenantID: nil)?.id == shared.id)
        #expect(snapshot.model(named: "secret", tenantID: "tnt_globex") == nil)
        #expect(snapshot.model(named: "secret", tenantID: nil) == nil)
        #expect(snapshot.sharedModel(named: "secret") == nil)
        #expect(snapshot.tenantModel(named: "secret", tenantID: "tnt_acme")?.id == secret.id)
    }

    @Test("tenantsOwningModel lists exactly the tenants with their own model of that name")
    func tenantsOwningModel() throws {
        let snapshot = CatalogSnapshot(
            generation: 1, tenants: [], keys: [], upstreams: [],
            models: [
                try Fixtures.model("assistant"), try Fixtures.model("assistant", tenantID: "tnt_a"), try Fixtures.model("assistant", tenantID: "tnt_b"),
                try Fixtures.model("other", tenantID: "tnt_c"),
            ])
        #expect(snapshot.tenantsOwningModel(named: "assistant").sorted() == ["tnt_a", "tnt_b"])
        #expect(snapshot.tenantsOwningModel(named: "other") == ["tnt_c"])
        #expect(snapshot.tenantsOwningModel(named: "nothing").isEmpty)
    }

    @Test("allModels: every model, sorted by tenant then name")
    func allModels() throws {
        let snapshot = CatalogSnapshot(
            generation: 1, tenants: [], keys: [], upstreams: [],
            models: [
                try Fixtures.model("b", tenantID: "tnt_b"), try Fixtures.model("a", tenantID: "tnt_b"), try Fixtures.model("z"),
                try Fixtures.model("a", tenantID: "tnt_a"), try Fixtures.model("c"),
            ])
        let all = snapshot.allModels.map { "\($0.tenantID ?? "-")/\($0.name)" }
        #expect(all == ["-/c", "-/z", "tnt_a/a", "tnt_b/a", "tnt_b/b"])
    }

    @Test("tenants and upstreams by name")
    func tenantsAndUpstreams() {
        let upstream = Upstream(
            id: "ups_1", name: "local", baseURL: "http://127.0.0.1:8081/v1", kind: .llamacpp, labels: [.private], apiKeyEnv: nil,
            timeouts: .default, createdAt: Fixtures.date)
        let snapshot = CatalogSnapshot(
            generation: 1, tenants: [Fixtures.tenant("acme"), Fixtures.tenant("globex")], keys: [], upstreams: [upstream], models: [])
        #expect(snapshot.tenant(named: "acme")?.id == "tnt_acme")
        #expect(snapshot.tenant(named: "nobody") == nil)
        #expect(snapshot.tenantIDsByName["globex"] == "tnt_globex")
        #expect(snapshot.upstreams["local"] == upstream)
    }
}
