import HTTPTypes
import Hummingbird
import NIOCore
import OpenAIWire
import TrellisCore
import TrellisStore

/// The per-request context: Hummingbird's core storage, the request id every response carries, and the
/// authenticated caller once the auth middleware has run.
public struct TrellisRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestID: String
    public var principal: Principal?
    /// The connection, to learn when its client goes away.
    public let channel: (any Channel)?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = ""
        self.principal = nil
        self.channel = source.channel
    }

    /// The caller, who must be a tenant key with `scope`; the operator key is refused here (403) because the
    /// OpenAI API acts for a tenant.
    func tenantKey(scope: Scope) throws -> TenantKey {
        switch principal {
        case .tenantKey(let key)?:
            guard key.scopes.contains(scope) else {
                throw TrellisError.permissionDenied("This key does not have the '\(scope.rawValue)' scope.")
            }
            return key
        case .operator?:
            throw TrellisError.permissionDenied("The operator key cannot call the OpenAI API; issue a tenant key with the 'inference' scope.")
        case nil:
            throw TrellisError.missingKey
        }
    }
}
