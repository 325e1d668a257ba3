import OpenAIWire

/// Text with `{{name}}` placeholders (spaces inside the braces allowed: `{{ name }}`). Substitution is a single
/// literal pass: a value is inserted as text and never scanned again, so `{{` inside a value stays as typed,
/// and no code ever runs. A `{{` that does not open a valid placeholder is ordinary text.
public struct PromptTemplate: Sendable, Equatable {
    public enum Part: Sendable, Equatable {
        case text(String)
        case placeholder(String)
    }

    public let parts: [Part]
    public let source: String

    public init(_ source: String) {
        self.source = source
        var parts: [Part] = []
        var text = ""
        var i = source.startIndex
        while i < source.endIndex {
            if source[i...].hasPrefix("{{"), let (name, end) = Self.placeholder(in: source, at: i) {
                if !text.isEmpty {
                    parts.append(.text(text))
                    text = ""
                }
                parts.append(.placeholder(name))
                i = end
            } else {
                text.append(source[i])
                i = source.index(after: i)
            }
        }
        if !text.isEmpty { parts.append(.text(text)) }
        self.parts = parts
    }

    /// `{{ name }}` at `start`: the name and the index after the closing braces.
    static func placeholder(in s: String, at start: String.Index) -> (String, String.Index)? {
        var i = s.index(start, offsetBy: 2)
        while i < s.endIndex, s[i] == " " { i = s.index(after: i) }
        let nameStart = i
        while i < s.endIndex, let c = s[i].unicodeScalars.first, s[i].unicodeScalars.count == 1,
            c == "_" || (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (i > nameStart && c >= "0" && c <= "9")
        {
            i = s.index(after: i)
        }
        guard i > nameStart else { return nil }
        let name = String(s[nameStart..<i])
        while i < s.endIndex, s[i] == " " { i = s.index(after: i) }
        guard s[i...].hasPrefix("}}") else { return nil }
        return (name, s.index(i, offsetBy: 2))
    }

    public var placeholders: [String] {
        parts.compactMap { if case .placeholder(let n) = $0 { return n } else { return nil } }
    }

    /// Fills every placeholder from `values`; a name without a value is left to the caller to have checked.
    public func render(_ values: [String: String]) -> String {
        var out = ""
        out.reserveCapacity(source.utf8.count + 64)
        for part in parts {
            switch part {
            case .text(let t): out += t
            case .placeholder(let name): out += values[name] ?? ""
            }
        }
        return out
    }
}

/// A prompt version: its messages (a system message, few-shot turns, and optionally a final user message
/// that is the template for the caller's last user turn, holding `{{input}}`) and the variables it declares,
/// with optional defaults.
public struct PromptDefinition: Sendable, Equatable {
    public struct Message: Sendable, Equatable {
        public var role: String
        public var template: PromptTemplate
        /// The optional participant name OpenAI messages carry (few-shot speakers).
        public var name: String?
    }

    public struct Variable: Sendable, Equatable {
        public var name: String
        public var defaultValue: String?
    }

    public static let input = "input"
    public static let roles: Set<String> = ["system", "developer", "user", "assistant"]

    /// Every message but the input template.
    public var messages: [Message]
    /// The template for the caller's last user message, when the prompt ends with a user message using `{{input}}`.
    public var inputTemplate: PromptTemplate?
    public var variables: [Variable]
    /// The definition as posted: `{"messages": [...], "variables": {...}}`.
    public var json: JSONValue

