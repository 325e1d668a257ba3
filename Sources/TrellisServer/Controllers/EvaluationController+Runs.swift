import Foundation
import Hummingbird
import OpenAIWire
import TrellisCore
import TrellisStore

/// Evaluation runs: started in the background, read with their progress, results and comparison, cancelled.
extension EvaluationController {
    static let maxModels = 8
    static let maxConcurrency = 8
    static let defaultConcurrency = 2

    /// `POST /eval-runs` `{"set","set_version"?,"shared"?,"tenant"?,"models","scorers","concurrency"?}` → 202 with the run.
    /// `set` is the tenant's set of that name, else the shared one (`"shared": true`: the shared one always). The
    /// models (`name` or `name@version`; a bare name is pinned now to the version its traffic gives) and the scorers'
    /// models are resolved as the run's key sees them: a model it may not call is 404, as a missing one.
    @Sendable func createRun(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var request = request
        let body = try BodyReader(
            try await request.jsonBody(limit: 256 * 1024), allowed: ["set", "set_version", "shared", "tenant", "models", "scorers", "concurrency"])
        let snapshot = gateway.snapshot
        guard let tenant = try context.owningTenant(body, in: snapshot) else {
            throw TrellisError.invalidRequest("A run acts for a tenant: name it with 'tenant'.", param: "tenant", code: "missing_required_parameter")
        }
        let key = try runKey(context, tenant: tenant)
        try await refuseBeyondRunningCap(tenant)
        let setName = try body.requiredString("set", maxBytes: 128)
        let sharedOnly: Bool
        switch body.value("shared") {
        case nil, .null?: sharedOnly = false
        case .bool(let b)?: sharedOnly = b
        default: throw TrellisError.invalidField("shared", "must be true or false")
        }
        let set = try await findSet(setName, version: try body.int("set_version", in: 1...Int.max), tenantID: sharedOnly ? nil : tenant.id)
        guard let models = try body.strings("models", maxCount: Self.maxModels, maxBytes: 200), !models.isEmpty else {
            throw TrellisError.invalidField("models", "must be an array of 1 to \(Self.maxModels) model names (name@version)")
        }
        var pinned: [String] = []
        for (i, reference) in models.enumerated() {
            let (model, version) = try resolve(reference, key: key, snapshot: snapshot, param: "models[\(i)]")
            let name = "\(model.name)@\(version.version)"
            if pinned.contains(name) { throw TrellisError.invalidRequest("'\(name)' is named twice.", param: "models[\(i)]", code: "invalid_value") }
            pinned.append(name)
        }
        let scorers = try EvalScorer.parseList(body.value("scorers"))
        for (i, scorer) in scorers.enumerated() {
            if let model = scorer.model { _ = try resolve(model, key: key, snapshot: snapshot, param: "scorers[\(i)].model") }
        }
        let run = EvalRunRecord(
            id: EvalIDs.make("evr"), tenantID: tenant.id, keyID: key.id, setID: set.id, setName: set.name, setVersion: set.version, models: pinned,
            scorers: .array(scorers.map(\.json)), concurrency: try body.int("concurrency", in: 1...Self.maxConcurrency) ?? Self.defaultConcurrency,
            status: .running, total: set.items.count * pinned.count, createdAt: Date(), createdBy: context.actor)
        try await gateway.store.insertEvalRun(run, owner: gateway.evaluations.owner)
        gateway.evaluations.start(run, gateway: gateway, logger: gateway.logger)
        return .json(EvalReport.runJSON(run, done: 0, computed: nil, tenantName: tenantName(run.tenantID)), status: .accepted)
    }

    /// A tenant's running runs are capped (`evaluation.max_running_per_tenant`), so that its evaluations cannot take
    /// the upstreams from its own clients or from other tenants: one more is 429 until one ends.
    func refuseBeyondRunningCap(_ tenant: Tenant) async throws {
        let cap = gateway.config.evaluationMaxRunningPerTenant
        let running = try await gateway.store.evalRuns(tenantID: tenant.id, limit: 500).filter { $0.status == .running }.count
        guard running < cap else {
            throw TrellisError(
                status: 429, type: "rate_limit_error", code: "too_many_evaluation_runs",
                message: "The tenant already has \(running) evaluation runs running (at most \(cap)); wait for one to end or cancel one.",
                headers: [("Retry-After", "30")])
        }
    }

    /// The key a run acts with: the manage key that starts it, or for the operator the tenant without key limits.
    func runKey(_ context: AuthenticatedContext, tenant: Tenant) throws -> TenantKey {
        if let key = try context.manageKey() { return key }
        return TenantKey.evaluationOperator(for: tenant)
    }

    func resolve(_ reference: String, key: TenantKey, snapshot: CatalogSnapshot, param: String) throws -> (IndustryModel, ModelVersion) {
        do {
            return try ChatPlanner.resolve(reference, key: key, snapshot: snapshot, stickyKey: key.id)
        } catch {
            var error = error
            error.param = param
            throw error
        }
    }

