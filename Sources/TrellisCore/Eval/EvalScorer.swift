import OpenAIWire

/// One scorer an evaluation run applies to every answer, as the run's `scorers` names it:
/// `{"type": "exact"|"contains"|"regex"|"similarity"|"judge", "model"?, "rubric"?, "threshold"?, "pattern"?}`.
///
/// - `exact`, `contains`: compare the answer with the item's expected answer after ``EvalText/normalize(_:)``.
/// - `regex`: searches the answer as written for `pattern`, or, when the scorer has none, for the item's expected
///   answer read as a pattern. A configured pattern is compiled when the run is created, so a bad one is a 400 then.
/// - `similarity`: cosine similarity of the answer's and the expected answer's embeddings, from the embedding
///   model `model`.
/// - `judge`: the industry model `model` grades the answer out of 10 against the expected answer and `rubric`.
///
/// An answer passes a scorer when its score reaches `threshold`: 0.8 by default for similarity, 0.6 for judge.
/// The other three score 0 or 1 and pass only with 1, so they take no threshold. Parsing is strict: fields that do
/// not apply to the type are rejected rather than ignored, so a misspelt or misplaced setting never silently
/// changes what a run measures.
public struct EvalScorer: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        case exact
        case contains
        case regex
        case similarity
        case judge
    }

    public static let maxScorers = 8
    public static let maxRubricBytes = 4_000
    public static let defaultSimilarityThreshold = 0.8
    public static let defaultJudgeThreshold = 0.6

    public let kind: Kind
    /// The model to call: an embedding model for `similarity`, an industry model for `judge`; nil for the others.
    public let model: String?
    /// What the judge should look for, beyond agreement with the expected answer; `judge` only.
    public let rubric: String?
    /// The score an answer needs to pass, in 0...1.
    public let threshold: Double
    /// The pattern a `regex` scorer searches for; nil when it uses each item's expected answer instead.
    public let pattern: SafePattern?

    /// The scorer's name in results: its type, such as `judge`.
    public var name: String { kind.rawValue }

    /// Whether scoring calls a model (`similarity`, `judge`).
    public var callsModel: Bool { model != nil }

    /// The normalised configuration, for storing with the run and showing it: `type`, then `model`, `threshold`
    /// (similarity and judge, defaults filled in), `rubric` and `pattern` where present.
    public var json: JSONValue {
        var o = JSONObject()
        o.appendUnchecked("type", .string(kind.rawValue))
        if let model { o.appendUnchecked("model", .string(model)) }
        if kind == .similarity || kind == .judge { o.appendUnchecked("threshold", .double(threshold)) }
        if let rubric { o.appendUnchecked("rubric", .string(rubric)) }
        if let pattern { o.appendUnchecked("pattern", .string(pattern.pattern)) }
        return .object(o)
    }

    /// A scorer as built by ``parse(_:path:)``, without the checks: for tests and code that already validated.
    init(kind: Kind, model: String?, rubric: String?, threshold: Double, pattern: SafePattern?) {
        self.kind = kind
        self.model = model
        self.rubric = rubric
        self.threshold = threshold
        self.pattern = pattern
    }

    /// Reloads what ``json`` stored; nil when the stored value is no longer a valid scorer.
    public init?(json: JSONValue) {
        guard let scorer = try? Self.parse(json, path: "scorer") else { return nil }
        self = scorer
    }

    /// Parses one scorer object, naming `path` (such as `scorers[1]`) in errors.
    public static func parse(_ value: JSONValue, path: String) throws(TrellisError) -> EvalScorer {
        guard case .object(let o) = value else { throw .invalidField(path, "must be an object with a 'type'") }
        for key in o.keys where !["type", "model", "rubric", "threshold", "pattern"].contains(key) {
            throw .invalidRequest("Unknown field '\(path).\(key.prefix(64))'.", param: "\(path).\(key.prefix(64))", code: "unknown_parameter")
        }
        guard let typeValue = o["type"] else { throw .missingField("\(path).type") }
        guard let typeName = typeValue.stringValue, let kind = Kind(rawValue: typeName) else {
            throw .invalidField("\(path).type", "must be one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let callsModel = kind == .similarity || kind == .judge

        var model: String?
        if let m = o["model"] {
            guard callsModel else { throw .invalidField("\(path).model", "applies only to similarity and judge scorers") }
            guard let name = m.stringValue, isModelReference(name) else {
                throw .invalidField("\(path).model", "must be a model name such as 'my-judge' or 'my-judge@2'")
            }
            model = name
        } else if callsModel {
            throw .missingField("\(path).model")
        }

        var threshold: Double
        switch kind {
        case .similarity: threshold = defaultSimilarityThreshold
        case .judge: threshold = defaultJudgeThreshold
        case .exact, .contains, .regex: threshold = 1
        }
        if let t = o["threshold"] {
            guard callsModel else {
                throw .invalidField("\(path).threshold", "applies only to similarity and judge scorers (the others score 0 or 1)")
            }
            guard let d = t.numberValue?.doubleValue, d >= 0, d <= 1 else { throw .invalidField("\(path).threshold", "must be a number from 0 to 1") }
            threshold = d
        }

        var rubric: String?
        if let r = o["rubric"] {
            guard kind == .judge else { throw .invalidField("\(path).rubric", "applies only to judge scorers") }
            guard let text = r.stringValue, text.utf8.count <= maxRubricBytes else {
                throw .invalidField("\(path).rubric", "must be a string of at most \(maxRubricBytes) bytes")
            }
            rubric = text.isEmpty ? nil : text
        }

        var pattern: SafePattern?
        if let p = o["pattern"] {
            guard kind == .regex else { throw .invalidField("\(path).pattern", "applies only to regex scorers") }
            guard let text = p.stringValue else { throw .invalidField("\(path).pattern", "must be a string") }
            pattern = try SafePattern(text, path: "\(path).pattern")
        }
        return EvalScorer(kind: kind, model: model, rubric: rubric, threshold: threshold, pattern: pattern)
    }

    /// Parses a run's `scorers`: an array of 1 to 8 scorer objects, each type at most once. One of each keeps a
    /// result's `scorer` (the type) unambiguous; two judges with different rubrics belong in two runs, or in one
    /// rubric.
    public static func parseList(_ value: JSONValue?, path: String = "scorers") throws(TrellisError) -> [EvalScorer] {
        guard let value else { throw .missingField(path) }
        guard case .array(let items) = value, !items.isEmpty, items.count <= maxScorers else {
            throw .invalidField(path, "must be an array of 1 to \(maxScorers) scorers")
        }
        var scorers: [EvalScorer] = []
        for (i, item) in items.enumerated() {
            let scorer = try parse(item, path: "\(path)[\(i)]")
            if scorers.contains(where: { $0.kind == scorer.kind }) {
                throw .invalidField("\(path)[\(i)].type", "repeats the '\(scorer.name)' scorer; each type may appear once")
            }
            scorers.append(scorer)
        }
        return scorers
    }

    /// A model reference as a run names it: 1 to 256 bytes, no whitespace or control characters. Whether the model
    /// exists (and the caller may use it) is the run's check, when it resolves the name in the catalog.
    static func isModelReference(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 256 else { return false }
        return !text.unicodeScalars.contains { $0.properties.isWhitespace || $0.properties.generalCategory == .control }
    }
}
