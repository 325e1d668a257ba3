import OpenAIWire

/// Which upstreams get masked text: none, those labelled `external` (the default), or all.
public enum PIIMaskScope: String, Sendable, CaseIterable {
    case off
    case external
    case all

    /// Whether text for the upstream named `upstream` is masked under this scope.
    public func masks(upstream: String, in snapshot: CatalogSnapshot) -> Bool {
        self == .all || (self == .external && snapshot.upstreams[upstream]?.labels.contains(.external) == true)
    }
}

extension ChatPlan {
    /// The plan with personal data masked, through `session`, in every text of the body it sends (see
    /// `PIIMasker.Session.mask(chatBody:)`). Only the body changes: `user` as the gateway records it (usage, sticky
    /// version choice) stays in `ChatPlan.user`.
    public func masked(with session: inout PIIMasker.Session) -> ChatPlan {
        var out = self
        out.body = session.mask(chatBody: body)
        return out
    }
}

extension PIIMasker.Session {
    /// Content parts whose payload is never masked: what the upstream decodes or fetches (base64 data or a URL,
    /// which a placeholder would break). The payload of a part `{"type": "image_url", "image_url": {…}}` is left as
    /// it is; a member of that name anywhere else (a schema's property, say) is text like any other.
    static let payloadParts: Set<String> = ["image_url", "video_url", "input_audio", "file"]

    /// A chat request body with personal data masked in every string it carries, at any depth: message contents
    /// (strings and content parts), names, refusals and reasoning; `user`; tool and function definitions
    /// (descriptions, and every description, title, enum value, default and example of their parameter schemas);
    /// response-format schemas; stop sequences; and whatever other text a client sends, so that a new field is
    /// masked without a code change. Left alone: the payloads of `payloadParts`, a message's `audio` (a reference
    /// to an earlier answer's audio), the top-level `model`, numbers, booleans and object keys of the body itself. Tool-call arguments and tool results are JSON text: their strings, numbers and
    /// keys are masked as JSON (see `mask(jsonText:)`), so they stay valid JSON for servers that parse them (vLLM
    /// parses the arguments of earlier tool calls). One session: one value has one placeholder across the request.
    public mutating func mask(chatBody body: JSONObject) -> JSONObject {
        var out = JSONObject()
        for member in body {
            switch member.key {
            case ChatField.messages: out.appendUnchecked(member.key, mask(messages: member.value))
            case ChatField.model: out.appendUnchecked(member.key, member.value)
            default: out.appendUnchecked(member.key, maskMember(member.key, member.value, in: body))
            }
        }
        return out
    }

    /// Chat messages with personal data masked (see `mask(chatBody:)`); a tool's result is masked as JSON text
    /// when it is JSON.
    public mutating func mask(messages: JSONValue) -> JSONValue {
        guard case .array(let list) = messages else { return maskStrings(messages) }
        var out: [JSONValue] = []
        out.reserveCapacity(list.count)
        for message in list {
            guard case .object(let m) = message else {
                out.append(maskStrings(message))
                continue
            }
            let role = m["role"]?.stringValue
            let resultIsJSON = role == "tool" || role == "function"
            var masked = JSONObject()
            for member in m {
                if resultIsJSON, member.key == "content", case .string(let result) = member.value {
                    masked.appendUnchecked(member.key, .string(mask(jsonText: result)))
                } else if member.key == "audio" {
                    masked.appendUnchecked(member.key, member.value)
                } else {
                    masked.appendUnchecked(member.key, maskMember(member.key, member.value, in: m))
                }
            }
            out.append(.object(masked))
        }
        return .array(out)
    }

    /// `value` with every string masked, at any depth, except the payloads of `payloadParts`; `arguments` strings
    /// masked as JSON text.
    mutating func maskStrings(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text):
            return .string(mask(text))
        case .array(let items):
            var out: [JSONValue] = []
            out.reserveCapacity(items.count)
            for item in items { out.append(maskStrings(item)) }
            return .array(out)
        case .object(let object):
            var out = JSONObject()
            for member in object { out.appendUnchecked(member.key, maskMember(member.key, member.value, in: object)) }
            return .object(out)
        default:
            return value
        }
    }

    /// The value of the member named `key` of `object`, masked.
    private mutating func maskMember(_ key: String, _ value: JSONValue, in object: JSONObject) -> JSONValue {
        if Self.payloadParts.contains(key), object["type"]?.stringValue == key { return value }
        if key == "arguments", case .string(let arguments) = value { return .string(mask(jsonText: arguments)) }
        return maskStrings(value)
    }

    /// JSON text (tool-call arguments, a tool's result) with personal data masked inside it: its strings (escapes
    /// decoded first, so `\uff11` is the digit it stands for), its numbers (a masked number becomes a string
    /// holding the placeholder) and its keys, written back as compact JSON when anything changed. Text that is
    /// not a JSON object or array is masked as plain text.
    public mutating func mask(jsonText text: String) -> String {
        let first = text.utf8.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
        guard first == UInt8(ascii: "{") || first == UInt8(ascii: "["), let parsed = try? JSONParser.parse(text) else { return mask(text) }
        let masked = maskJSON(parsed)
        return masked == parsed ? text : JSONWriter.string(masked)
    }

    private mutating func maskJSON(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text):
            return .string(mask(text))
        case .number(let number):
            let masked = mask(number.literal)
            return masked == number.literal ? value : .string(masked)
        case .array(let items):
            var out: [JSONValue] = []
            out.reserveCapacity(items.count)
            for item in items { out.append(maskJSON(item)) }
            return .array(out)
        case .object(let object):
            var out = JSONObject()
            for member in object { out.appendUnchecked(mask(member.key), maskJSON(member.value)) }
            return .object(out)
        default:
            return value
        }
    }
}

extension PIIMasker.Session {
    /// A whole chat completion with the placeholders in its choices' messages put back: content, refusal,
    /// reasoning and any other text, and tool-call arguments (as JSON string content, so they stay valid JSON).
    public func restore(completion object: JSONObject) -> JSONObject {
        guard !mapping.isEmpty, case .array(let choices)? = object[ChatField.choices] else { return object }
        var out = object
        out[ChatField.choices] = .array(
            choices.map { choice in
                guard case .object(var c) = choice, let message = c["message"] else { return choice }
                c["message"] = restoreStrings(message)
                return .object(c)
            })
        return out
    }

    /// `value` with placeholders restored in every string; `arguments` strings restored as JSON text.
    func restoreStrings(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text):
            return .string(restore(text))
        case .array(let items):
            return .array(items.map { restoreStrings($0) })
        case .object(let object):
            var out = JSONObject()
            for member in object {
                if member.key == "arguments", case .string(let arguments) = member.value {
                    out.appendUnchecked(member.key, .string(restore(jsonText: arguments)))
                } else {
                    out.appendUnchecked(member.key, restoreStrings(member.value))
                }
            }
            return .object(out)
        default:
            return value
        }
    }
}