    /// `GET /eval-runs?tenant=&limit=`: the newest runs first, with their progress (and results once ended).
    @Sendable func listRuns(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let tenantID = try readerTenant(request, context)
        let limit = try request.uri.queryParameters.get("limit").map { try Self.count($0, param: "limit", in: 1...200) }
        let runs = try await gateway.store.evalRuns(tenantID: tenantID, limit: limit ?? 50)
        var data: [JSONValue] = []
        for run in runs {
            let done = try await gateway.store.evalResultCount(runID: run.id)
            data.append(EvalReport.runJSON(run, done: done, computed: nil, tenantName: tenantName(run.tenantID)))
        }
        return .json(["object": "list", "data": .array(data)])
    }

    /// `GET /eval-runs/{id}`: status, progress, the results per model version and the paired comparisons.
    @Sendable func getRun(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        .json(try await report(try await findRun(context)))
    }

    /// A run with its results: kept when it ended, else computed from its outcomes so far.
    func report(_ run: EvalRunRecord) async throws -> JSONValue {
        let outcomes = try await gateway.store.evalOutcomes(runID: run.id)
        let computed = run.summary == nil ? EvalReport.summary(run, outcomes: outcomes) : nil
        return EvalReport.runJSON(run, done: outcomes.count, computed: computed, tenantName: tenantName(run.tenantID))
    }

    /// `GET /eval-runs/{id}/items?model=&failed=true&offset=&limit=`: each item's answer per model version with its
    /// scores and reasons, a page at a time (`model` is `name@version`, or a name for all its versions in the run).
    @Sendable func runItems(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let run = try await findRun(context)
        let query = request.uri.queryParameters
        let offset = try query.get("offset").map { try Self.count($0, param: "offset", in: 0...1_000_000) } ?? 0
        let limit = try query.get("limit").map { try Self.count($0, param: "limit", in: 1...1_000) } ?? 200
        let model = query.get("model").map { String($0) }
        // A bare name means each of its versions in the run: read them one after another, in the run's order.
        let models = model.map { m in m.contains("@") ? [m] : run.models.filter { $0.hasPrefix(m + "@") } } ?? []
        let failedOnly = query.get("failed") == "true"
        var page: [EvalResultRecord]
        if model == nil {
            page = try await gateway.store.evalResults(runID: run.id, model: nil, failedOnly: failedOnly, offset: offset, limit: limit + 1)
        } else {
            page = []
            for m in models {
                page += try await gateway.store.evalResults(runID: run.id, model: m, failedOnly: failedOnly, offset: 0, limit: offset + limit + 1)
            }
            page = Array(page.sorted { ($0.item, $0.model) < ($1.item, $1.model) }.dropFirst(offset).prefix(limit + 1))
        }
        let hasMore = page.count > limit
        let data: [JSONValue] = page.prefix(limit).map { r in
            let (name, version) = VersionSelector.parseReference(r.model)
            return [
                "item": .int(r.item), "model": .string(name), "version": version.map { .int($0) } ?? .null, "answer": .optionalString(r.answer),
                "error": .optionalString(r.error), "passed": .bool(r.passed), "score": r.score.map { .double(EvalReport.round($0)) } ?? .null,
                "latency_ms": .double(EvalReport.round(r.latencyMs, places: 1)), "scores": r.scores,
            ]
        }
        return .json(["object": "list", "data": .array(data), "has_more": .bool(hasMore)])
    }

    /// `DELETE /eval-runs/{id}`: cancels a running run (the results so far stay, summarised); an ended run is 409.
    @Sendable func cancelRun(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let run = try await findRun(context)
        let outcomes = try await gateway.store.evalOutcomes(runID: run.id)
        let summary = EvalReport.summary(run, outcomes: outcomes)
        guard try await gateway.store.finishEvalRun(id: run.id, status: .cancelled, error: nil, summary: summary, now: Date()) else {
            throw TrellisError.conflict("The run has already ended (\(run.status.rawValue)).")
        }
        gateway.evaluations.cancel(run.id)
        return .json(try await report(try await gateway.store.evalRun(id: run.id, tenantID: nil) ?? run))
    }

    func findRun(_ context: AuthenticatedContext) async throws -> EvalRunRecord {
        let id = context.parameters.decoded("id")
        let tenantID = try context.manageKey()?.tenantID
        guard id.utf8.count <= 64, let run = try await gateway.store.evalRun(id: id, tenantID: tenantID) else {
            throw TrellisError.notFound("The evaluation run '\(id.prefix(64))'")
        }
        return run
    }

    static func count(_ text: some StringProtocol, param: String, in range: ClosedRange<Int>) throws -> Int {
        guard let n = Int(text), range.contains(n) else { throw TrellisError.invalidField(param, "must be an integer from \(range.lowerBound)") }
        return n
    }
}
