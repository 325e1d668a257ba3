import HTTPTypes

extension HTTPField.Name {
    static let requestID = literal("x-request-id")
    static let modelVersion = literal("x-trellis-model-version")
    /// The child of a router model that produced the answer, `name@version`.
    static let routedTo = literal("x-trellis-routed-to")
    static let retryAfter = literal("retry-after")

    /// For header names written in the source: a literal that is not a valid token is a programming error.
    static func literal(_ name: String) -> HTTPField.Name {
        guard let field = HTTPField.Name(name) else { preconditionFailure("invalid header name literal: \(name)") }
        return field
    }
}
