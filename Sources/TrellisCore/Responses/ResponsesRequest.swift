import OpenAIWire

/// A `POST /v1/responses` request as received, checked field by field: what Trellis serves is read, what it does
/// not (built-in tools, background mode, reasoning settings, stored prompts) is refused with a 400 naming the field,
/// and an unknown field is refused as OpenAI refuses it. ``chatBody(history:)`` turns it into the chat-completion
/// request that the rest of the flow serves.
public struct ResponsesRequest: Sendable {
    public var modelReference: String
    /// The new input as chat messages, without the instructions.
    public var input: [JSONValue]
    public var instructions: String?
    public var stream: Bool
    /// Keep the response for the caller's tenant (default true).
    public var store: Bool
    public var previousResponseID: String?
    public var metadata: JSONObject
    /// The fields echoed back on the response object as sent (`temperature`, `tools`, …), in their Responses shape.
    public var echo: JSONObject
    /// The chat-completion fields the request maps to (sampling, tools, `max_tokens`, `user`, `variables`…).
    var chatFields: JSONObject

    public struct Limits: Sendable {
        public var maxItems: Int
        public init(maxItems: Int = 2048) { self.maxItems = maxItems }
    }

    /// Fields Trellis reads; anything else is refused.
    static let known: Set<String> = [
        "model", "input", "instructions", "max_output_tokens", "temperature", "top_p", "tools", "tool_choice", "parallel_tool_calls",
        "metadata", "user", "store", "stream", "stream_options", "previous_response_id", "text", "truncation", "include", "background",
        "reasoning", "service_tier", "prompt", "prompt_cache_key", "safety_identifier", "max_tool_calls", "top_logprobs", "conversation",
        "variables",
    ]

    public static func parse(_ value: JSONValue, limits: Limits = Limits()) throws(TrellisError) -> ResponsesRequest {
        guard case .object(let body) = value else {
            throw .invalidRequest("The request body must be a JSON object.", code: "invalid_json")
        }
        for member in body where !known.contains(member.key) {
            throw .invalidRequest(
                "Unrecognized request argument supplied: \(member.key.prefix(64))", param: String(member.key.prefix(64)), code: "unknown_parameter")
        }
        try refuseUnsupported(body)
        guard let modelValue = body["model"] else { throw .missingField("model") }
        guard case .string(let model) = modelValue, !model.isEmpty else { throw .invalidField("model", "must be a non-empty string") }
        guard let inputValue = body["input"], !inputValue.isNull else { throw .missingField("input") }
        let input = try ResponsesInput.messages(inputValue, maxItems: limits.maxItems)
        var request = ResponsesRequest(
            modelReference: model, input: input, instructions: try optionalString(body, "instructions"), stream: try flag(body, "stream", default: false),
            store: try flag(body, "store", default: true), previousResponseID: try optionalString(body, "previous_response_id"),
            metadata: try metadata(body["metadata"]), echo: JSONObject(), chatFields: JSONObject())
        if let id = request.previousResponseID, id.utf8.count > 128 { throw .invalidField("previous_response_id", "must be at most 128 bytes") }
        try request.readChatFields(body)
        return request
    }

    /// Refuses the features Trellis does not serve, naming the field, unless the value is their neutral one.
    static func refuseUnsupported(_ body: JSONObject) throws(TrellisError) {
        func unsupported(_ field: String, _ what: String) -> TrellisError {
            .invalidRequest("'\(field)' is not supported: \(what).", param: field, code: "unsupported_parameter")
        }
        if let v = body["background"], v.boolValue == true { throw unsupported("background", "Trellis answers in the foreground only") }
        if let v = body["reasoning"], !v.isNull { throw unsupported("reasoning", "reasoning settings are not passed to the model servers") }
        if let v = body["prompt"], !v.isNull { throw unsupported("prompt", "use an industry model's prompt template instead") }
        if let v = body["conversation"], !v.isNull { throw unsupported("conversation", "continue with 'previous_response_id'") }
        if let v = body["max_tool_calls"], !v.isNull { throw unsupported("max_tool_calls", "Trellis runs no built-in tools") }
        if let v = body["top_logprobs"], !v.isNull, v.numberValue?.intValue != 0 { throw unsupported("top_logprobs", "log probabilities are not returned") }
        if let v = body["truncation"], !v.isNull, v.stringValue != "disabled" {
            throw unsupported("truncation", "only 'disabled' is served; the input is sent whole")
        }
        if let v = body["include"], !v.isNull {
            guard case .array(let items) = v else { throw TrellisError.invalidField("include", "must be an array of strings") }
            if let first = items.first { throw unsupported("include", "'\(first.stringValue?.prefix(64) ?? "")' is not available") }
        }
        if let v = body["service_tier"], !v.isNull, !["auto", "default"].contains(v.stringValue ?? "") {
            throw unsupported("service_tier", "only 'auto' and 'default' are served")
        }
        for key in ["prompt_cache_key", "safety_identifier"] {
            if let v = body[key], !v.isNull, v.stringValue == nil { throw TrellisError.invalidField(key, "must be a string") }
        }
        if let v = body["stream_options"], !v.isNull, v.objectValue == nil { throw TrellisError.invalidField("stream_options", "must be an object") }
    }

