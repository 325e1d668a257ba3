import OpenAIWire
import TrellisCore

/// Why a call to an upstream failed, in a form safe to log and to turn into a client error: a short code for
/// metrics labels, the upstream's status when it answered, and its error message when it sent one.
public struct UpstreamFailure: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case connect
        case timeout
        case status
        case protocolError = "protocol"
        case cancelled
    }

    /// Which timeout fired. The raw value names it in the client's message ("first byte timeout").
    public enum Phase: String, Sendable, Equatable, CustomStringConvertible {
        case connect
        case firstByte = "first byte"
        case idle
        case total
        case probe

        public var description: String { rawValue }
    }

    public var kind: Kind
    public var upstream: String
    public var status: Int?
    public var upstreamError: OpenAIError?
    public var retryAfter: String?
    /// Which timeout fired, for `.timeout`.
    public var phase: Phase?

    public init(kind: Kind, upstream: String, status: Int? = nil, upstreamError: OpenAIError? = nil, retryAfter: String? = nil, phase: Phase? = nil) {
        self.kind = kind
        self.upstream = upstream
        self.status = status
        self.upstreamError = upstreamError
        self.retryAfter = retryAfter
        self.phase = phase
    }

    /// A label-safe summary: `connect`, `timeout`, `status_503`, …
    public var label: String {
        if kind == .status, let status { return "status_\(status)" }
        return kind.rawValue
    }

    public var description: String { "upstream \(upstream): \(label)" }

    /// Worth trying another deployment: nothing reached the client, and the failure is the upstream's, not the
    /// request's (``DispatchPolicy/movesOn(after:status:)``).
    public var isRetryable: Bool {
        DispatchPolicy.movesOn(after: dispatchFailure)
    }

    /// The failure as the dispatch policy tells failures apart.
    public var dispatchFailure: DispatchPolicy.Failure {
        switch kind {
        case .connect, .timeout, .protocolError: .noAnswer
        case .status: .status(status)
        case .cancelled: .cancelled
        }
    }

    /// The error the client sees. The upstream's own message is passed on (trimmed) only for problems with the
    /// request itself (400/413/422), which the caller can act on; authentication, not-found and server errors
    /// are replaced, since they describe Trellis's configuration or the server's insides.
    public var clientError: TrellisError {
        let upstreamMessage = upstreamError.map { String($0.message.prefix(1000)) }
        switch kind {
        case .connect:
            return .upstream("Could not connect to the model server.", code: "upstream_unavailable")
        case .timeout:
            return .upstreamTimeout("The model server did not answer in time\(phase.map { " (\($0.rawValue) timeout)" } ?? "").")
        case .cancelled:
            return .clientClosed("The client closed the request.")
        case .protocolError:
            return .upstream("The model server sent an invalid response.", code: "upstream_invalid_response")
        case .status:
            let status = self.status ?? 502
            switch status {
            case 400, 413, 422:
                return .invalidRequest(
                    upstreamMessage ?? "The model server rejected the request.", param: upstreamError?.param,
                    code: upstreamError?.code ?? "upstream_rejected_request")
            case 401, 403:
                return .upstream("The model server refused the gateway's credentials.", code: "upstream_auth_failed")
            case 404:
                return .upstream("The model server does not serve the model this industry model is configured with.", code: "upstream_model_not_found")
            case 408:
                return .upstreamTimeout("The model server timed out.")
            case 429:
                var e = TrellisError(
                    status: 429, type: "rate_limit_error", code: "upstream_rate_limited",
                    message: "The model server is rate limiting requests; try again later.")
                if let retryAfter { e.headers.append(("Retry-After", retryAfter)) }
                return e
            default:
                // Server errors are not relayed word for word: model servers put stack traces and file paths there.
                return .upstream("The model server failed to answer (HTTP \(status)).")
            }
        }
    }
}
