import TrellisCore

// The access rules every authenticated route applies, as pure decisions on the caller. The request contexts
// (`AuthenticatedContext`, `OperatorContext`, `TenantContext`) answer with these, so that the messages and
// statuses are the same wherever a rule is checked.
extension Principal {
    static let operatorOnly = "Only the operator key may do this."
    static let manageScopeMissing = "This key does not have the 'manage' scope."
    static let operatorOnOpenAIAPI = "The operator key cannot call the OpenAI API; issue a tenant key with the 'inference' scope."

    /// Nothing for the operator; 403 for any tenant key.
    func requireOperator() throws {
        guard case .operator = self else { throw TrellisError.permissionDenied(Self.operatorOnly) }
    }

    /// The key acting for its own tenant with the `manage` scope, or nil for the operator (who manages every
    /// tenant); 403 for a tenant key without `manage`.
    func manageKey() throws -> TenantKey? {
        switch self {
        case .operator:
            return nil
        case .tenantKey(let key):
            guard key.scopes.contains(.manage) else { throw TrellisError.permissionDenied(Self.manageScopeMissing) }
            return key
        }
    }

    /// The caller as a tenant key with `scope`. The operator is refused (403) because the OpenAI API acts for a
    /// tenant.
    func tenantKey(scope: Scope) throws -> TenantKey {
        try tenantKey(operatorRefusal: Self.operatorOnOpenAIAPI).requiring(scope)
    }

    /// The caller as a tenant key, whatever its scopes; the operator is refused (403) with `operatorRefusal`,
    /// which says what the route acts for.
    func tenantKey(operatorRefusal: String) throws -> TenantKey {
        switch self {
        case .tenantKey(let key): return key
        case .operator: throw TrellisError.permissionDenied(operatorRefusal)
        }
    }

    /// The tenant the caller may manage by that name: any for the operator; its own for a tenant key with
    /// `manage`. Another tenant's name is answered as a missing one (404), before the scope is looked at.
    func managedTenant(named name: String, in snapshot: CatalogSnapshot) throws -> Tenant {
        let missing = TrellisError.notFound("The tenant '\(name.prefix(64))'")
        switch self {
        case .operator:
            guard let tenant = snapshot.tenant(named: name) else { throw missing }
            return tenant
        case .tenantKey(let key):
            guard key.tenantName == name, let tenant = snapshot.tenants[key.tenantID] else { throw missing }
            guard key.scopes.contains(.manage) else { throw TrellisError.permissionDenied(Self.manageScopeMissing) }
            return tenant
        }
    }
}

extension TenantKey {
    /// This key, when it has `scope`; 403 naming the scope otherwise.
    func requiring(_ scope: Scope) throws -> TenantKey {
        guard scopes.contains(scope) else { throw TrellisError.permissionDenied("This key does not have the '\(scope.rawValue)' scope.") }
        return self
    }

    /// This key, when it has at least one of `scopes`; 403 with `message` otherwise.
    func requiring(anyOf scopes: Set<Scope>, _ message: @autoclosure () -> String) throws -> TenantKey {
        guard !self.scopes.isDisjoint(with: scopes) else { throw TrellisError.permissionDenied(message()) }
        return self
    }
}
