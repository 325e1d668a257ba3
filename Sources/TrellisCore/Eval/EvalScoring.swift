import OpenAIWire

/// How one answer fared with one scorer: a score in 0...1, whether it reached the scorer's threshold, and a short
/// reason a person reading the results can check it by.
public struct EvalScore: Sendable, Equatable {
    /// The scorer's name (its type, such as `exact` or `judge`).
    public var scorer: String
    public var score: Double
    public var passed: Bool
    public var reason: String

    /// `score` is clamped to 0...1 (NaN becomes 0).
    public init(scorer: String, score: Double, passed: Bool, reason: String) {
        self.scorer = scorer
        self.score = score.isNaN ? 0 : min(1, max(0, score))
        self.passed = passed
        self.reason = reason
    }

    /// A score judged against `threshold`: it passes when it reaches the threshold, allowing for rounding (a judge's
    /// 6 out of 10 passes a 0.6 threshold however the division rounds).
    public init(scorer: String, score: Double, threshold: Double, reason: String) {
        self.init(scorer: scorer, score: score, passed: false, reason: reason)
        passed = self.score + 1e-9 >= threshold
    }

    /// The failed score of a scorer that compares with an expected answer when the item has none. It counts as a
    /// failure rather than being left out, so a set missing its answers cannot pass by accident, and the reason says why.
    public static func missingExpected(scorer: String) -> EvalScore {
        EvalScore(scorer: scorer, score: 0, passed: false, reason: "the item has no expected answer")
    }

    /// `{"scorer", "score", "passed", "reason"}`, the score rounded to 4 decimal places.
    public var json: JSONValue {
        ["scorer": .string(scorer), "score": .double((score * 10_000).rounded() / 10_000), "passed": .bool(passed), "reason": .string(reason)]
    }

    /// Reloads what ``json`` stored; nil when a field is missing or of the wrong type.
    public init?(json: JSONValue) {
        guard let scorer = json["scorer"]?.stringValue, let score = json["score"]?.numberValue?.doubleValue,
            let passed = json["passed"]?.boolValue, let reason = json["reason"]?.stringValue
        else { return nil }
        self.init(scorer: scorer, score: score, passed: passed, reason: reason)
    }
}

/// The scorers that need no model call, the scoring of a model's output for the two that do, and the reading of an
/// item's expected answer. Everything here is a pure function of its arguments.
public enum EvalScoring {
    /// The expected answers an item accepts. `expected` is a string, or an array of alternatives, any of which
    /// counts as right (`["北京", "Beijing"]`); numbers and booleans are taken as written (`42` → `"42"`). Blank
    /// alternatives, nested arrays and objects are left out; nil, null or nothing left means no expected answer.
    public static func expectedAlternatives(_ expected: JSONValue?) -> [String] {
        func text(_ v: JSONValue) -> String? {
            switch v {
            case .string(let s): s.allSatisfy(\.isWhitespace) ? nil : s
            case .number(let n): n.literal
            case .bool(let b): b ? "true" : "false"
            default: nil
            }
        }
        guard let expected else { return [] }
        if case .array(let items) = expected { return items.compactMap(text) }
        return text(expected).map { [$0] } ?? []
    }

    /// Passes (score 1) when the normalised answer equals a normalised alternative (see ``EvalText/normalize(_:)``).
    public static func exact(answer: String, expected: [String]) -> EvalScore {
        guard !expected.isEmpty else { return .missingExpected(scorer: "exact") }
        let normalized = EvalText.normalize(answer)
        if let hit = expected.first(where: { EvalText.normalize($0) == normalized }) {
            return EvalScore(scorer: "exact", score: 1, passed: true, reason: "equals \(quoted(hit))")
        }
        return EvalScore(scorer: "exact", score: 0, passed: false, reason: "does not equal \(alternatives(expected))")
    }

    public static func exact(answer: String, expected: String) -> EvalScore {
        exact(answer: answer, expected: [expected])
    }

    /// Passes (score 1) when a normalised alternative occurs in the normalised answer. An alternative that normalises
    /// to nothing (only punctuation) must equal the answer instead, since the empty text occurs in every answer.
    public static func contains(answer: String, expected: [String]) -> EvalScore {
        guard !expected.isEmpty else { return .missingExpected(scorer: "contains") }
        let normalized = EvalText.normalize(answer)
        for alternative in expected {
            let needle = EvalText.normalize(alternative)
            if needle.isEmpty ? normalized.isEmpty : normalized.contains(needle) {
                return EvalScore(scorer: "contains", score: 1, passed: true, reason: "expected \(quoted(alternative)) found")
            }
        }
        return EvalScore(scorer: "contains", score: 0, passed: false, reason: "expected \(alternatives(expected)) not found")
    }

    public static func contains(answer: String, expected: String) -> EvalScore {
        contains(answer: answer, expected: [expected])
    }

    /// Passes (score 1) when `pattern` matches somewhere in the answer as written (no normalisation: the pattern
    /// decides, `(?i)` for case). A search that runs out of its time budget fails, and says so.
    public static func regex(answer: String, pattern: SafePattern) -> EvalScore {
        let shown = "/\(pattern.pattern.prefix(100))/"
        switch pattern.search(answer) {
        case .matched: return EvalScore(scorer: "regex", score: 1, passed: true, reason: "matches \(shown)")
        case .noMatch: return EvalScore(scorer: "regex", score: 0, passed: false, reason: "no match for \(shown)")
        case .timedOut:
            return EvalScore(scorer: "regex", score: 0, passed: false, reason: "the pattern \(shown) ran out of time on this answer; counted as no match")
        }
    }

