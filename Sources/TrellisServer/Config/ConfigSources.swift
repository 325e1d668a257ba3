import Foundation
import OpenAIWire
import TrellisCore
import Yams

/// A configuration problem, named by its key and where the value came from.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var key: String
    public var source: String
    public var problem: String

    public init(key: String, source: String, problem: String) {
        self.key = key
        self.source = source
        self.problem = problem
    }

    public var description: String {
        "invalid configuration: \(key)\(source.isEmpty ? "" : " (from \(source))"): \(problem)"
    }
}

/// Raw settings as dotted keys (`server.port`) with string values, gathered from the layers in precedence
/// order: command-line flags over environment variables over the YAML file over defaults. Each value keeps
/// the name of the layer it came from, for error messages.
public struct RawSettings: Sendable {
    public struct Value: Sendable {
        public var text: String?
        public var list: [String]?
        public var source: String
    }

    public private(set) var values: [String: Value] = [:]

    public init() {}

    public subscript(key: String) -> Value? { values[key] }

    public mutating func set(_ key: String, _ text: String, source: String) {
        values[key] = Value(text: text, list: nil, source: source)
    }

    public mutating func set(_ key: String, list: [String], source: String) {
        values[key] = Value(text: nil, list: list, source: source)
    }

    /// Lists whose items may contain commas (regular expressions): in the environment or a flag they are
    /// separated by `;` instead.
    static let semicolonListKeys: Set<String> = ["privacy.patterns"]

    /// The environment variable for a key: `server.port` → `TRELLIS_SERVER_PORT`.
    public static func environmentName(for key: String) -> String {
        "TRELLIS_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// Reads a YAML file into dotted keys. Nested mappings become dotted keys; a sequence of scalars is a
    /// list. Unknown keys are refused, so a misspelt setting never silently does nothing.
    public mutating func loadYAML(path: String, knownKeys: Set<String>, listKeys: Set<String>) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(key: "--config", source: path, problem: "cannot read the file")
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigError(key: "--config", source: path, problem: "not valid YAML: \(Self.describe(error))")
        } catch {
            throw ConfigError(key: "--config", source: path, problem: "not valid YAML")
        }
        guard let node else { return }  // an empty file sets nothing
        guard case .mapping = node else {
            throw ConfigError(key: "--config", source: path, problem: "the top level must be a mapping of settings")
        }
        var flattener = Flattener(settings: self, file: path, knownKeys: knownKeys, listKeys: listKeys)
        defer { self = flattener.settings }  // what was read before a refusal stays, as it always did
        try YAMLWalker.walk(node, with: &flattener)
    }

    /// The configuration's reading of a YAML file: nested mappings become dotted keys, each checked against the
    /// known settings before it is read; a sequence of plain values is a list, for list settings only; a null
    /// leaves the default.
    private struct Flattener: YAMLVisitor {
        var settings: RawSettings
        let file: String
        let knownKeys: Set<String>
        let listKeys: Set<String>

        func failure(_ problem: YAMLWalker.Problem, at path: YAMLWalker.Path) -> any Error {
            switch problem {
            case .keyNotString:
                ConfigError(key: path.keys.isEmpty ? "(root)" : path.dotted, source: file, problem: "keys must be strings")
            case .alias:
                ConfigError(key: path.dotted, source: file, problem: "YAML aliases are not supported in the configuration")
            // Neither is asked for: Yams refuses duplicate keys itself, and an unknown section ends the walk.
            case .duplicateKey(let name):
                ConfigError(key: path.dotted, source: file, problem: "duplicate key '\(name)'")
            case .tooDeep:
                ConfigError(key: path.dotted, source: file, problem: "nested too deeply")
            }
        }

        func isSection(_ key: String) -> Bool {
            knownKeys.contains(where: { $0.hasPrefix(key + ".") })
        }

        func enterMapping(at path: YAMLWalker.Path) throws {
            let key = path.dotted
            guard path.keys.isEmpty || isSection(key) else {
                throw ConfigError(key: key, source: file, problem: "unknown setting")
            }
        }

        mutating func sequence(_ sequence: Node.Sequence, at path: YAMLWalker.Path) throws -> Void? {
            let key = path.dotted
            guard listKeys.contains(key) else {
                throw ConfigError(key: key, source: file, problem: knownKeys.contains(key) ? "must be a single value, not a list" : "unknown setting")
            }
            var items: [String] = []
            for item in sequence {
                guard let s = item.string else { throw ConfigError(key: key, source: file, problem: "list items must be plain values") }
                items.append(s)
            }
            settings.set(key, list: items, source: file)
            return ()
        }

        mutating func scalar(_ scalar: Node.Scalar, of node: Node, at path: YAMLWalker.Path) throws {
            let key = path.dotted
            let isNull =
                scalar.tag.description == Tag.Name.null.rawValue || (scalar.string.isEmpty && scalar.style == .plain) || scalar.string == "~"
                || scalar.string == "null"
            // A section whose settings are all commented out (`admin:` with only comments) is an empty one.
            guard knownKeys.contains(key) || (isNull && isSection(key)) else {
                throw ConfigError(key: key, source: file, problem: "unknown setting")
            }
            if isNull {
                return  // an explicit null leaves the default
            }
            if listKeys.contains(key) {
                settings.set(key, list: scalar.string.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }, source: file)
            } else {
                settings.set(key, scalar.string, source: file)
            }
        }

        func list(_ items: [Void], at path: YAMLWalker.Path) {}

        func mapping(_ entries: [(key: String, value: Void)], at path: YAMLWalker.Path) {}
    }

    /// Environment variables override the file: `TRELLIS_SERVER_PORT=9000`. Lists are comma-separated.
    public mutating func loadEnvironment(_ environment: [String: String], knownKeys: Set<String>, listKeys: Set<String>) {
        for key in knownKeys {
            let name = Self.environmentName(for: key)
            guard let value = environment[name] else { continue }
            if listKeys.contains(key) {
                let separator: Character = Self.semicolonListKeys.contains(key) ? ";" : ","
                set(key, list: value.split(separator: separator).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }, source: name)
            } else {
                set(key, value, source: name)
            }
        }
    }

    static func describe(_ error: YamlError) -> String {
        // The library's description quotes the offending line; keep only its first line.
        String(describing: error).split(separator: "\n").first.map(String.init) ?? "syntax error"
    }
}
