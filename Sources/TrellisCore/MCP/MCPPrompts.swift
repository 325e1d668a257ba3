import OpenAIWire

/// A tenant's prompt library as MCP prompts: each prompt's `production`-labelled version (else its latest), its
/// variables as arguments (required when they have no default), plus `input` when the prompt ends with the
/// template for the caller's message.
public enum MCPPrompts {
    /// The version a prompt is offered at.
    public static func offered(_ prompt: Prompt) -> Prompt.Version? {
        prompt.labels["production"].flatMap(prompt.version) ?? prompt.latest
    }

    /// `prompts/list`'s entry for a prompt.
    public static func listing(_ prompt: Prompt) -> JSONValue? {
        guard let version = offered(prompt) else { return nil }
        let definition = version.definition
        var arguments: [JSONValue] = definition.variables.map { variable in
            var argument: JSONObject = ["name": .string(variable.name), "required": .bool(variable.defaultValue == nil)]
            if let value = variable.defaultValue { argument["description"] = .string("Default: \(value)") }
            return .object(argument)
        }
        if definition.inputTemplate != nil {
            arguments.append(["name": "input", "description": "The user's message.", "required": true])
        }
        var entry: JSONObject = ["name": .string(prompt.name), "arguments": .array(arguments)]
        if let description = prompt.description { entry["description"] = .string(description) }
        return .object(entry)
    }

    /// `prompts/get`: the prompt's messages rendered with `arguments` (defaults filling the rest). MCP prompt
    /// messages are `user` or `assistant`: system and developer messages come as `user` messages. A required
    /// argument left out, or one the prompt does not declare, is an invalid-params error naming it.
    public static func render(_ prompt: Prompt, arguments: [String: String]) throws(JSONRPC.Failure) -> JSONValue {
        guard let version = offered(prompt) else { throw JSONRPC.Failure(code: JSONRPC.Code.invalidParams, message: "The prompt has no version.") }
        let definition = version.definition
        var declared = Set(definition.variables.map(\.name))
        if definition.inputTemplate != nil { declared.insert("input") }
        if let unknown = arguments.keys.sorted().first(where: { !declared.contains($0) }) {
            throw JSONRPC.Failure(code: JSONRPC.Code.invalidParams, message: "The prompt '\(prompt.name)' has no argument '\(unknown.prefix(64))'.")
        }
        var values = arguments
        for variable in definition.variables where values[variable.name] == nil {
            guard let value = variable.defaultValue else {
                throw JSONRPC.Failure(code: JSONRPC.Code.invalidParams, message: "Missing required argument '\(variable.name)'.")
            }
            values[variable.name] = value
        }
        var messages: [JSONValue] = definition.messages.map { message(role: $0.role, text: $0.template.render(values)) }
        if let input = definition.inputTemplate {
            guard arguments["input"] != nil else {
                throw JSONRPC.Failure(code: JSONRPC.Code.invalidParams, message: "Missing required argument 'input'.")
            }
            messages.append(message(role: "user", text: input.render(values)))
        }
        var result: JSONObject = ["messages": .array(messages)]
        if let description = prompt.description { result["description"] = .string(description) }
        return .object(result)
    }

    static func message(role: String, text: String) -> JSONValue {
        ["role": .string(role == "assistant" ? "assistant" : "user"), "content": ["type": "text", "text": .string(text)]]
    }
}
