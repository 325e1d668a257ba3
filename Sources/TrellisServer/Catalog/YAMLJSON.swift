import Foundation
import OpenAIWire
import Yams

/// YAML documents as ``JSONValue``, so the declarative catalog is read by the same validation as the API.
/// Scalars keep the type YAML's core schema gives them (`12` a number, `true` a boolean, `"12"` a string).
enum YAMLJSON {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// `environment` fills `${TRELLIS_CATALOG_NAME}` and `${TRELLIS_CATALOG_NAME:-default}` in string values
    /// (only variables with that prefix, so a catalog can never pull a secret out of the environment into
    /// the database).
    static func parse(_ text: String, environment: [String: String] = [:]) throws -> JSONValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw Failure(description: "not valid YAML: " + (String(describing: error).split(separator: "\n").first.map(String.init) ?? "syntax error"))
        }
        guard let node else { return .object(JSONObject()) }
        var converter = Converter(environment: environment)
        return try YAMLWalker.walk(node, with: &converter)
    }

    static let variablePrefix = "TRELLIS_CATALOG_"

    static func expand(_ s: String, environment: [String: String]) throws -> String {
        guard s.contains("${") else { return s }
        var out = ""
        var rest = s[...]
        while let start = rest.range(of: "${") {
            out += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                out += rest[start.lowerBound...]
                return out
            }
            let inner = rest[start.upperBound..<end]
            let (name, fallback): (Substring, Substring?) = {
                if let sep = inner.range(of: ":-") { return (inner[..<sep.lowerBound], inner[sep.upperBound...]) }
                return (inner, nil)
            }()
            guard name.hasPrefix(variablePrefix), name.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "_") }) else {
                throw Failure(description: "'${\(inner)}': only variables named \(variablePrefix)… can be used in a catalog")
            }
            if let value = environment[String(name)], !value.isEmpty {
                out += value
            } else if let fallback {
                out += fallback
            } else {
                throw Failure(description: "'${\(name)}' is not set and has no default (write ${\(name):-default})")
            }
            rest = rest[rest.index(after: end)...]
        }
        out += rest
        return out
    }

    /// The catalog's reading of a YAML document: scalars by their resolved tag, `${TRELLIS_CATALOG_…}` filled
    /// in strings, duplicate keys refused, at most 64 levels deep.
    struct Converter: YAMLVisitor {
        let environment: [String: String]

        var maxDepth: Int { 64 }
        var refusesDuplicateKeys: Bool { true }

        func failure(_ problem: YAMLWalker.Problem, at path: YAMLWalker.Path) -> any Error {
            switch problem {
            case .tooDeep: Failure(description: "nested too deeply")
            case .keyNotString: Failure(description: "mapping keys must be strings")
            case .duplicateKey(let name): Failure(description: "duplicate key '\(name)'")
            case .alias: Failure(description: "YAML aliases are not supported")
            }
        }

        func scalar(_ scalar: Node.Scalar, of node: Node, at path: YAMLWalker.Path) throws -> JSONValue {
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
                return .string(try expand(scalar.string, environment: environment))
            }
        }

        func list(_ items: [JSONValue], at path: YAMLWalker.Path) -> JSONValue {
            .array(items)
        }

        func mapping(_ entries: [(key: String, value: JSONValue)], at path: YAMLWalker.Path) -> JSONValue {
            var object = JSONObject()
            for (key, value) in entries { object.appendUnchecked(key, value) }
            return .object(object)
        }
    }
}
