import TrellisCore
import TrellisStore

/// The evaluation guard (`evaluation.guard_set`, off by default): a traffic split may newly give a version more than
/// `evaluation.guard_max_share` percent of a model's traffic only when a finished run on the shared set of that name
/// (the operator's; the model's tenant's runs, any tenant's for a shared model) answered every item without an error
/// and scored that version at least `evaluation.guard_min_score`.
struct EvaluationGuard {
    let gateway: Gateway

    /// How many recent runs are looked through for a passing one.
    static let runsLookedAt = 200

    func check(_ traffic: [Int: Int], of model: IndustryModel) async throws {
        let config = gateway.config
        guard let setName = config.evaluationGuardSet else { return }
        // A version that already has more than the guarded share (it is in service) keeps it and may get more (a
        // rollback to it is never held up); a version that would newly get more needs a passing run.
        let total = traffic.values.reduce(0, +)
        let before = model.traffic.values.reduce(0, +)
        func above(_ weight: Int, of sum: Int) -> Bool { sum > 0 && weight * 100 > config.evaluationGuardMaxShare * sum }
        let guarded = traffic.filter { above($0.value, of: total) && !above(model.traffic[$0.key] ?? 0, of: before) }.keys.sorted()
        guard !guarded.isEmpty else { return }
        // Only the shared set (the operator's) counts: a tenant cannot pass the guard with a set of its own by that name.
        let runs = try await gateway.store.evalRuns(tenantID: model.tenantID, limit: Self.runsLookedAt)
        var sharedSetIDs: [Int: String?] = [:]
        var passed: Set<Int> = []
        for run in runs where run.status == .done && run.setName == setName {
            if sharedSetIDs[run.setVersion] == nil {
                sharedSetIDs[run.setVersion] = try await gateway.store.evalSet(name: setName, tenantID: nil, version: run.setVersion)?.id
            }
            guard sharedSetIDs[run.setVersion] == .some(run.setID) else { continue }
            for version in guarded where !passed.contains(version) {
                if let score = EvalReport.completeScore(run, model: "\(model.name)@\(version)"), score >= config.evaluationGuardMinScore {
                    passed.insert(version)
                }
            }
        }
        if let version = guarded.first(where: { !passed.contains($0) }) {
            throw TrellisError(
                status: 409, type: "invalid_request_error", code: "evaluation_required",
                message: "Version \(version) of '\(model.name)' may get at most \(config.evaluationGuardMaxShare)% of its traffic until a run on the "
                    + "shared evaluation set '\(setName)' answers every item and scores it at least \(config.evaluationGuardMinScore) "
                    + "(trellis eval run \(setName) --models \(model.name)@\(version)).",
                param: String(version))
        }
    }
}
