import Yams

/// The one walk over composed YAML nodes, shared by the declarative catalog (``YAMLJSON``) and the configuration
/// file (``RawSettings``). The walker owns the structure: it descends mappings and sequences top-down, keeps the
/// path of keys, refuses keys that are not plain values, aliases, duplicate keys and nesting past a depth when
/// its visitor asks it to. The visitor owns the meaning: what a scalar, a list and a mapping become, and what
/// it refuses before a section is read (a setting that does not exist, a list where one value belongs).
enum YAMLWalker {
    /// Where the walk is: the mapping keys from the root, and how many mappings and sequences enclose the node.
    struct Path {
        var keys: [String] = []
        var depth = 0

        /// `server.tls.key_file`; empty at the root.
        var dotted: String { keys.joined(separator: ".") }

        func entering(_ key: String) -> Path {
            Path(keys: keys + [key], depth: depth + 1)
        }

        func enteringItem() -> Path {
            Path(keys: keys, depth: depth + 1)
        }
    }

    /// What the walker refuses before its visitor sees the node.
    enum Problem {
        /// A mapping key that is not a plain value (the path is the mapping's).
        case keyNotString
        /// A key a second time in one mapping, for a visitor that refuses them (the path is the mapping's). Yams
        /// refuses them already when it composes a document; the walker does not rely on it.
        case duplicateKey(String)
        /// An alias (`*name`) the composer left unresolved.
        case alias
        /// Deeper than the visitor's `maxDepth`.
        case tooDeep
    }

    static func walk<Visitor: YAMLVisitor>(_ node: Node, with visitor: inout Visitor) throws -> Visitor.Value {
        try walk(node, at: Path(), with: &visitor)
    }

    private static func walk<Visitor: YAMLVisitor>(_ node: Node, at path: Path, with visitor: inout Visitor) throws -> Visitor.Value {
        guard path.depth < visitor.maxDepth else { throw visitor.failure(.tooDeep, at: path) }
        switch node {
        case .scalar(let scalar):
            return try visitor.scalar(scalar, of: node, at: path)
        case .sequence(let sequence):
            if let value = try visitor.sequence(sequence, at: path) { return value }
            var items: [Visitor.Value] = []
            items.reserveCapacity(sequence.count)
            for item in sequence {
                items.append(try walk(item, at: path.enteringItem(), with: &visitor))
            }
            return try visitor.list(items, at: path)
        case .mapping(let mapping):
            try visitor.enterMapping(at: path)
            var entries: [(key: String, value: Visitor.Value)] = []
            var seen: Set<String> = []
            for (keyNode, valueNode) in mapping {
                guard let key = keyNode.string else { throw visitor.failure(.keyNotString, at: path) }
                if visitor.refusesDuplicateKeys {
                    guard seen.insert(key).inserted else { throw visitor.failure(.duplicateKey(key), at: path) }
                }
                entries.append((key, try walk(valueNode, at: path.entering(key), with: &visitor)))
            }
            return try visitor.mapping(entries, at: path)
        case .alias:
            throw visitor.failure(.alias, at: path)
        }
    }
}

/// What a ``YAMLWalker`` walk makes of the nodes it meets. Methods are called top-down, in document order:
/// a mapping's `enterMapping` before its entries, a sequence's `sequence` before its items.
protocol YAMLVisitor {
    associatedtype Value

    /// Nodes this deep or deeper are refused (`.tooDeep`); the root is at depth 0.
    var maxDepth: Int { get }
    /// Whether a key given twice in one mapping is refused (`.duplicateKey`) rather than passed on.
    var refusesDuplicateKeys: Bool { get }

    /// The error thrown for what the walker refuses itself.
    func failure(_ problem: YAMLWalker.Problem, at path: YAMLWalker.Path) -> any Error

    mutating func scalar(_ scalar: Node.Scalar, of node: Node, at path: YAMLWalker.Path) throws -> Value
    /// A sequence met: its value, taken as a whole, or nil to have its items walked and given to `list`.
    mutating func sequence(_ sequence: Node.Sequence, at path: YAMLWalker.Path) throws -> Value?
    mutating func list(_ items: [Value], at path: YAMLWalker.Path) throws -> Value
    /// A mapping met, before any of its entries is read.
    mutating func enterMapping(at path: YAMLWalker.Path) throws
    mutating func mapping(_ entries: [(key: String, value: Value)], at path: YAMLWalker.Path) throws -> Value
}

extension YAMLVisitor {
    var maxDepth: Int { .max }
    var refusesDuplicateKeys: Bool { false }

    func sequence(_ sequence: Node.Sequence, at path: YAMLWalker.Path) throws -> Value? { nil }
    func enterMapping(at path: YAMLWalker.Path) throws {}
}
