import OpenAIWire

/// JSON-RPC 2.0 as the Model Context Protocol uses it: one message per HTTP POST (a batch, which the 2025-03-26
/// revision allowed, is an array of them), each a request (with an `id`), a notification (without) or a response
/// from the client (with `result` or `error`).
public enum JSONRPC {
    /// The standard error codes.
    public enum Code {
        public static let parseError = -32_700
        public static let invalidRequest = -32_600
        public static let methodNotFound = -32_601
        public static let invalidParams = -32_602
        public static let internalError = -32_603
    }

    /// One incoming message.
    public enum Message: Sendable, Equatable {
        case request(id: JSONValue, method: String, params: JSONObject)
        case notification(method: String, params: JSONObject)
        /// A response to a request of the server's (Trellis sends none, so these are only acknowledged).
        case response(id: JSONValue)
    }

    /// An error for one message: its code and text, and the id it answers (null when the message had none usable).
    public struct Failure: Error, Sendable, Equatable {
        public var code: Int
        public var message: String
        public var id: JSONValue

        public init(code: Int, message: String, id: JSONValue = .null) {
            self.code = code
            self.message = message
            self.id = id
        }

        public var json: JSONValue { JSONRPC.error(id: id, code: code, message: message) }
    }

    /// Reads one message: `jsonrpc` must be "2.0", an id a string or an integer, `params` an object when present.
    public static func message(_ value: JSONValue) throws(Failure) -> Message {
        guard case .object(let object) = value else { throw Failure(code: Code.invalidRequest, message: "A message must be a JSON object.") }
        let id = object["id"]
        if let id, !isValidID(id) {
            throw Failure(code: Code.invalidRequest, message: "'id' must be a string or an integer.")
        }
        guard object["jsonrpc"]?.stringValue == "2.0" else {
            throw Failure(code: Code.invalidRequest, message: "'jsonrpc' must be \"2.0\".", id: id ?? .null)
        }
        guard case .string(let method)? = object["method"] else {
            if let id, object["result"] != nil || object["error"] != nil { return .response(id: id) }
            throw Failure(code: Code.invalidRequest, message: "'method' is required.", id: id ?? .null)
        }
        var params = JSONObject()
        switch object["params"] {
        case nil, .null?: break
        case .object(let p)?: params = p
        default: throw Failure(code: Code.invalidParams, message: "'params' must be an object.", id: id ?? .null)
        }
        guard let id else { return .notification(method: method, params: params) }
        return .request(id: id, method: method, params: params)
    }

    static func isValidID(_ id: JSONValue) -> Bool {
        switch id {
        case .string: true
        case .number(let n): n.intValue != nil
        default: false
        }
    }

    public static func result(id: JSONValue, _ result: JSONValue) -> JSONValue {
        ["jsonrpc": "2.0", "id": id, "result": result]
    }

    public static func error(id: JSONValue, code: Int, message: String) -> JSONValue {
        ["jsonrpc": "2.0", "id": id, "error": ["code": .int(code), "message": .string(message)]]
    }
}
