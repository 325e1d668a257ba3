import OpenAIWire

/// Which upstreams get masked text: none, those labelled `external` (the default), or all.
public enum PIIMaskScope: String, Sendable, CaseIterable {
    case off
    case external
    case all
}

extension ChatPlan {
    /// The plan with personal data in its messages masked through `session` (see `PIIMasker.Session.mask(messages:)`).
    public func masked(with session: inout PIIMasker.Session) -> ChatPlan {
        guard let messages = body[ChatField.messages] else { return self }
        var out = self
        out.body[ChatField.messages] = session.mask(messages: messages)
        return out
    }
}

extension PIIMasker.Session {
    /// Chat messages with personal data masked: string contents, the `text` of content parts and tool-call
    /// arguments, in every message (system prompt and retrieved context included), so one value has one
    /// placeholder across the whole request.
    public mutating func mask(messages: JSONValue) -> JSONValue {
        guard case .array(let list) = messages else { return messages }
        var out: [JSONValue] = []
        out.reserveCapacity(list.count)
        for message in list {
            guard case .object(var m) = message else {
                out.append(message)
                continue
            }
            switch m["content"] {
            case .string(let text)?:
                m["content"] = .string(mask(text))
            case .array(let parts)?:
                var masked: [JSONValue] = []
                for part in parts {
                    guard case .object(var p) = part, case .string(let text)? = p["text"] else {
                        masked.append(part)
                        continue
                    }
                    p["text"] = .string(mask(text))
                    masked.append(.object(p))
                }
                m["content"] = .array(masked)
            default:
                break
            }
            // Tool-call arguments in the history (JSON text) carry the same data.
            if case .array(let calls)? = m["tool_calls"] {
                var masked: [JSONValue] = []
                for call in calls { masked.append(Self.mapArguments(call) { mask($0) }) }
                m["tool_calls"] = .array(masked)
            }
            out.append(.object(m))
        }
        return .array(out)
    }

    /// A tool call with `function.arguments` passed through `transform`.
    static func mapArguments(_ call: JSONValue, _ transform: (String) -> String) -> JSONValue {
        guard case .object(var c) = call, case .object(var function)? = c["function"], case .string(let arguments)? = function["arguments"]
        else { return call }
        function["arguments"] = .string(transform(arguments))
        c["function"] = .object(function)
        return .object(c)
    }
}

extension PIIMasker.Session {
    /// A whole chat completion with the placeholders in its choices' message contents put back.
    public func restore(completion object: JSONObject) -> JSONObject {
        guard !mapping.isEmpty, case .array(let choices)? = object[ChatField.choices] else { return object }
        var out = object
        out[ChatField.choices] = .array(
            choices.map { choice in
                guard case .object(var c) = choice, case .object(var message)? = c["message"] else { return choice }
                if case .string(let text)? = message["content"] { message["content"] = .string(restore(text)) }
                if case .array(let calls)? = message["tool_calls"] {
                    message["tool_calls"] = .array(calls.map { Self.mapArguments($0) { restore($0) } })
                }
                c["message"] = .object(message)
                return .object(c)
            })
        return out
    }
}
