import TrellisCore

// Namespaced objects (models, prompts, adapters, knowledge bases): which tenant a caller creates in, and which
// object a name means for it. Another tenant's objects answer exactly as missing ones do (404).
extension AuthenticatedContext {
    /// The tenant an object being created belongs to: the body's `tenant` (which a manage key may only set to
    /// its own), else the manage key's tenant, else shared (operator).
    func owningTenant(_ body: BodyReader, in snapshot: CatalogSnapshot) throws -> Tenant? {
        let caller = try manageKey()
        if let tenantName = try body.string("tenant", maxBytes: 63) {
            return try managedTenant(named: tenantName, in: snapshot)
        }
        if let caller { return snapshot.tenants[caller.tenantID] }
        return nil
    }

    /// Finds a namespaced object the way the contract says: for a manage key its own first, then shared
    /// (read-only); for the operator the tenant named by `?tenant=` (`tenantQuery`), else a shared one, else
    /// the only tenant's that has it.
    func resolveNamed<T>(
        _ name: String, kind: String, in snapshot: CatalogSnapshot, tenantQuery: String?, forWriting: Bool,
        shared: (String) -> T?, owned: (String, String) -> T?, owners: (String) -> [String]
    ) throws -> T {
        let missing = TrellisError.notFound("The \(kind) '\(name.prefix(128))'")
        switch principal {
        case .operator:
            if let tenantName = tenantQuery {
                guard let tenant = snapshot.tenant(named: tenantName), let found = owned(name, tenant.id) else { throw missing }
                return found
            }
            if let found = shared(name) { return found }
            let who = owners(name)
            if who.count == 1, let found = owned(name, who[0]) { return found }
            if who.count > 1 { throw TrellisError.conflict("Several tenants have a \(kind) named '\(name.prefix(128))'; add '?tenant=NAME'.") }
            throw missing
        case .tenantKey(let key):
            guard key.scopes.contains(.manage) else { throw TrellisError.permissionDenied(Principal.manageScopeMissing) }
            if let own = owned(name, key.tenantID) { return own }
            if let found = shared(name) {
                if forWriting { throw TrellisError.permissionDenied("Shared \(kind)s are managed by the operator.") }
                return found
            }
            throw missing
        }
    }
}
