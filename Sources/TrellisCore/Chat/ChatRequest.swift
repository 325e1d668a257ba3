import OpenAIWire

/// A chat-completion request as received: the body kept whole, plus the few fields Trellis reads.
public struct ChatRequest: Sendable {
    public var body: JSONObject
    public var modelReference: String
    public var stream: Bool
    /// The client asked for a usage chunk at the end of a stream (`stream_options.include_usage`).
    public var clientWantsUsage: Bool
    public var user: String?
    public var variables: [String: String]

    public static let roles: Set<String> = ["system", "developer", "user", "assistant", "tool", "function"]

    public struct Limits: Sendable {
        public var maxMessages: Int
        public init(maxMessages: Int = 2048) {
            self.maxMessages = maxMessages
        }
    }

    public static func parse(_ value: JSONValue, limits: Limits = Limits()) throws(TrellisError) -> ChatRequest {
        guard case .object(var body) = value else {
            throw .invalidRequest("The request body must be a JSON object.", code: "invalid_json")
        }
        guard let modelValue = body[ChatField.model] else { throw .missingField("model") }
        guard case .string(let model) = modelValue, !model.isEmpty else { throw .invalidField("model", "must be a non-empty string") }

        guard let messagesValue = body[ChatField.messages] else { throw .missingField("messages") }
        guard case .array(let messages) = messagesValue else { throw .invalidField("messages", "must be an array") }
        guard !messages.isEmpty else { throw .invalidField("messages", "must contain at least one message") }
        guard messages.count <= limits.maxMessages else { throw .invalidField("messages", "must have at most \(limits.maxMessages) messages") }
        for (i, message) in messages.enumerated() {
            guard case .object(let m) = message else { throw .invalidField("messages[\(i)]", "must be an object") }
            guard case .string(let role)? = m["role"] else { throw .missingField("messages[\(i)].role") }
            guard roles.contains(role) else {
                throw .invalidField("messages[\(i)].role", "must be one of system, developer, user, assistant, tool, function")
            }
            try validateContent(m, role: role, path: "messages[\(i)]")
        }
        try validateSamplingFields(body)

        var stream = false
        if let s = body[ChatField.stream], !s.isNull {
            guard case .bool(let b) = s else { throw .invalidField("stream", "must be a boolean") }
            stream = b
        }
        var wantsUsage = false
        if let so = body[ChatField.streamOptions], !so.isNull {
            guard case .object(let options) = so else { throw .invalidField("stream_options", "must be an object") }
            if let iu = options[ChatField.includeUsage], !iu.isNull {
                guard case .bool(let b) = iu else { throw .invalidField("stream_options.include_usage", "must be a boolean") }
                wantsUsage = b
            }
        }
        let user = try endUser(body[ChatField.user])
        for key in [ChatField.maxTokens, ChatField.maxCompletionTokens] {
            if let v = body[key], !v.isNull {
                guard let n = v.numberValue?.intValue, n > 0 else { throw .invalidField(key, "must be a positive integer") }
            }
        }
        var variables: [String: String] = [:]
        if let v = body.removeValue(forKey: ChatField.variables), !v.isNull {
            guard case .object(let vars) = v else { throw .invalidField("variables", "must be an object of strings") }
            for member in vars {
                guard case .string(let s) = member.value else {
                    throw .invalidField("variables.\(member.key.prefix(64))", "must be a string")
                }
                variables[member.key] = s
            }
        }
        return ChatRequest(body: body, modelReference: model, stream: stream, clientWantsUsage: stream && wantsUsage, user: user, variables: variables)
    }

    public var messages: [JSONValue] { body[ChatField.messages]?.arrayValue ?? [] }

    /// The longest end-user id (`user`) accepted, in UTF-8 bytes: it is stored with every usage row.
    public static let maxUserBytes = 256

    /// The end-user id of a request body's `user` field (chat, embeddings): a string of at most
    /// ``maxUserBytes`` bytes; absent, null or empty is nil.
    public static func endUser(_ value: JSONValue?) throws(TrellisError) -> String? {
        guard let value, !value.isNull else { return nil }
        guard case .string(let s) = value else { throw .invalidField("user", "must be a string") }
        guard s.utf8.count <= maxUserBytes else { throw .invalidField("user", "must be at most \(maxUserBytes) bytes") }
        // Stored with every usage row: a NUL would be cut short by one store engine and refused by the other.
        guard !s.utf8.contains(0) else { throw .invalidField("user", "must not contain a NUL character") }
        return s.isEmpty ? nil : s
    }

    /// The message rules OpenAI's API applies, checked here so a malformed message is a clear 400 rather than
    /// whatever the model server makes of it (llama.cpp's server answers 500).
    static func validateContent(_ m: JSONObject, role: String, path: String) throws(TrellisError) {
        let content = m["content"]
        switch content {
        case nil, .null?:
            // An assistant turn may be empty (tool calls, a refusal, or a turn the client kept as null).
            if role != "assistant" {
                throw .invalidRequest("'\(path).content' is required for a \(role) message.", param: "\(path).content", code: "missing_required_parameter")
            }
        case .string?:
            break
        case .array(let parts)?:
            for (j, part) in parts.enumerated() {
                guard case .object(let p) = part, case .string(let type)? = p["type"] else {
                    throw .invalidField("\(path).content[\(j)]", "must be an object with a 'type'")
                }
                if type == "text", p["text"]?.stringValue == nil {
                    throw .invalidField("\(path).content[\(j)].text", "must be a string")
                }
            }
        default:
            throw .invalidField("\(path).content", "must be a string or an array of content parts")
        }
        if role == "tool", m["tool_call_id"]?.stringValue == nil {
            throw .invalidRequest("'\(path).tool_call_id' is required for a tool message.", param: "\(path).tool_call_id", code: "missing_required_parameter")
        }
    }

    /// Types of the common sampling fields (ranges differ between model servers and are left to them).
    static func validateSamplingFields(_ body: JSONObject) throws(TrellisError) {
        for key in ["temperature", "top_p", "presence_penalty", "frequency_penalty"] {
            if let v = body[key], !v.isNull, v.numberValue?.doubleValue?.isFinite != true {
                throw .invalidField(key, "must be a number")
            }
        }
        for key in ["n", "top_logprobs"] {
            if let v = body[key], !v.isNull, v.numberValue?.intValue == nil {
                throw .invalidField(key, "must be an integer")
            }
        }
        // Any whole number, however large: the literal passes through exactly.
        if let v = body["seed"], !v.isNull {
            let literal = v.numberValue?.literal ?? ""
            let digits = literal.hasPrefix("-") ? literal.dropFirst() : Substring(literal)
            if digits.isEmpty || !digits.allSatisfy({ $0.isASCII && $0.isNumber }) {
                throw .invalidField("seed", "must be an integer")
            }
        }
        if let n = body["n"]?.numberValue?.intValue, n < 1 || n > 128 {
            throw .invalidField("n", "must be from 1 to 128")
        }
        if let stop = body["stop"] {
            switch stop {
            case .null, .string: break
            case .array(let items) where items.allSatisfy({ $0.stringValue != nil }): break
            default: throw .invalidField("stop", "must be a string or an array of strings")
            }
        }
        for (key, kind) in [("tools", "an array"), ("response_format", "an object"), ("logit_bias", "an object")] {
            guard let v = body[key], !v.isNull else { continue }
            let ok = kind == "an array" ? v.arrayValue != nil : v.objectValue != nil
            if !ok { throw .invalidField(key, "must be \(kind)") }
        }
    }
}
