/// What a tenant key may do.
public enum Scope: String, Sendable, Hashable, CaseIterable, Codable {
    /// The OpenAI-compatible API under `/v1`.
    case inference
    /// The tenant's own catalog objects and keys under `/admin/v1`.
    case manage
    /// The tenant's own usage and feedback.
    case usage
}
