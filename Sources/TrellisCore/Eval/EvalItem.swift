import OpenAIWire

/// One item of an evaluation set, parsed strictly: `input` (a user message's text) or `messages` (a chat), the
/// `expected` answer (a string, or alternatives of which any one is right), the prompt template's `variables`, and
/// free `metadata` kept with it.
public struct EvalItem: Sendable, Equatable {
    public var messages: [JSONValue]
    public var expected: [String]
    public var variables: JSONObject
    /// The item as stored.
    public var json: JSONValue

    public static let maxItems = 5_000
    public static let fields: Set<String> = ["input", "messages", "expected", "variables", "metadata"]

    /// The question a judge sees: the last user message's text.
    public var question: String {
        messages.last { $0["role"]?.stringValue == "user" }.map { RouterFacts.text(of: $0["content"]) } ?? ""
    }

    public static func parse(_ value: JSONValue, path: String) throws(TrellisError) -> EvalItem {
        guard case .object(let o) = value else { throw .invalidField(path, "must be an object: {\"input\" or \"messages\", \"expected\"?, ...}") }
        for key in o.keys where !fields.contains(key) {
            throw .invalidRequest(
                "Unknown field '\(path).\(key.prefix(64))'; an item has \(fields.sorted().joined(separator: ", ")).", param: "\(path).\(key.prefix(64))",
                code: "unknown_parameter")
        }
        let messages: [JSONValue]
        switch (o["input"], o["messages"]) {
        case (.string(let text)?, nil) where !text.isEmpty:
            messages = [["role": "user", "content": .string(text)]]
        case (nil, .array(let list)?) where !list.isEmpty && list.allSatisfy({ $0.objectValue?["role"]?.stringValue != nil }):
            messages = list
        case (nil, nil):
            throw .invalidRequest("'\(path)' needs 'input' or 'messages'.", param: "\(path).input", code: "missing_required_parameter")
        case (_?, _?):
            throw .invalidRequest("Give '\(path).input' or '\(path).messages', not both.", param: "\(path).messages")
        case (_?, nil):
            throw .invalidField("\(path).input", "must be a non-empty string")
        case (nil, _?):
            throw .invalidField("\(path).messages", "must be a non-empty array of messages with a role")
        }
        switch o["expected"] {
        case nil, .null?, .string?: break
        case .array(let list)? where list.allSatisfy({ $0.stringValue != nil }): break
        default: throw .invalidField("\(path).expected", "must be a string or an array of strings")
        }
        var variables = JSONObject()
        if let v = o["variables"], !v.isNull {
            guard case .object(let object) = v else { throw .invalidField("\(path).variables", "must be an object") }
            variables = object
        }
        if let m = o["metadata"], !m.isNull, m.objectValue == nil { throw .invalidField("\(path).metadata", "must be an object") }
        return EvalItem(messages: messages, expected: EvalScoring.expectedAlternatives(o["expected"]), variables: variables, json: value)
    }

    /// A set's items: 1 to ``maxItems``.
    public static func parseList(_ value: JSONValue?, path: String = "items") throws(TrellisError) -> [EvalItem] {
        guard case .array(let list)? = value, !list.isEmpty, list.count <= maxItems else {
            throw .invalidField(path, "must be an array of 1 to \(maxItems) items")
        }
        var items: [EvalItem] = []
        items.reserveCapacity(list.count)
        for (i, item) in list.enumerated() { items.append(try parse(item, path: "\(path)[\(i)]")) }
        return items
    }

    /// The chat request body that asks this item of `model` (`name@version`).
    public func chatBody(model: String, maxTokens: Int?) -> JSONObject {
        var body: JSONObject = ["model": .string(model), "messages": .array(messages)]
        if !variables.isEmpty { body["variables"] = .object(variables) }
        if let maxTokens { body["max_tokens"] = .int(maxTokens) }
        return body
    }
}
