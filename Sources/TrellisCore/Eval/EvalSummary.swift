import OpenAIWire

/// One item's outcome for one model version, as a run's summary reads it.
public struct EvalOutcome: Sendable, Equatable {
    public var item: Int
    public var model: String
    /// Nil when asking or scoring failed.
    public var score: Double?
    public var passed: Bool
    public var latencyMs: Double
    public var tokens: Int
    public var costMicros: Int

    public init(item: Int, model: String, score: Double?, passed: Bool, latencyMs: Double, tokens: Int, costMicros: Int) {
        self.item = item
        self.model = model
        self.score = score
        self.passed = passed
        self.latencyMs = latencyMs
        self.tokens = tokens
        self.costMicros = costMicros
    }
}

/// A run's results per model version: the score (the mean of the items' scores, an error counting 0 so that a
/// version cannot score better by failing), passed, failed and errored counts, latency percentiles, tokens and cost;
/// and the paired comparison of each later version with the first on the items both answered.
public struct EvalSummary: Sendable, Equatable {
    public struct Version: Sendable, Equatable {
        public var model: String
        public var score: Double
        public var passed: Int
        public var failed: Int
        public var errors: Int
        public var p50Ms: Double?
        public var p90Ms: Double?
        public var tokens: Int
        public var costMicros: Int
    }

    public var versions: [Version]
    /// Each later model against the first: `(first, later, comparison)`.
    public var comparisons: [(a: String, b: String, result: PairedComparison)]

    public static func == (x: EvalSummary, y: EvalSummary) -> Bool {
        x.versions == y.versions && x.comparisons.map { [$0.a, $0.b] } == y.comparisons.map { [$0.a, $0.b] }
            && x.comparisons.map(\.result) == y.comparisons.map(\.result)
    }

    /// Summarises `outcomes` for `models` (in the run's order) over `itemCount` items.
    public init(models: [String], itemCount: Int, outcomes: [EvalOutcome]) {
        var byModel: [String: [Int: EvalOutcome]] = [:]
        for o in outcomes { byModel[o.model, default: [:]][o.item] = o }
        versions = models.map { model in
            let done = Array((byModel[model] ?? [:]).values)
            let scored = done.filter { $0.score != nil }
            let latencies = scored.map(\.latencyMs)
            let sum = scored.reduce(0.0) { $0 + ($1.score ?? 0) }
            return Version(
                model: model, score: done.isEmpty ? 0 : sum / Double(done.count), passed: scored.filter(\.passed).count,
                failed: scored.filter { !$0.passed }.count, errors: done.count - scored.count,
                p50Ms: EvalPercentiles.nearestRank(50, of: latencies), p90Ms: EvalPercentiles.nearestRank(90, of: latencies),
                tokens: done.reduce(0) { $0 + $1.tokens }, costMicros: done.reduce(0) { $0 + $1.costMicros })
        }
        comparisons = []
        guard let first = models.first else { return }
        let items = 0..<itemCount
        for later in models.dropFirst() {
            let a = items.map { byModel[first]?[$0]?.score }
            let b = items.map { byModel[later]?[$0]?.score }
            comparisons.append((first, later, PairedComparison.compare(a, b)))
        }
    }

    /// Whether every version's score is at least `threshold` (and there is a version).
    public func allScore(atLeast threshold: Double) -> Bool {
        !versions.isEmpty && versions.allSatisfy { $0.score >= threshold }
    }
}
