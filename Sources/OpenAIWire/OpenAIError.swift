/// The error object every failed call answers with: `{"error":{"message","type","param","code"}}`, the shape
/// OpenAI's SDKs parse into their exception classes.
public struct OpenAIError: Sendable, Equatable {
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?

    public init(message: String, type: String, param: String? = nil, code: String? = nil) {
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    public var json: JSONValue {
        .object(
            JSONObject([
                .init(
                    key: "error",
                    value: .object(
                        JSONObject([
                            .init(key: "message", value: .string(message)),
                            .init(key: "type", value: .string(type)),
                            .init(key: "param", value: .optionalString(param)),
                            .init(key: "code", value: .optionalString(code)),
                        ])
                    )
                )
            ])
        )
    }

    public var encoded: [UInt8] { JSONWriter.encode(json) }

    /// Reads an error body in the shapes OpenAI-compatible servers use: OpenAI's `{"error":{...}}`, vLLM's
    /// `{"object":"error","message","type","code": 400}` (integer code), FastAPI's `{"detail": ...}`, and
    /// `{"error": "text"}`. Returns nil when the body is none of them.
    public static func parse(upstreamBody bytes: some Collection<UInt8>) -> OpenAIError? {
        guard let value = try? JSONParser.parse(bytes), case .object(let root) = value else { return nil }
        func text(_ v: JSONValue?) -> String? {
            switch v {
            case .string(let s): s
            case .number(let n): n.literal
            default: nil
            }
        }
        if case .object(let inner)? = root["error"] {
            let message = text(inner["message"]) ?? "upstream error"
            return OpenAIError(message: message, type: text(inner["type"]) ?? "upstream_error", param: text(inner["param"]), code: text(inner["code"]))
        }
        if case .string(let message)? = root["error"] {
            return OpenAIError(message: message, type: "upstream_error")
        }
        if let message = text(root["message"]) {
            return OpenAIError(message: message, type: text(root["type"]) ?? "upstream_error", param: text(root["param"]), code: text(root["code"]))
        }
        if let detail = root["detail"] {
            switch detail {
            case .string(let s):
                return OpenAIError(message: s, type: "upstream_error")
            case .array(let items):
                // FastAPI validation errors: [{"loc": [...], "msg": "...", "type": "..."}]
                let messages = items.compactMap { text($0["msg"]) }
                return OpenAIError(message: messages.isEmpty ? "invalid request" : messages.joined(separator: "; "), type: "upstream_error")
            default:
                return nil
            }
        }
        return nil
    }
}
