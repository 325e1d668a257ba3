import Hummingbird
import Logging
import NIOCore
import TrellisCore

/// The per-request context every route starts in: Hummingbird's core storage, the request id every response
/// carries, and the caller once `AuthMiddleware` has identified one. Routes that need a key do not read
/// `principal` here: they run in an ``AuthenticatedContext`` (or a narrower child of it), where the caller is
/// not optional.
public struct TrellisRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestID: String
    /// Set by `AuthMiddleware` only; nil until it has run (and on routes that need no key).
    public var principal: Principal?
    /// The connection, to learn when its client goes away.
    public let channel: (any Channel)?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = ""
        self.principal = nil
        self.channel = source.channel
    }

    /// A context with no connection behind it, for checking the rules of the contexts built from it.
    init(logger: Logger, requestID: String = "", principal: Principal? = nil) {
        self.coreContext = .init(source: DetachedSource(logger: logger))
        self.requestID = requestID
        self.principal = principal
        self.channel = nil
    }

    private struct DetachedSource: RequestContextSource {
        let logger: Logger
    }
}
