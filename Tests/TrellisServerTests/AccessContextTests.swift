import Foundation
import Logging
import Testing
import TrellisCore

@testable import TrellisServer

/// The access rules as the request contexts state them, checked without a server: what each context
/// guarantees once built, and the exact status and message of every refusal.
@Suite struct AccessContextTests {
    static let logger = Logger(label: "access-test")

    static func key(tenant: String = "acme", scopes: Set<Scope>) -> TenantKey {
        TenantKey(
            id: "key_\(tenant)", name: "k", prefix: "trk-abcd", tenantID: "tnt_\(tenant)", tenantName: tenant, scopes: scopes,
            models: ModelAllowlist(["*"]), rpm: nil, tpm: nil, expiresAt: nil)
    }

    static let snapshot = CatalogSnapshot(
        generation: 1,
        tenants: [
            Tenant(id: "tnt_acme", name: "acme", createdAt: Date(timeIntervalSince1970: 0)),
            Tenant(id: "tnt_other", name: "other", createdAt: Date(timeIntervalSince1970: 0)),
        ], keys: [], upstreams: [], models: [])

    static func authenticated(_ principal: Principal?) throws -> AuthenticatedContext {
        try AuthenticatedContext(context: TrellisRequestContext(logger: logger, requestID: "req_1", principal: principal))
    }

    /// Runs `body`, which must throw a `TrellisError`, and returns it.
    static func refusal(_ body: () throws -> Void) -> TrellisError? {
        do {
            try body()
            return nil
        } catch {
            return error as? TrellisError
        }
    }

    @Test func anAuthenticatedContextNeedsAPrincipalAndCarriesTheRequest() throws {
        let missing = Self.refusal { _ = try Self.authenticated(nil) }
        #expect(missing?.status == 401)
        #expect(missing?.code == TrellisError.missingKey.code)
        let context = try Self.authenticated(.tenantKey(Self.key(scopes: [.manage])))
        #expect(context.requestID == "req_1")
        #expect(context.actor == "key:trk-abcd")
        #expect(try Self.authenticated(.operator).actor == "operator")
    }

    @Test func theOperatorContextAdmitsTheOperatorOnly() throws {
        let context = try OperatorContext(context: try Self.authenticated(.operator))
        #expect(context.actor == "operator")
        for scopes: Set<Scope> in [[.manage], [.inference, .manage, .usage]] {
            let refused = Self.refusal { _ = try OperatorContext(context: try Self.authenticated(.tenantKey(Self.key(scopes: scopes)))) }
            #expect(refused?.status == 403)
            #expect(refused?.message == "Only the operator key may do this.")
        }
    }

    @Test func theTenantContextAdmitsInferenceKeysOnly() throws {
        let context = try TenantContext(context: try Self.authenticated(.tenantKey(Self.key(scopes: [.inference]))))
        #expect(context.key.tenantID == "tnt_acme")
        #expect(context.requestID == "req_1")
        let byOperator = Self.refusal { _ = try TenantContext(context: try Self.authenticated(.operator)) }
        #expect(byOperator?.status == 403)
        #expect(byOperator?.message == "The operator key cannot call the OpenAI API; issue a tenant key with the 'inference' scope.")
        let withoutScope = Self.refusal { _ = try TenantContext(context: try Self.authenticated(.tenantKey(Self.key(scopes: [.manage, .usage])))) }
        #expect(withoutScope?.status == 403)
        #expect(withoutScope?.message == "This key does not have the 'inference' scope.")
        let usage = Self.refusal { _ = try context.tenantKey(scope: .usage) }
        #expect(usage?.message == "This key does not have the 'usage' scope.")
    }

    @Test func aManageKeyActsForItsTenantAndTheOperatorForAll() throws {
        #expect(try Self.authenticated(.operator).manageKey() == nil)
        let manager = Self.key(scopes: [.manage])
        #expect(try Self.authenticated(.tenantKey(manager)).manageKey() == manager)
        let refused = Self.refusal { _ = try Self.authenticated(.tenantKey(Self.key(scopes: [.inference]))).manageKey() }
        #expect(refused?.status == 403)
        #expect(refused?.message == "This key does not have the 'manage' scope.")
    }

    @Test func anotherTenantIsMissingBeforeTheScopeIsLookedAt() throws {
        let snapshot = Self.snapshot
        let operatorContext = try Self.authenticated(.operator)
        #expect(try operatorContext.managedTenant(named: "other", in: snapshot).id == "tnt_other")
        #expect(Self.refusal { _ = try operatorContext.managedTenant(named: "nobody", in: snapshot) }?.status == 404)
        let manager = try Self.authenticated(.tenantKey(Self.key(scopes: [.manage])))
        #expect(try manager.managedTenant(named: "acme", in: snapshot).id == "tnt_acme")
        #expect(Self.refusal { _ = try manager.managedTenant(named: "other", in: snapshot) }?.status == 404)
        let inferenceOnly = try Self.authenticated(.tenantKey(Self.key(scopes: [.inference])))
        // Another tenant's name answers as a missing one even to a key that could not manage anything.
        #expect(Self.refusal { _ = try inferenceOnly.managedTenant(named: "other", in: snapshot) }?.status == 404)
        #expect(Self.refusal { _ = try inferenceOnly.managedTenant(named: "acme", in: snapshot) }?.status == 403)
    }

    @Test func tenantOnlyRoutesRefuseTheOperatorWithTheirOwnMessage() throws {
        let message = "Search acts for a tenant: use a tenant key with the 'inference' or 'manage' scope."
        let refused = Self.refusal { _ = try Self.authenticated(.operator).tenantKey(operatorRefusal: message) }
        #expect(refused?.status == 403)
        #expect(refused?.message == message)
        let key = Self.key(scopes: [.usage])
        #expect(try Self.authenticated(.tenantKey(key)).tenantKey(operatorRefusal: message) == key)
    }
}
