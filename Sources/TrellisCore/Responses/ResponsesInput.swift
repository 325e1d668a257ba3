import OpenAIWire

/// The Responses API's `input` as chat messages: a string is one user message; input items become messages in
/// order. A message's text parts become chat text parts (an assistant's earlier output becomes its content), an image
/// part an `image_url` part, a `function_call` item an assistant message's tool call (consecutive calls, and the
/// assistant text before them, share one message), and a `function_call_output` a tool message.
enum ResponsesInput {
    static let roles: Set<String> = ["user", "system", "developer", "assistant"]

    static func messages(_ value: JSONValue, maxItems: Int) throws(TrellisError) -> [JSONValue] {
        switch value {
        case .string(let text):
            return [["role": "user", "content": .string(text)]]
        case .array(let items):
            guard !items.isEmpty else { throw .invalidField("input", "must not be empty") }
            guard items.count <= maxItems else { throw .invalidField("input", "must have at most \(maxItems) items") }
            var messages: [JSONValue] = []
            for (i, item) in items.enumerated() {
                try append(item, path: "input[\(i)]", to: &messages)
            }
            return messages
        default:
            throw .invalidField("input", "must be a string or an array of input items")
        }
    }

    static func append(_ item: JSONValue, path: String, to messages: inout [JSONValue]) throws(TrellisError) {
        guard case .object(let object) = item else { throw .invalidField(path, "must be an object") }
        let type = object["type"]?.stringValue ?? (object["role"] != nil ? "message" : "")
        switch type {
        case "message":
            messages.append(try message(object, path: path))
        case "function_call":
            let call = try functionCall(object, path: path)
            if case .object(var last)? = messages.last, last["role"]?.stringValue == "assistant" {
                var calls = last["tool_calls"]?.arrayValue ?? []
                calls.append(call)
                last["tool_calls"] = .array(calls)
                messages[messages.count - 1] = .object(last)
            } else {
                // An empty string rather than null: some model servers (llama-cpp-python) refuse a null content.
                messages.append(["role": "assistant", "content": "", "tool_calls": [call]])
            }
        case "function_call_output":
            guard case .string(let callID)? = object["call_id"] else { throw .missingField("\(path).call_id") }
            let output = try outputText(object["output"], path: "\(path).output")
            messages.append(["role": "tool", "tool_call_id": .string(callID), "content": .string(output)])
        case "":
            throw .missingField("\(path).type")
        default:
            throw .invalidRequest(
                "'\(path).type' '\(type.prefix(64))' is not supported: Trellis takes messages, function calls and function call outputs.",
                param: "\(path).type", code: "unsupported_parameter")
        }
    }

    static func message(_ object: JSONObject, path: String) throws(TrellisError) -> JSONValue {
        guard case .string(let role)? = object["role"] else { throw .missingField("\(path).role") }
        guard roles.contains(role) else { throw .invalidField("\(path).role", "must be one of user, system, developer, assistant") }
        switch object["content"] {
        case .string(let text)?:
            return ["role": .string(role), "content": .string(text)]
        case .array(let parts)?:
            if role == "assistant" {
                // An earlier answer: its output text (and refusals) as the assistant's content.
                var text = ""
                for (j, part) in parts.enumerated() {
                    guard case .object(let p) = part else { throw .invalidField("\(path).content[\(j)]", "must be an object") }
                    text += p["text"]?.stringValue ?? p["refusal"]?.stringValue ?? ""
                }
                return ["role": "assistant", "content": .string(text)]
            }
            var chatParts: [JSONValue] = []
            for (j, part) in parts.enumerated() {
                chatParts.append(try contentPart(part, path: "\(path).content[\(j)]"))
            }
            return ["role": .string(role), "content": .array(chatParts)]
        default:
            throw .invalidField("\(path).content", "must be a string or an array of content parts")
        }
    }

    static func contentPart(_ part: JSONValue, path: String) throws(TrellisError) -> JSONValue {
        guard case .object(let p) = part, case .string(let type)? = p["type"] else { throw .invalidField(path, "must be an object with a 'type'") }
        switch type {
        case "input_text", "output_text":
            guard case .string(let text)? = p["text"] else { throw .invalidField("\(path).text", "must be a string") }
            return ["type": "text", "text": .string(text)]
        case "input_image":
            guard case .string(let url)? = p["image_url"] else {
                throw .invalidRequest(
                    "'\(path).image_url' is required: images are passed by URL or data URL (file ids are not served).", param: "\(path).image_url",
                    code: "unsupported_parameter")
            }
            var image: JSONObject = ["url": .string(url)]
            if case .string(let detail)? = p["detail"] { image["detail"] = .string(detail) }
            return ["type": "image_url", "image_url": .object(image)]
        default:
            throw .invalidRequest(
                "'\(path).type' '\(type.prefix(64))' is not supported: Trellis takes input_text and input_image parts.", param: "\(path).type",
                code: "unsupported_parameter")
        }
    }

