import Foundation
import HTTPTypes
import Hummingbird
import OpenAIWire
import TrellisCore
import TrellisStore

/// `GET /admin/v1/usage/overview`: what a business watches next to the technical figures, in the 2-3-1 framing:
/// usage (requests and active users per day per model), efficiency (the share of router models' requests that
/// smaller children answered, and the cost saved against sending everything to the routers' defaults), quality
/// (feedback and correction rates per model version) and the latest evaluation score per model version.
struct OverviewController {
    let gateway: Gateway

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("usage/overview", use: overview)
    }

    /// The longest period the overview covers (its efficiency figures read the usage rows themselves).
    static let maxDays = 92

    @Sendable func overview(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let governance = GovernanceController(gateway: gateway)
        let tenantID = try governance.usageTenant(request, context)
        let query = request.uri.queryParameters
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let from = try query.get("from").map { try GovernanceController.day($0, param: "from") } ?? UsageQuery.day(ms: now - 29 * 86_400_000)
        let to = try query.get("to").map { try GovernanceController.day($0, param: "to") } ?? UsageQuery.day(ms: now)
        guard let start = CivilDate.unixMs(ofDay: from), let end = CivilDate.unixMs(ofDay: to), start <= end else {
            throw TrellisError.invalidRequest("'from' is after 'to'.", param: "from", code: "invalid_value")
        }
        guard end - start < Int64(Self.maxDays) * 86_400_000 else {
            throw TrellisError.invalidRequest("The overview covers at most \(Self.maxDays) days; narrow 'from' and 'to'.", param: "from", code: "invalid_value")
        }
        let store = gateway.store
        let daily = try await store.usageReport(.init(tenantID: tenantID, fromDay: from, toDay: to, groupBy: [.day, .model]))
        let versions = try await store.usageReport(.init(tenantID: tenantID, fromDay: from, toDay: to, groupBy: [.model, .version]))
        let routed = try await store.usageReport(.init(tenantID: tenantID, fromDay: from, toDay: to, groupBy: [.tenant, .model, .routedTo]))
        let feedback = try await store.feedbackSummary(tenantID: tenantID, fromMs: start, toMs: end + 86_400_000)
        let runs = try await store.evalRuns(tenantID: tenantID, limit: 50)
        let usage: [JSONValue] = daily.map {
            [
                "day": .string($0.group[.day] ?? ""), "model": .string($0.group[.model] ?? ""), "requests": .int($0.requests),
                "users": .int($0.users),
            ]
        }
        return .json([
            "object": "usage.overview", "from": .string(from), "to": .string(to), "usage": .array(usage),
            "efficiency": Self.efficiency(routed, snapshot: gateway.snapshot), "quality": Self.quality(versions, feedback: feedback),
            "evaluation": Self.evaluation(runs),
        ])
    }

    /// Router models' requests by the child that answered: a child other than the router's default is a smaller
    /// model put to work.
    static func efficiency(_ rows: [UsageRow], snapshot: CatalogSnapshot) -> JSONValue {
        struct Router {
            var defaultModel: String
            var requests = 0
            var small = 0
            var costMicros = 0
            var savedMicros = 0
        }
        var routers: [String: Router] = [:]
        for row in rows {
            guard let child = row.group[.routedTo], !child.isEmpty, let name = row.group[.model] else { continue }
            let tenantID = row.group[.tenant]
            let defaultModel =
                snapshot.model(named: name, tenantID: tenantID)?.versions.last { $0.spec.router != nil }?.spec.router?.defaultModel ?? ""
            var router = routers[name] ?? Router(defaultModel: VersionSelector.parseReference(defaultModel).0)
            router.requests += row.requests
            if VersionSelector.parseReference(child).0 != router.defaultModel { router.small += row.requests }
            router.costMicros += row.costMicros
            router.savedMicros += row.savedMicros ?? 0
            routers[name] = router
        }
        let total = routers.values.reduce(0) { $0 + $1.requests }
        let small = routers.values.reduce(0) { $0 + $1.small }
        func money(_ micros: Int) -> JSONValue { .double(Double(micros) / 1_000_000) }
        let list: [JSONValue] = routers.sorted { $0.key < $1.key }.map { name, r in
            [
                "model": .string(name), "default": .string(r.defaultModel), "requests": .int(r.requests), "small_model_requests": .int(r.small),
                "cost": money(r.costMicros), "cost_saved": money(r.savedMicros),
            ]
        }
        return [
            "router_requests": .int(total), "small_model_requests": .int(small),
            "small_model_share": total == 0 ? .null : .double(Double(small) / Double(total)),
            "cost": money(routers.values.reduce(0) { $0 + $1.costMicros }), "cost_saved": money(routers.values.reduce(0) { $0 + $1.savedMicros }),
            "routers": .array(list),
        ]
    }

    /// Per model version: requests, ratings, and the feedback and correction rates (per request).
    static func quality(_ versions: [UsageRow], feedback: [FeedbackCount]) -> JSONValue {
        var byVersion: [String: FeedbackCount] = [:]
        for f in feedback { byVersion["\(f.model)@\(f.version ?? -1)"] = f }
        let rows: [JSONValue] = versions.compactMap { row in
            guard let model = row.group[.model], let version = row.group[.version].flatMap(Int.init), version >= 0 else { return nil }
            let f = byVersion["\(model)@\(version)"]
            let requests = row.requests
            func rate(_ n: Int) -> JSONValue { requests == 0 ? .null : .double(Double(n) / Double(requests)) }
            return [
                "model": .string(model), "version": .int(version), "requests": .int(requests), "rated": .int(f?.rated ?? 0),
                "positive": .int(f?.positive ?? 0), "negative": .int(f?.negative ?? 0), "corrections": .int(f?.corrections ?? 0),
                "feedback_rate": rate(f?.rated ?? 0), "correction_rate": rate(f?.corrections ?? 0),
            ]
        }
        return .array(rows)
    }

    /// The latest finished run's score of each model version (runs newest first), from the summaries kept with them.
    static func evaluation(_ runs: [EvalRunRecord]) -> JSONValue {
        var seen: Set<String> = []
        var out: [JSONValue] = []
        for run in runs where run.status == .done {
            for row in run.summary?["results"]?.arrayValue ?? [] {
                guard let name = row["model"]?.stringValue, let version = row["version"]?.numberValue?.intValue else { continue }
                guard seen.insert("\(name)@\(version)").inserted else { continue }
                let counts = ["passed", "failed", "errors"].map { row[$0]?.numberValue?.intValue ?? 0 }
                out.append([
                    "model": .string(name), "version": .int(version), "score": row["score"] ?? .null, "passed": .int(counts[0]),
                    "total": .int(counts.reduce(0, +)), "set": .string(run.setName), "set_version": .int(run.setVersion), "run": .string(run.id),
                    "finished_at": run.finishedAt.map { .time($0) } ?? .null,
                ])
            }
        }
        return .array(out)
    }
}
