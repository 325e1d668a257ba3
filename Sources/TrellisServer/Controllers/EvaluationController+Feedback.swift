import Foundation
import Hummingbird
import OpenAIWire
import TrellisCore
import TrellisStore

/// Golden items from the data flywheel: what experts corrected and what users rated well becomes a set's items.
extension EvaluationController {
    /// The most items one `from-feedback` call adds, and the most rated interactions it reads (the newest are read
    /// by a next call, which skips what the set already has).
    static let maxFeedbackItems = 2_000
    static let maxFeedbackRead = 10_000

    /// `POST /eval-sets/{name}/from-feedback` `{"model","since"?,"tenant"?}`: the model's captured interactions with
    /// a correction (the correction is the expected answer) or a positive rating (the answer is), each once, added
    /// to the tenant's set `name` as a new version (the set is created when it does not exist yet). The question is
    /// the interaction's last user message as captured (masked when the model masks).
    @Sendable func setFromFeedback(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let name = context.parameters.decoded("name")
        guard Names.isValidObject(name) else { throw TrellisError.invalidField("name", "must be \(Names.objectRule)") }
        var request = request
        let body = try BodyReader(try await request.jsonBody(limit: 64 * 1024), allowed: ["model", "since", "tenant"])
        let snapshot = gateway.snapshot
        guard let tenant = try context.owningTenant(body, in: snapshot) else {
            throw TrellisError.invalidRequest("Feedback belongs to a tenant: name it with 'tenant'.", param: "tenant", code: "missing_required_parameter")
        }
        let model = try body.requiredString("model", maxBytes: 128)
        guard snapshot.model(named: model, tenantID: tenant.id) != nil else { throw TrellisError.notFound("The model '\(model.prefix(128))'") }
        let since = try body.string("since", maxBytes: 64).map { text -> Int64 in
            guard let day = try? GovernanceController.day(text, param: "since"), let ms = CivilDate.unixMs(ofDay: day) else {
                throw TrellisError.invalidField("since", "must be a date (2026-11-29) or an RFC 3339 time")
            }
            return ms
        }
        let existing = try await gateway.store.evalSet(name: name, tenantID: tenant.id, version: nil)
        var items = existing?.items ?? []
        var seen = Set(items.compactMap { $0["metadata"]?["request_id"]?.stringValue })
        var added = 0
        var after: String?
        var read = 0
        while added < Self.maxFeedbackItems && read < Self.maxFeedbackRead {
            let page = try await gateway.store.ratedInteractions(tenantID: tenant.id, model: model, afterRequestID: after, limit: 500)
            read += page.count
            for rated in page where since.map({ rated.atMs >= $0 }) ?? true && !seen.contains(rated.requestID) && added < Self.maxFeedbackItems {
                guard let item = Self.item(from: rated) else { continue }
                items.append(item)
                seen.insert(rated.requestID)
                added += 1
            }
            guard page.count == 500, let last = page.last?.requestID else { break }
            after = last
        }
        guard added > 0 else {
            throw TrellisError.invalidRequest(
                "The model '\(model.prefix(128))' has no captured answer with a correction or a positive rating\(since == nil ? "" : " since then") that the set does not have yet.",
                param: "model", code: "nothing_to_add")
        }
        guard items.count <= EvalItem.maxItems else {
            throw TrellisError.invalidRequest("The set would have more than \(EvalItem.maxItems) items.", param: "name", code: "invalid_value")
        }
        let set = try await gateway.store.insertEvalSet(tenantID: tenant.id, name: name, items: items, actor: context.actor, now: Date())
        var answer = setJSON(set, withItems: false).objectValue ?? [:]
        answer["added"] = .int(added)
        return .json(.object(answer), status: .created)
    }

    /// An item from a rated interaction: its last user message, and the correction (else, when rated well, the
    /// answer) as expected. Nil for an interaction without either.
    static func item(from rated: RatedInteraction) -> JSONValue? {
        let expected: String
        if let correction = rated.correction, !correction.isEmpty {
            expected = correction
        } else if rated.rating > 0, !rated.answer.isEmpty {
            expected = rated.answer
        } else {
            return nil
        }
        let messages = rated.messages.arrayValue ?? []
        guard let user = messages.last(where: { $0["role"]?.stringValue == "user" }) else { return nil }
        let question = RouterFacts.text(of: user["content"])
        guard !question.isEmpty else { return nil }
        return [
            "input": .string(question), "expected": .string(expected),
            "metadata": [
                "source": "feedback", "request_id": .string(rated.requestID), "rating": .int(rated.rating),
                "corrected": .bool(rated.correction?.isEmpty == false),
            ],
        ]
    }
}