    static func functionCall(_ object: JSONObject, path: String) throws(TrellisError) -> JSONValue {
        guard case .string(let callID)? = object["call_id"] else { throw .missingField("\(path).call_id") }
        guard case .string(let name)? = object["name"] else { throw .missingField("\(path).name") }
        guard case .string(let arguments)? = object["arguments"] else { throw .missingField("\(path).arguments") }
        return ["id": .string(callID), "type": "function", "function": ["name": .string(name), "arguments": .string(arguments)]]
    }

    /// A function call's output: a string, or text parts joined.
    static func outputText(_ value: JSONValue?, path: String) throws(TrellisError) -> String {
        switch value {
        case .string(let s)?:
            return s
        case .array(let parts)?:
            var text = ""
            for part in parts { text += part["text"]?.stringValue ?? "" }
            return text
        case nil, .null?:
            throw .missingField(path)
        default:
            throw .invalidField(path, "must be a string or an array of text parts")
        }
    }
}

/// Function tools and `tool_choice` between the two APIs' shapes; any other tool type is refused.
enum ResponsesTools {
    static func chatTools(_ value: JSONValue?) throws(TrellisError) -> (chat: [JSONValue], responses: [JSONValue])? {
        guard let value, !value.isNull else { return nil }
        guard case .array(let tools) = value else { throw .invalidField("tools", "must be an array") }
        if tools.isEmpty { return nil }
        var chat: [JSONValue] = []
        for (i, tool) in tools.enumerated() {
            guard case .object(let t) = tool, case .string(let type)? = t["type"] else { throw .invalidField("tools[\(i)]", "must be an object with a 'type'") }
            guard type == "function" else {
                throw .invalidRequest(
                    "'tools[\(i)].type' '\(type.prefix(64))' is not supported: Trellis serves function tools only (built-in tools run nowhere here).",
                    param: "tools[\(i)].type", code: "unsupported_parameter")
            }
            guard case .string(let name)? = t["name"], !name.isEmpty else { throw .missingField("tools[\(i)].name") }
            var function: JSONObject = ["name": .string(name)]
            for key in ["description", "parameters", "strict"] {
                if let v = t[key], !v.isNull { function[key] = v }
            }
            chat.append(["type": "function", "function": .object(function)])
        }
        return (chat, tools)
    }

    static func chatToolChoice(_ value: JSONValue) throws(TrellisError) -> JSONValue {
        switch value {
        case .string(let mode) where ["auto", "none", "required"].contains(mode):
            return value
        case .object(let choice) where choice["type"]?.stringValue == "function":
            guard case .string(let name)? = choice["name"] else { throw .missingField("tool_choice.name") }
            return ["type": "function", "function": ["name": .string(name)]]
        default:
            throw .invalidRequest(
                "'tool_choice' must be 'auto', 'none', 'required' or {\"type\": \"function\", \"name\": …}.", param: "tool_choice",
                code: "unsupported_parameter")
        }
    }
}

/// `text.format` as the chat request's `response_format`.
enum ResponsesText {
    static func chatResponseFormat(_ value: JSONValue?) throws(TrellisError) -> JSONValue? {
        guard let value, !value.isNull else { return nil }
        guard case .object(let text) = value else { throw .invalidField("text", "must be an object") }
        for member in text where member.key != "format" && member.key != "verbosity" {
            throw .invalidRequest("Unrecognized argument 'text.\(member.key.prefix(64))'.", param: "text.\(member.key.prefix(64))", code: "unknown_parameter")
        }
        if let verbosity = text["verbosity"], !verbosity.isNull, verbosity.stringValue != "medium" {
            throw .invalidRequest("'text.verbosity' is not supported: the model's own length applies.", param: "text.verbosity", code: "unsupported_parameter")
        }
        guard case .object(let format)? = text["format"] else { return nil }
        switch format["type"]?.stringValue {
        case "text":
            return nil
        case "json_object":
            return ["type": "json_object"]
        case "json_schema":
            guard case .object? = format["schema"] else { throw .missingField("text.format.schema") }
            var schema: JSONObject = ["name": format["name"] ?? "response", "schema": format["schema"] ?? .null]
            if let strict = format["strict"], !strict.isNull { schema["strict"] = strict }
            return ["type": "json_schema", "json_schema": .object(schema)]
        default:
            throw .invalidField("text.format.type", "must be 'text', 'json_object' or 'json_schema'")
        }
    }
}
