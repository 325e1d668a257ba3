import OpenAIWire
import Yams

/// YAML documents as ``JSONValue``, so the declarative catalog is read by the same validation as the API.
/// Scalars keep the type YAML's core schema gives them (`12` a number, `true` a boolean, `"12"` a string).
enum YAMLJSON {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ text: String) throws -> JSONValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw Failure(description: "not valid YAML: " + (String(describing: error).split(separator: "\n").first.map(String.init) ?? "syntax error"))
        }
        guard let node else { return .object(JSONObject()) }
        return try convert(node, depth: 0)
    }

    static func convert(_ node: Node, depth: Int) throws -> JSONValue {
        guard depth < 64 else { throw Failure(description: "nested too deeply") }
        switch node {
        case .scalar(let scalar):
            switch node.tag.rawValue {  // resolving the implicit tag (int, float, bool, null, str)
            case Tag.Name.null.rawValue:
                return .null
            case Tag.Name.bool.rawValue:
                return .bool(node.bool ?? false)
            case Tag.Name.int.rawValue:
                if let i = node.int { return .int(i) }
                return .string(scalar.string)
            case Tag.Name.float.rawValue:
                if let d = node.float, d.isFinite { return .double(d) }
                return .string(scalar.string)
            default:
                return .string(scalar.string)
            }
        case .sequence(let seq):
            return .array(try seq.map { try convert($0, depth: depth + 1) })
        case .mapping(let mapping):
            var object = JSONObject()
            for (key, value) in mapping {
                guard let name = key.string else { throw Failure(description: "mapping keys must be strings") }
                if object[name] != nil { throw Failure(description: "duplicate key '\(name)'") }
                object.appendUnchecked(name, try convert(value, depth: depth + 1))
            }
            return .object(object)
        case .alias:
            throw Failure(description: "YAML aliases are not supported")
        }
    }
}
