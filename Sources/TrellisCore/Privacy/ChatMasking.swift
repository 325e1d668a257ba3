import OpenAIWire

/// Which upstreams get masked text: none, those labelled `external` (the default), or all.
public enum PIIMaskScope: String, Sendable, CaseIterable {
    case off
    case external
    case all
}

extension ChatPlan {
    /// The plan with personal data in its messages masked through `session`: string contents and the `text`
    /// of content parts, in every message (system prompt and retrieved context included), so one value has one
    /// placeholder across the whole request.
    public func masked(with session: inout PIIMasker.Session) -> ChatPlan {
        guard case .array(let messages)? = body[ChatField.messages] else { return self }
        var out = self
        out.body[ChatField.messages] = .array(
            messages.map { message in
                guard case .object(var m) = message else { return message }
                switch m["content"] {
                case .string(let text)?:
                    m["content"] = .string(session.mask(text))
                case .array(let parts)?:
                    m["content"] = .array(
                        parts.map { part in
                            guard case .object(var p) = part, case .string(let text)? = p["text"] else { return part }
                            p["text"] = .string(session.mask(text))
                            return .object(p)
                        })
                default:
                    break
                }
                return .object(m)
            })
        return out
    }
}

extension PIIMasker.Session {
    /// A whole chat completion with the placeholders in its choices' message contents put back.
    public func restore(completion object: JSONObject) -> JSONObject {
        guard !mapping.isEmpty, case .array(let choices)? = object[ChatField.choices] else { return object }
        var out = object
        out[ChatField.choices] = .array(
            choices.map { choice in
                guard case .object(var c) = choice, case .object(var message)? = c["message"], case .string(let text)? = message["content"]
                else { return choice }
                message["content"] = .string(restore(text))
                c["message"] = .object(message)
                return .object(c)
            })
        return out
    }
}
