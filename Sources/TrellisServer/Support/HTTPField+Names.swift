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

extension HTTPFields {
    /// The value of the field `name` as `self[name]` gives it, without the generic join that `self[name]` runs even
    /// for a field that appears once (a few thousand instructions per read in a release build, four reads per
    /// request). A field that appears more than once is still joined by `self[name]`, so the answer is the same.
    func value(_ name: HTTPField.Name) -> String? {
        guard let first = firstIndex(where: { $0.name == name }) else { return nil }
        if self[index(after: first)...].contains(where: { $0.name == name }) { return self[name] }
        return self[first].value
    }
}
