import Foundation
import HTTPTypes
import Hummingbird
import OpenAIWire
import TrellisCore
import TrellisStore

/// Evaluation under `/admin/v1`: sets (versions of golden items, per tenant or shared) and runs that ask a set of
/// model versions in the background and score the answers. A tenant's manage key works on its own tenant's sets,
/// runs and models (and reads shared sets); another tenant's answer 404 as missing ones. The operator works on all,
/// naming the tenant a run acts for.
struct EvaluationController {
    let gateway: Gateway

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("eval-sets", use: createSet)
        group.get("eval-sets", use: listSets)
        group.get("eval-sets/{name}", use: getSet)
        group.post("eval-sets/{name}/from-feedback", use: setFromFeedback)
        group.post("eval-runs", use: createRun)
        group.get("eval-runs", use: listRuns)
        group.get("eval-runs/{id}", use: getRun)
        group.get("eval-runs/{id}/items", use: runItems)
        group.delete("eval-runs/{id}", use: cancelRun)
    }

    /// The largest set upload.
    static let maxSetBytes = 16 << 20

    func tenantName(_ id: String?) -> JSONValue { .optionalString(id.flatMap { gateway.snapshot.tenants[$0]?.name }) }

    // MARK: Sets

    func setJSON(_ set: EvalSet, withItems: Bool) -> JSONValue {
        var o: JSONObject = [
            "id": .string(set.id), "object": "eval.set", "name": .string(set.name), "tenant": tenantName(set.tenantID), "version": .int(set.version),
            "items": withItems ? .array(set.items) : .int(set.items.count), "item_count": .int(set.items.count), "created_at": .time(set.createdAt),
        ]
        o["created_by"] = .string(set.createdBy)
        return .object(o)
    }

    /// `POST /eval-sets` `{"name","tenant"?,"items":[...]}`: a new version of the set (the first when the name is new).
    @Sendable func createSet(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var request = request
        let body = try BodyReader(try await request.jsonBody(limit: Self.maxSetBytes), allowed: ["name", "tenant", "items"])
        let name = try body.requiredString("name", maxBytes: 128)
        guard Names.isValidObject(name) else { throw TrellisError.invalidField("name", "must be \(Names.objectRule)") }
        let tenant = try context.owningTenant(body, in: gateway.snapshot)
        let items = try EvalItem.parseList(body.value("items"))
        let set = try await gateway.store.insertEvalSet(tenantID: tenant?.id, name: name, items: items.map(\.json), actor: context.actor, now: Date())
        return .json(setJSON(set, withItems: false), status: .created)
    }

    /// `GET /eval-sets`: the latest version of each set the caller sees.
    @Sendable func listSets(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let tenantID = try readerTenant(request, context)
        let sets = try await gateway.store.evalSets(visibleTo: tenantID)
        let data: [JSONValue] = sets.map {
            [
                "id": .string($0.id), "object": "eval.set", "name": .string($0.name), "tenant": tenantName($0.tenantID), "version": .int($0.version),
                "items": .int($0.itemCount), "item_count": .int($0.itemCount), "created_at": .time($0.createdAt),
            ]
        }
        return .json(["object": "list", "data": .array(data)])
    }

    /// `GET /eval-sets/{name}?version=&tenant=`: a version (the latest by default) with its items.
    @Sendable func getSet(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let name = context.parameters.decoded("name")
        let version = try request.uri.queryParameters.get("version").map { text -> Int in
            guard let n = Int(text), n > 0 else { throw TrellisError.invalidField("version", "must be a positive integer") }
            return n
        }
        let set = try await findSet(name, version: version, tenantID: try readerTenant(request, context))
        return .json(setJSON(set, withItems: true))
    }

    /// The set a name means for a caller that sees `tenantID`'s sets: its own, else a shared one (nil: shared only).
    func findSet(_ name: String, version: Int?, tenantID: String?) async throws -> EvalSet {
        if let tenantID, let own = try await gateway.store.evalSet(name: name, tenantID: tenantID, version: version) { return own }
        if let shared = try await gateway.store.evalSet(name: name, tenantID: nil, version: version) { return shared }
        throw TrellisError.notFound("The evaluation set '\(name.prefix(128))'\(version.map { " version \($0)" } ?? "")")
    }

    /// Whose sets and runs a reader sees: a manage key its tenant's; the operator `?tenant=`'s, else all (nil).
    func readerTenant(_ request: Request, _ context: AuthenticatedContext) throws -> String? {
        let query = request.uri.queryParameters.get("tenant").map { String($0) }
        guard let key = try context.manageKey() else {
            guard let query else { return nil }
            guard let tenant = gateway.snapshot.tenant(named: query) else { throw TrellisError.notFound("The tenant '\(query.prefix(64))'") }
            return tenant.id
        }
        if let query, query != key.tenantName { throw TrellisError.notFound("The tenant '\(query.prefix(64))'") }
        return key.tenantID
    }
}
