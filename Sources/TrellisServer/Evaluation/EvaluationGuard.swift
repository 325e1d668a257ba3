import TrellisCore
import TrellisStore

/// The evaluation guard (`evaluation.guard_set`, off by default): a traffic split may give a version more than
/// `evaluation.guard_max_share` percent of a model's traffic only when a finished run on the named set (the model's
/// tenant's runs; any tenant's for a shared model) scored that version at least `evaluation.guard_min_score`.
struct EvaluationGuard {
    let gateway: Gateway

    /// How many recent runs are looked through for a passing one.
    static let runsLookedAt = 200

    func check(_ traffic: [Int: Int], of model: IndustryModel) async throws {
        let config = gateway.config
        guard let setName = config.evaluationGuardSet else { return }
        let total = traffic.values.reduce(0, +)
        let guarded = traffic.filter { total > 0 && $0.value * 100 > config.evaluationGuardMaxShare * total }.keys.sorted()
        guard !guarded.isEmpty else { return }
        let runs = try await gateway.store.evalRuns(tenantID: model.tenantID, limit: Self.runsLookedAt)
            .filter { $0.status == .done && $0.setName == setName }
        var passed: Set<Int> = []
        for run in runs {
            let wanted = guarded.filter { !passed.contains($0) && run.models.contains("\(model.name)@\($0)") }
            guard !wanted.isEmpty else { continue }
            let results = try await gateway.store.evalResults(runID: run.id)
            let summary = EvalSummary(
                models: run.models, itemCount: run.models.isEmpty ? 0 : run.total / run.models.count,
                outcomes: results.map {
                    EvalOutcome(item: $0.item, model: $0.model, score: $0.score, passed: $0.passed, latencyMs: 0, tokens: 0, costMicros: 0)
                })
            for version in wanted
            where summary.versions.contains(where: { $0.model == "\(model.name)@\(version)" && $0.score >= config.evaluationGuardMinScore }) {
                passed.insert(version)
            }
        }
        if let version = guarded.first(where: { !passed.contains($0) }) {
            throw TrellisError(
                status: 409, type: "invalid_request_error", code: "evaluation_required",
                message: "Version \(version) of '\(model.name)' may get at most \(config.evaluationGuardMaxShare)% of its traffic until a run on the "
                    + "evaluation set '\(setName)' scores it at least \(config.evaluationGuardMinScore) "
                    + "(trellis eval run \(setName) --models \(model.name)@\(version)).",
                param: String(version))
        }
    }
}
