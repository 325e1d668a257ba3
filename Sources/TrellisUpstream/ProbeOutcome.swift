/// What an active health check (`GET {base_url}/models`) found.
public enum ProbeOutcome: Sendable, Equatable {
    /// It answered 2xx.
    case healthy
    /// It answered with this status, outside 2xx.
    case status(Int)
    /// It did not answer: the failure's label (`connect`, `timeout`, …).
    case unreachable(String)

    /// Whether the server is up and answering: 2xx, or a 4xx other than 429 (no `/models` route, a key it
    /// dislikes: it answered all the same).
    public var serverIsUp: Bool {
        switch self {
        case .healthy: true
        case .status(let code): (400..<500).contains(code) && code != 429
        case .unreachable: false
        }
    }

    /// The reason recorded for a server that is not up (`status_503`, `connect`, …); nil for one that is.
    public var failureReason: String? {
        guard !serverIsUp else { return nil }
        switch self {
        case .healthy: return nil
        case .status(let code): return "status_\(code)"
        case .unreachable(let label): return label
        }
    }
}