    /// The regex scorer with the item's expected answers as its patterns: passes when any of them matches. A
    /// pattern that does not compile fails the item, with a reason naming it.
    public static func regex(answer: String, patterns: [String], budget: Duration = .milliseconds(20)) -> EvalScore {
        guard !patterns.isEmpty else { return .missingExpected(scorer: "regex") }
        var last: EvalScore?
        for text in patterns {
            guard let pattern = try? SafePattern(text, path: "expected", budget: budget) else {
                last = EvalScore(scorer: "regex", score: 0, passed: false, reason: "the expected answer \(quoted(text)) is not a valid regular expression")
                continue
            }
            let score = regex(answer: answer, pattern: pattern)
            if score.passed { return score }
            last = score
        }
        return last ?? .missingExpected(scorer: "regex")
    }

    /// The cosine similarity of the answer's and the expected answer's embeddings, clamped to 0...1 (embeddings of
    /// text rarely point apart, and a negative score means as little as 0). Vectors of different lengths, empty or
    /// zero ones, and non-finite values score 0 with a reason.
    public static func similarity(answerVector: [Double], expectedVector: [Double], threshold: Double) -> EvalScore {
        guard let cosine = cosine(answerVector, expectedVector) else {
            return EvalScore(
                scorer: "similarity", score: 0, passed: false,
                reason: "the embeddings cannot be compared (\(answerVector.count) and \(expectedVector.count) dimensions, or zero or non-finite values)")
        }
        let shown = formatted(cosine)
        let verdict = cosine + 1e-9 >= threshold ? "at least" : "below"
        return EvalScore(scorer: "similarity", score: cosine, threshold: threshold, reason: "cosine \(shown), \(verdict) \(formatted(threshold))")
    }

    /// The similarity scorer over several expected alternatives: the best of them counts.
    public static func similarity(answerVector: [Double], expectedVectors: [[Double]], threshold: Double) -> EvalScore {
        guard !expectedVectors.isEmpty else { return .missingExpected(scorer: "similarity") }
        let scores = expectedVectors.map { similarity(answerVector: answerVector, expectedVector: $0, threshold: threshold) }
        return scores.max { $0.score < $1.score } ?? .missingExpected(scorer: "similarity")
    }

    /// The judge scorer from the grading model's reply (see ``JudgePrompt/parse(_:)``). A reply without a score
    /// fails, quoting the start of the reply.
    public static func judge(reply: String, threshold: Double) -> EvalScore {
        guard let (score, reason) = JudgePrompt.parse(reply) else {
            let start = reply.split(whereSeparator: \.isWhitespace).joined(separator: " ").prefix(200)
            return EvalScore(scorer: "judge", score: 0, passed: false, reason: "the judge's reply has no score: \(quoted(String(start)))")
        }
        return EvalScore(scorer: "judge", score: score, threshold: threshold, reason: reason)
    }

    /// The cosine of the angle between two vectors; nil when it is undefined.
    static func cosine(_ a: [Double], _ b: [Double]) -> Double? {
        guard a.count == b.count, !a.isEmpty else { return nil }
        var dot = 0.0
        var na = 0.0
        var nb = 0.0
        for i in a.indices {
            dot += a[i] * b[i]
            na += a[i] * a[i]
            nb += b[i] * b[i]
        }
        guard na > 0, nb > 0, dot.isFinite, na.isFinite, nb.isFinite else { return nil }
        return min(1, max(0, dot / (na.squareRoot() * nb.squareRoot())))
    }

    static func quoted(_ text: String) -> String {
        text.count > 100 ? "\"\(text.prefix(99))…\"" : "\"\(text)\""
    }

    private static func alternatives(_ expected: [String]) -> String {
        let shown = expected.prefix(3).map(quoted).joined(separator: " or ")
        return expected.count > 3 ? "\(shown) or \(expected.count - 3) more" : shown
    }

    /// A score with 3 decimal places, as people read it.
    static func formatted(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e12 else { return "\(value)" }
        let thousandths = Int((abs(value) * 1_000).rounded())
        let fraction = String(thousandths % 1_000)
        let sign = value < 0 && thousandths > 0 ? "-" : ""
        return "\(sign)\(thousandths / 1_000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}

extension EvalScorer {
    /// Scores an answer with a scorer that needs no model (`exact`, `contains`, `regex`) against the item's expected
    /// alternatives (see ``EvalScoring/expectedAlternatives(_:)``); nil for `similarity` and `judge`, which score a
    /// model's output with ``score(answerVector:expectedVectors:)`` and ``score(judgeReply:)``.
    public func score(answer: String, expected: [String]) -> EvalScore? {
        switch kind {
        case .exact: EvalScoring.exact(answer: answer, expected: expected)
        case .contains: EvalScoring.contains(answer: answer, expected: expected)
        case .regex:
            if let pattern { EvalScoring.regex(answer: answer, pattern: pattern) } else { EvalScoring.regex(answer: answer, patterns: expected) }
        case .similarity, .judge: nil
        }
    }

    /// The similarity score from the embeddings of the answer and of each expected alternative.
    public func score(answerVector: [Double], expectedVectors: [[Double]]) -> EvalScore {
        EvalScoring.similarity(answerVector: answerVector, expectedVectors: expectedVectors, threshold: threshold)
    }

    /// The judge score from the grading model's reply.
    public func score(judgeReply: String) -> EvalScore {
        EvalScoring.judge(reply: judgeReply, threshold: threshold)
    }
}
