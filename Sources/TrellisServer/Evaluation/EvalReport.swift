import Foundation
import OpenAIWire
import TrellisCore
import TrellisStore

/// A run's results as the API shows them: per model version (score, passed, failed, errors, latency, tokens, cost)
/// and the paired comparisons of each later version with the first. Computed from the run's outcomes while it runs,
/// and kept with the run when it ends (`summary`), so that lists, the overview and the guard read one small value.
enum EvalReport {
    /// `{"results": [...], "comparisons": [...]}` of `outcomes`.
    static func summary(_ run: EvalRunRecord, outcomes: [EvalOutcome]) -> JSONValue {
        let summary = EvalSummary(models: run.models, itemCount: run.models.isEmpty ? 0 : run.total / run.models.count, outcomes: outcomes)
        let comparisons: [JSONValue] = summary.comparisons.map { a, b, result in
            var c = result.json.objectValue ?? [:]
            c["a"] = .string(a)
            c["b"] = .string(b)
            return .object(c)
        }
        return ["results": .array(summary.versions.map(versionJSON)), "comparisons": .array(comparisons)]
    }

    static func versionJSON(_ v: EvalSummary.Version) -> JSONValue {
        let (name, version) = VersionSelector.parseReference(v.model)
        return [
            "model": .string(name), "version": version.map { .int($0) } ?? .null, "score": .double(round(v.score)), "passed": .int(v.passed),
            "failed": .int(v.failed), "errors": .int(v.errors), "p50_ms": v.p50Ms.map { .double(round($0, places: 1)) } ?? .null,
            "p90_ms": v.p90Ms.map { .double(round($0, places: 1)) } ?? .null, "tokens": .int(v.tokens), "cost": .double(Double(v.costMicros) / 1_000_000),
        ]
    }

    /// The run object: its summary (kept, else `computed`), with the first comparison as `comparison`.
    static func runJSON(_ run: EvalRunRecord, done: Int, computed: JSONValue?, tenantName: JSONValue) -> JSONValue {
        var o: JSONObject = [
            "id": .string(run.id), "object": "eval.run", "status": .string(run.status.rawValue), "set": .string(run.setName),
            "set_version": .int(run.setVersion), "tenant": tenantName, "models": .array(run.models.map { .string($0) }),
            "scorers": run.scorers, "concurrency": .int(run.concurrency), "progress": ["done": .int(done), "total": .int(run.total)],
            "error": .optionalString(run.error), "created_at": .time(run.createdAt), "finished_at": run.finishedAt.map { .time($0) } ?? .null,
            "created_by": .string(run.createdBy),
        ]
        let summary = run.summary ?? computed
        o["results"] = summary?["results"] ?? .array([])
        let comparisons = summary?["comparisons"]?.arrayValue ?? []
        o["comparison"] = comparisons.first ?? .null
        o["comparisons"] = .array(comparisons)
        return .object(o)
    }

    /// The score a finished run gave `model` (`name@version`), when it asked it of every item without an error.
    static func completeScore(_ run: EvalRunRecord, model: String) -> Double? {
        guard run.status == .done, run.models.contains(model), let results = run.summary?["results"]?.arrayValue else { return nil }
        let (name, version) = VersionSelector.parseReference(model)
        let perModel = run.models.isEmpty ? 0 : run.total / run.models.count
        guard
            let row = results.first(where: { $0["model"]?.stringValue == name && $0["version"]?.numberValue?.intValue == version }),
            let score = row["score"]?.numberValue?.doubleValue,
            (row["passed"]?.numberValue?.intValue ?? 0) + (row["failed"]?.numberValue?.intValue ?? 0) == perModel
        else { return nil }
        return score
    }

    static func round(_ value: Double, places: Int = 4) -> Double {
        let scale = pow(10, Double(places))
        return (value * scale).rounded() / scale
    }
}