    /// Parses and checks a definition. `path` prefixes parameter names in errors (`messages[2].content`).
    public static func parse(
        messages messagesValue: JSONValue?, variables variablesValue: JSONValue?, path: String = ""
    ) throws(TrellisError)
        -> PromptDefinition
    {
        let p = path.isEmpty ? "" : path + "."
        guard let messagesValue else { throw .missingField("\(p)messages") }
        guard case .array(let items) = messagesValue, !items.isEmpty else {
            throw .invalidField("\(p)messages", "must be a non-empty array of {role, content}")
        }
        guard items.count <= 256 else { throw .invalidField("\(p)messages", "must have at most 256 messages") }
        var variables: [Variable] = []
        if let v = variablesValue, !v.isNull {
            guard case .object(let object) = v else { throw .invalidField("\(p)variables", "must be an object of name → {\"default\"?}") }
            for member in object {
                let name = member.key
                guard PromptTemplate.placeholder(in: "{{\(name)}}", at: "{{\(name)}}".startIndex)?.0 == name else {
                    throw .invalidField("\(p)variables.\(name.prefix(64))", "is not a valid variable name (letters, digits, _; not starting with a digit)")
                }
                guard name != input else {
                    throw .invalidField("\(p)variables.input", "is built in: it is the caller's last user message and is never declared")
                }
                var defaultValue: String?
                switch member.value {
                case .null: break
                case .object(let spec):
                    for key in spec.keys where key != "default" && key != "description" {
                        throw .invalidRequest(
                            "Unknown field '\(p)variables.\(name).\(key.prefix(64))'.", param: "\(p)variables.\(name).\(key.prefix(64))",
                            code: "unknown_parameter")
                    }
                    if let d = spec["default"], !d.isNull {
                        guard case .string(let s) = d else { throw .invalidField("\(p)variables.\(name).default", "must be a string") }
                        defaultValue = s
                    }
                default:
                    throw .invalidField("\(p)variables.\(name)", "must be an object such as {\"default\": \"…\"}")
                }
                variables.append(Variable(name: name, defaultValue: defaultValue))
            }
        }
        let declared = Set(variables.map(\.name))
        var messages: [Message] = []
        var inputTemplate: PromptTemplate?
        for (i, item) in items.enumerated() {
            let mp = "\(p)messages[\(i)]"
            guard case .object(let m) = item else { throw .invalidField(mp, "must be an object with role and content") }
            for key in m.keys where key != "role" && key != "content" && key != "name" {
                throw .invalidRequest("Unknown field '\(mp).\(key.prefix(64))'.", param: "\(mp).\(key.prefix(64))", code: "unknown_parameter")
            }
            guard case .string(let role)? = m["role"], roles.contains(role) else {
                throw .invalidField("\(mp).role", "must be one of system, developer, user, assistant")
            }
            guard case .string(let content)? = m["content"] else { throw .invalidField("\(mp).content", "must be a string") }
            guard content.utf8.count <= 100_000 else { throw .invalidField("\(mp).content", "must be at most 100000 bytes") }
            var speaker: String?
            if let n = m["name"], !n.isNull {
                guard case .string(let s) = n, !s.isEmpty, s.utf8.count <= 64 else { throw .invalidField("\(mp).name", "must be a string of 1 to 64 bytes") }
                speaker = s
            }
            let template = PromptTemplate(content)
            let usesInput = template.placeholders.contains(input)
            if usesInput {
                guard role == "user", i == items.count - 1 else {
                    throw .invalidRequest(
                        "'{{input}}' may only appear in the prompt's last message, a user message: it is the template for the caller's last user turn.",
                        param: "\(mp).content")
                }
                inputTemplate = template
            } else {
                messages.append(Message(role: role, template: template, name: speaker))
            }
            for name in template.placeholders where name != input && !declared.contains(name) {
                throw .invalidRequest("'{{\(name)}}' is used in \(mp) but not declared in 'variables'.", param: "\(p)variables", code: "undeclared_variable")
            }
        }
        return PromptDefinition(
            messages: messages, inputTemplate: inputTemplate, variables: variables,
            json: .object(JSONObject([.init(key: "messages", value: messagesValue), .init(key: "variables", value: variablesValue ?? .object(JSONObject()))])))
    }

    /// The variable values for one request: the caller's, then defaults. A variable with neither, or a caller
    /// value for a variable the prompt does not declare, is a 400 naming it.
    public func resolveVariables(_ given: [String: String]) throws(TrellisError) -> [String: String] {
        let declared = Set(variables.map(\.name))
        for name in given.keys.sorted() where !declared.contains(name) {
            throw .invalidRequest(
                "Unknown variable '\(name.prefix(64))'; this model's prompt declares \(declared.isEmpty ? "no variables" : declared.sorted().joined(separator: ", ")).",
                param: "variables.\(name.prefix(64))", code: "unknown_variable")
        }
        var values: [String: String] = [:]
        for v in variables {
            if let value = given[v.name] {
                values[v.name] = value
            } else if let d = v.defaultValue {
                values[v.name] = d
            } else {
                throw .invalidRequest("Missing variable '\(v.name)': pass it in 'variables'.", param: "variables.\(v.name)", code: "missing_variable")
            }
        }
        return values
    }

    /// Applies the prompt to the caller's messages. The order is: the prompt's system (and developer)
    /// messages, then the caller's own system/developer messages, then the prompt's other messages (few-shot
    /// turns), then the caller's conversation, whose last user message is rendered through the input
    /// template when there is one.
    public func apply(to callerMessages: [JSONValue], variables given: [String: String]) throws(TrellisError) -> [JSONValue] {
        var values = try resolveVariables(given)
        func message(_ m: Message) -> JSONValue {
            var o = JSONObject([.init(key: "role", value: .string(m.role)), .init(key: "content", value: .string(m.template.render(values)))])
            if let name = m.name { o.appendUnchecked("name", .string(name)) }
            return .object(o)
        }
        let isSystem: (String?) -> Bool = { $0 == "system" || $0 == "developer" }
        var out: [JSONValue] = []
        out.reserveCapacity(messages.count + callerMessages.count)
        for m in messages where isSystem(m.role) { out.append(message(m)) }
        for m in callerMessages where isSystem(m["role"]?.stringValue) { out.append(m) }
        for m in messages where !isSystem(m.role) { out.append(message(m)) }
        var conversation = callerMessages.filter { !isSystem($0["role"]?.stringValue) }
        if let inputTemplate {
            guard let last = conversation.lastIndex(where: { $0["role"]?.stringValue == "user" }) else {
                throw .invalidRequest("This model's prompt needs a user message to fill '{{input}}'.", param: "messages")
            }
            guard case .object(var turn) = conversation[last] else { throw .invalidField("messages", "must contain objects") }
            switch turn["content"] {
            case .string(let text)?:
                values[Self.input] = text
                turn["content"] = .string(inputTemplate.render(values))
            case .array(var parts)?:
                // Multimodal content: the template wraps the first text part; images and other parts stay.
                if let t = parts.firstIndex(where: { $0["type"]?.stringValue == "text" }), case .object(var part) = parts[t],
                    case .string(let text)? = part["text"]
                {
                    values[Self.input] = text
                    part["text"] = .string(inputTemplate.render(values))
                    parts[t] = .object(part)
                    turn["content"] = .array(parts)
                }
            default:
                break
            }
            conversation[last] = .object(turn)
        }
        out.append(contentsOf: conversation)
        return out
    }
}
