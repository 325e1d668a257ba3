import Foundation

/// One row of usage: a request that reached the point of choosing a model, whether it succeeded or not.
public struct UsageEvent: Sendable, Equatable {
    public var requestID: String
    public var at: Date
    public var endpoint: String
    public var tenantID: String
    public var keyID: String
    public var endUser: String?
    public var model: String
    public var modelVersion: Int?
    public var upstream: String?
    public var promptTokens: Int
    public var completionTokens: Int
    /// The token counts are an estimate because the upstream reported none.
    public var estimated: Bool
    public var latencyMs: Double
    public var ttftMs: Double?
    public var status: Int
    public var errorCode: String?
    public var stream: Bool
    /// Time spent searching knowledge bases, separately from the model's time.
    public var retrievalMs: Double?
    /// Estimated cost in millionths of the currency unit (from the upstream's pricing).
    public var costMicros: Int = 0
    /// For a router model's request: the child that answered (`name@version`).
    public var routedTo: String?
    /// For a router model's request: what the same tokens would have cost at the router's default child.
    public var baselineCostMicros: Int?

    public init(
        requestID: String, at: Date, endpoint: String, tenantID: String, keyID: String, endUser: String?, model: String,
        modelVersion: Int?, upstream: String?, promptTokens: Int, completionTokens: Int, estimated: Bool, latencyMs: Double,
        ttftMs: Double?, status: Int, errorCode: String?, stream: Bool, retrievalMs: Double? = nil
    ) {
        self.retrievalMs = retrievalMs
        self.requestID = requestID
        self.at = at
        self.endpoint = endpoint
        self.tenantID = tenantID
        self.keyID = keyID
        self.endUser = endUser
        self.model = model
        self.modelVersion = modelVersion
        self.upstream = upstream
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.estimated = estimated
        self.latencyMs = latencyMs
        self.ttftMs = ttftMs
        self.status = status
        self.errorCode = errorCode
        self.stream = stream
    }
}
