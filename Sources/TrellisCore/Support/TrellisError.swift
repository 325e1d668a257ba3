import OpenAIWire

/// Every error a client can see: its HTTP status, OpenAI error `type` and `code`, a message written for the
/// client, and the offending parameter when there is one. Nothing else about a failure (stack, SQL, upstream
/// URLs, secrets) ever reaches a response.
public struct TrellisError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var type: String
    public var code: String?
    public var message: String
    public var param: String?
    /// Extra response headers, such as `Retry-After` or `Allow`.
    public var headers: [(String, String)]

    public init(status: Int, type: String, code: String?, message: String, param: String? = nil, headers: [(String, String)] = []) {
        self.status = status
        self.type = type
        self.code = code
        self.message = message
        self.param = param
        self.headers = headers
    }

    public static func == (lhs: TrellisError, rhs: TrellisError) -> Bool {
        lhs.status == rhs.status && lhs.type == rhs.type && lhs.code == rhs.code && lhs.message == rhs.message
            && lhs.param == rhs.param && lhs.headers.elementsEqual(rhs.headers, by: { $0 == $1 })
    }

    public var description: String { "\(status) \(code ?? type): \(message)" }

    public var openAI: OpenAIError { OpenAIError(message: message, type: type, param: param, code: code) }

    // MARK: 4xx

    public static func invalidRequest(_ message: String, param: String? = nil, code: String? = "invalid_request") -> TrellisError {
        TrellisError(status: 400, type: "invalid_request_error", code: code, message: message, param: param)
    }

    public static func invalidJSON(_ detail: String) -> TrellisError {
        TrellisError(status: 400, type: "invalid_request_error", code: "invalid_json", message: "The request body is not valid JSON: \(detail).")
    }

    public static func missingField(_ name: String) -> TrellisError {
        invalidRequest("'\(name)' is required.", param: name, code: "missing_required_parameter")
    }

    public static func invalidField(_ name: String, _ problem: String) -> TrellisError {
        invalidRequest("'\(name)' \(problem).", param: name, code: "invalid_value")
    }

    public static let missingKey = TrellisError(
        status: 401, type: "invalid_request_error", code: "invalid_api_key",
        message: "No API key provided. Send it as 'Authorization: Bearer <key>'.")

    public static let invalidKey = TrellisError(
        status: 401, type: "invalid_request_error", code: "invalid_api_key", message: "Incorrect API key provided.")

    public static func permissionDenied(_ message: String) -> TrellisError {
        TrellisError(status: 403, type: "permission_error", code: "permission_denied", message: message)
    }

    public static func modelNotFound(_ name: String) -> TrellisError {
        TrellisError(
            status: 404, type: "invalid_request_error", code: "model_not_found",
            message: "The model '\(name.prefix(200))' does not exist or you do not have access to it.", param: "model")
    }

    public static func notFound(_ what: String) -> TrellisError {
        TrellisError(status: 404, type: "invalid_request_error", code: "not_found", message: "\(what) was not found.")
    }

    public static func routeNotFound(_ method: String, _ path: String) -> TrellisError {
        TrellisError(status: 404, type: "invalid_request_error", code: "not_found", message: "Unknown route: \(method) \(path.prefix(200)).")
    }

    public static func methodNotAllowed(_ method: String, allowed: [String]) -> TrellisError {
        TrellisError(
            status: 405, type: "invalid_request_error", code: "method_not_allowed",
            message: "Method \(method) is not allowed here; use \(allowed.joined(separator: ", ")).",
            headers: [("Allow", allowed.joined(separator: ", "))])
    }

    public static func conflict(_ message: String) -> TrellisError {
        TrellisError(status: 409, type: "invalid_request_error", code: "conflict", message: message)
    }

    public static func tooLarge(limit: Int) -> TrellisError {
        TrellisError(
            status: 413, type: "invalid_request_error", code: "request_too_large",
            message: "The request body is larger than the limit of \(limit) bytes.")
    }

    /// 499 `client_closed_request`: the client went away (or the server is stopping) before its answer was
    /// written; the request is recorded and counted with it.
    public static func clientClosed(_ message: String = "The request was cancelled.") -> TrellisError {
        TrellisError(status: 499, type: "invalid_request_error", code: "client_closed_request", message: message)
    }

    public static func unsupportedMediaType(_ message: String) -> TrellisError {
        TrellisError(status: 415, type: "invalid_request_error", code: "unsupported_media_type", message: message)
    }

    // MARK: 5xx

    public static func upstream(status: Int = 502, _ message: String, code: String = "upstream_error") -> TrellisError {
        TrellisError(status: status, type: "upstream_error", code: code, message: message)
    }

    public static func upstreamTimeout(_ message: String) -> TrellisError {
        TrellisError(status: 504, type: "upstream_error", code: "upstream_timeout", message: message)
    }

    public static func unavailable(_ message: String, retryAfter: Int = 1) -> TrellisError {
        TrellisError(
            status: 503, type: "server_error", code: "service_unavailable", message: message,
            headers: [("Retry-After", String(retryAfter))])
    }

    public static let internalError = TrellisError(
        status: 500, type: "server_error", code: "internal_error", message: "The server had an error while processing your request.")
}