    /// Sampling, output length, tools, text format, end user and template variables, into `chatFields` (and `echo`).
    mutating func readChatFields(_ body: JSONObject) throws(TrellisError) {
        for key in ["temperature", "top_p"] {
            guard let v = body[key], !v.isNull else { continue }
            guard v.numberValue?.doubleValue?.isFinite == true else { throw .invalidField(key, "must be a number") }
            chatFields[key] = v
            echo[key] = v
        }
        if let v = body["max_output_tokens"], !v.isNull {
            guard let n = v.numberValue?.intValue, n > 0 else { throw .invalidField("max_output_tokens", "must be a positive integer") }
            chatFields[ChatField.maxTokens] = .int(n)
            echo["max_output_tokens"] = .int(n)
        }
        if let v = body["parallel_tool_calls"], !v.isNull {
            guard case .bool = v else { throw .invalidField("parallel_tool_calls", "must be a boolean") }
            echo["parallel_tool_calls"] = v
        }
        if let tools = try ResponsesTools.chatTools(body["tools"]) {
            chatFields["tools"] = .array(tools.chat)
            echo["tools"] = .array(tools.responses)
            if let v = body["parallel_tool_calls"], !v.isNull { chatFields["parallel_tool_calls"] = v }
        }
        if let v = body["tool_choice"], !v.isNull {
            chatFields["tool_choice"] = try ResponsesTools.chatToolChoice(v)
            echo["tool_choice"] = v
        }
        if let format = try ResponsesText.chatResponseFormat(body["text"]) {
            chatFields["response_format"] = format
            echo["text"] = body["text"] ?? .null
        }
        let user = try ChatRequest.endUser(body["user"])
        if let user {
            chatFields[ChatField.user] = .string(user)
            echo["user"] = .string(user)
        }
        if let v = body["variables"], !v.isNull { chatFields[ChatField.variables] = v }
    }

    /// The chat-completion request for the upstream flow: the instructions as the first system message, then the
    /// earlier conversation (`history`, from `previous_response_id`), then the new input.
    public func chatBody(history: [JSONValue] = []) -> JSONValue {
        var body = JSONObject()
        body[ChatField.model] = .string(modelReference)
        var messages: [JSONValue] = []
        if let instructions { messages.append(["role": "system", "content": .string(instructions)]) }
        messages.append(contentsOf: history)
        messages.append(contentsOf: input)
        body[ChatField.messages] = .array(messages)
        for member in chatFields { body[member.key] = member.value }
        if stream { body[ChatField.stream] = true }
        return .object(body)
    }

    static func optionalString(_ body: JSONObject, _ key: String) throws(TrellisError) -> String? {
        guard let v = body[key], !v.isNull else { return nil }
        guard case .string(let s) = v else { throw .invalidField(key, "must be a string") }
        return s
    }

    static func flag(_ body: JSONObject, _ key: String, default value: Bool) throws(TrellisError) -> Bool {
        guard let v = body[key], !v.isNull else { return value }
        guard case .bool(let b) = v else { throw .invalidField(key, "must be a boolean") }
        return b
    }

    /// At most 16 pairs of strings, keys up to 64 characters and values up to 512, as OpenAI's metadata.
    static func metadata(_ value: JSONValue?) throws(TrellisError) -> JSONObject {
        guard let value, !value.isNull else { return JSONObject() }
        guard case .object(let pairs) = value else { throw .invalidField("metadata", "must be an object of strings") }
        guard pairs.count <= 16 else { throw .invalidField("metadata", "must have at most 16 keys") }
        for pair in pairs {
            guard pair.key.count <= 64 else { throw .invalidField("metadata", "keys must be at most 64 characters") }
            guard case .string(let s) = pair.value, s.count <= 512 else {
                throw .invalidField("metadata.\(pair.key)", "must be a string of at most 512 characters")
            }
        }
        return pairs
    }
}
