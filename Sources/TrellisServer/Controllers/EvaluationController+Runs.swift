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

    /// `POST /eval-runs` `{"set","set_version"?,"tenant"?,"models","scorers","concurrency"?}` → 202 with the run. The
    /// models (`name` or `name@version`; a bare name is pinned now to the version its traffic gives) and the scorers'
    /// models are resolved as the run's key sees them: a model it may not call is 404, as a missing one.
    @Sendable func createRun(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var request = request
        let body = try BodyReader(
            try await request.jsonBody(limit: 256 * 1024), allowed: ["set", "set_version", "tenant", "models", "scorers", "concurrency"])
        let snapshot = gateway.snapshot
        guard let tenant = try context.owningTenant(body, in: snapshot) else {
            throw TrellisError.invalidRequest("A run acts for a tenant: name it with 'tenant'.", param: "tenant", code: "missing_required_parameter")
        }
        let key = try runKey(context, tenant: tenant)
        try await refuseBeyondRunningCap(tenant)
        let setName = try body.requiredString("set", maxBytes: 128)
        let set = try await findSet(setName, version: try body.int("set_version", in: 1...Int.max), tenantID: tenant.id)
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
        try await gateway.store.insertEvalRun(run)
        gateway.evaluations.start(run, gateway: gateway, logger: gateway.logger)
        return .json(runJSON(run, results: []), status: .accepted)
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
        return TenantKey(
            id: EvalRunRecord.operatorKeyID, name: "operator", prefix: "operator", tenantID: tenant.id, tenantName: tenant.name, scopes: [.inference],
            models: .all, rpm: nil, tpm: nil, expiresAt: nil)
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

    /// `GET /eval-runs?tenant=&limit=`: the newest runs first.
    @Sendable func listRuns(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let tenantID = try readerTenant(request, context)
        let limit = try request.uri.queryParameters.get("limit").map { text -> Int in
            guard let n = Int(text), (1...500).contains(n) else { throw TrellisError.invalidField("limit", "must be an integer from 1 to 500") }
            return n
        }
        let runs = try await gateway.store.evalRuns(tenantID: tenantID, limit: limit ?? 50)
        var data: [JSONValue] = []
        for run in runs { data.append(runJSON(run, results: try await gateway.store.evalResults(runID: run.id), withComparison: false)) }
        return .json(["object": "list", "data": .array(data)])
    }

    /// `GET /eval-runs/{id}`: status, progress, the results per model version and the paired comparisons.
    @Sendable func getRun(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let run = try await findRun(context)
        return .json(runJSON(run, results: try await gateway.store.evalResults(runID: run.id)))
    }

    /// `GET /eval-runs/{id}/items?model=&failed=true&offset=&limit=`: each item's answer per model version with its
    /// scores and reasons.
    @Sendable func runItems(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let run = try await findRun(context)
        let query = request.uri.queryParameters
        let offset = try query.get("offset").map { try Self.count($0, param: "offset", in: 0...Int.max) } ?? 0
        let limit = try query.get("limit").map { try Self.count($0, param: "limit", in: 1...5_000) } ?? 1_000
        var results = try await gateway.store.evalResults(runID: run.id)
        if let model = query.get("model") { results = results.filter { $0.model == model || $0.model.hasPrefix(model + "@") } }
        if query.get("failed") == "true" { results = results.filter { !$0.passed } }
        let page = results.dropFirst(offset).prefix(limit)
        let data: [JSONValue] = page.map { r in
            let (name, version) = VersionSelector.parseReference(r.model)
            return [
                "item": .int(r.item), "model": .string(name), "version": version.map { .int($0) } ?? .null, "answer": .optionalString(r.answer),
                "error": .optionalString(r.error), "passed": .bool(r.passed), "score": r.score.map { .double(Self.round($0)) } ?? .null,
                "latency_ms": .double(Self.round(r.latencyMs, places: 1)), "scores": r.scores,
            ]
        }
        return .json(["object": "list", "data": .array(data), "has_more": .bool(results.count > offset + page.count)])
    }

    /// `DELETE /eval-runs/{id}`: cancels a running run (the results so far stay); an ended run is 409.
    @Sendable func cancelRun(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let run = try await findRun(context)
        guard try await gateway.store.finishEvalRun(id: run.id, status: .cancelled, error: nil, now: Date()) else {
            throw TrellisError.conflict("The run has already ended (\(run.status.rawValue)).")
        }
        gateway.evaluations.cancel(run.id)
        let ended = try await gateway.store.evalRun(id: run.id, tenantID: nil) ?? run
        return .json(runJSON(ended, results: try await gateway.store.evalResults(runID: run.id)))
    }

    func findRun(_ context: AuthenticatedContext) async throws -> EvalRunRecord {
        let id = try context.parameters.require("id")
        let tenantID = try context.manageKey()?.tenantID
        guard id.utf8.count <= 64, let run = try await gateway.store.evalRun(id: id, tenantID: tenantID) else {
            throw TrellisError.notFound("The evaluation run '\(id.prefix(64))'")
        }
        return run
    }

    func runJSON(_ run: EvalRunRecord, results: [EvalResultRecord], withComparison: Bool = true) -> JSONValue {
        let summary = EvalSummary(
            models: run.models, itemCount: run.models.isEmpty ? 0 : run.total / run.models.count,
            outcomes: results.map {
                EvalOutcome(
                    item: $0.item, model: $0.model, score: $0.score, passed: $0.passed, latencyMs: $0.latencyMs,
                    tokens: $0.promptTokens + $0.completionTokens, costMicros: $0.costMicros)
            })
        var o: JSONObject = [
            "id": .string(run.id), "object": "eval.run", "status": .string(run.status.rawValue), "set": .string(run.setName),
            "set_version": .int(run.setVersion), "tenant": tenantName(run.tenantID), "models": .array(run.models.map { .string($0) }),
            "scorers": run.scorers, "concurrency": .int(run.concurrency), "progress": ["done": .int(results.count), "total": .int(run.total)],
            "error": .optionalString(run.error), "created_at": .time(run.createdAt), "finished_at": run.finishedAt.map { .time($0) } ?? .null,
            "created_by": .string(run.createdBy),
        ]
        o["results"] = .array(summary.versions.map(Self.versionJSON))
        if withComparison {
            let comparisons: [JSONValue] = summary.comparisons.map { a, b, result in
                var c = result.json.objectValue ?? [:]
                c["a"] = .string(a)
                c["b"] = .string(b)
                return .object(c)
            }
            o["comparison"] = comparisons.first ?? .null
            o["comparisons"] = .array(comparisons)
        }
        return .object(o)
    }

    static func versionJSON(_ v: EvalSummary.Version) -> JSONValue {
        let (name, version) = VersionSelector.parseReference(v.model)
        return [
            "model": .string(name), "version": version.map { .int($0) } ?? .null, "score": .double(round(v.score)), "passed": .int(v.passed),
            "failed": .int(v.failed), "errors": .int(v.errors), "p50_ms": v.p50Ms.map { .double(round($0, places: 1)) } ?? .null,
            "p90_ms": v.p90Ms.map { .double(round($0, places: 1)) } ?? .null, "tokens": .int(v.tokens), "cost": .double(Double(v.costMicros) / 1_000_000),
        ]
    }

    static func round(_ value: Double, places: Int = 4) -> Double {
        let scale = pow(10, Double(places))
        return (value * scale).rounded() / scale
    }

    static func count(_ text: some StringProtocol, param: String, in range: ClosedRange<Int>) throws -> Int {
        guard let n = Int(text), range.contains(n) else { throw TrellisError.invalidField(param, "must be an integer from \(range.lowerBound)") }
        return n
    }
}
