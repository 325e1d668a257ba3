import Hummingbird
import NIOCore
import TrellisCore

/// The context of every route that needs a key: built from ``TrellisRequestContext`` once `AuthMiddleware`
/// has identified the caller, so `principal` is not optional. Routes that need no key (health, metrics, the
/// console's files) never see this type; routes that need one cannot be registered without it.
public struct AuthenticatedContext: ChildRequestContext {
    public typealias ParentContext = TrellisRequestContext
    public var coreContext: CoreRequestContextStorage
    public let requestID: String
    /// The caller, identified by its bearer key.
    public let principal: Principal
    /// The connection, to learn when its client goes away.
    public let channel: (any Channel)?

    /// Refuses (401) a request no key was identified for. Behind `AuthMiddleware`, which refuses those first,
    /// it does not happen; the check makes a route registered without the middleware safe too.
    public init(context: TrellisRequestContext) throws {
        guard let principal = context.principal else { throw TrellisError.missingKey }
        self.coreContext = context.coreContext
        self.requestID = context.requestID
        self.principal = principal
        self.channel = context.channel
    }

    /// The audit log's name for the caller.
    var actor: String { principal.actor }

    /// Nothing for the operator; 403 for a tenant key.
    func requireOperator() throws { try principal.requireOperator() }

    /// The tenant key managing its own tenant, or nil for the operator; 403 for a key without `manage`.
    func manageKey() throws -> TenantKey? { try principal.manageKey() }

    /// The caller as a tenant key with `scope` (the OpenAI API's rule: the operator is refused).
    func tenantKey(scope: Scope) throws -> TenantKey { try principal.tenantKey(scope: scope) }

    /// The caller as a tenant key; the operator is refused with `operatorRefusal`.
    func tenantKey(operatorRefusal: String) throws -> TenantKey { try principal.tenantKey(operatorRefusal: operatorRefusal) }

    /// The tenant named `name` if the caller may manage it (another tenant's answers 404, as a missing one).
    func managedTenant(named name: String, in snapshot: CatalogSnapshot) throws -> Tenant {
        try principal.managedTenant(named: name, in: snapshot)
    }
}

/// The context of operator-only routes: built from an ``AuthenticatedContext`` whose caller is the operator
/// key; any tenant key is refused (403) before the handler runs.
public struct OperatorContext: ChildRequestContext {
    public typealias ParentContext = AuthenticatedContext
    public var coreContext: CoreRequestContextStorage
    public let requestID: String
    public let channel: (any Channel)?

    public init(context: AuthenticatedContext) throws {
        try context.requireOperator()
        self.coreContext = context.coreContext
        self.requestID = context.requestID
        self.channel = context.channel
    }

    /// The audit log's name for the caller.
    var actor: String { Principal.operator.actor }
    /// The caller.
    var principal: Principal { .operator }
}

/// The context of the OpenAI API's inference routes (models, chat completions, embeddings): built from an
/// ``AuthenticatedContext`` whose caller is a tenant key with the `inference` scope. The operator key and keys
/// without the scope are refused (403) before the handler runs.
public struct TenantContext: ChildRequestContext {
    public typealias ParentContext = AuthenticatedContext
    public var coreContext: CoreRequestContextStorage
    public let requestID: String
    /// The caller's key; it has the `inference` scope.
    public let key: TenantKey
    /// The connection, to learn when its client goes away.
    public let channel: (any Channel)?

    public init(context: AuthenticatedContext) throws {
        self.key = try context.tenantKey(scope: .inference)
        self.coreContext = context.coreContext
        self.requestID = context.requestID
        self.channel = context.channel
    }

    /// The caller.
    var principal: Principal { .tenantKey(key) }

    /// The caller's key, when it also has `scope` (every key here has `inference`).
    func tenantKey(scope: Scope) throws -> TenantKey { try key.requiring(scope) }
}
