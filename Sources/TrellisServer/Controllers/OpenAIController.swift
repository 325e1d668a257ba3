import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OpenAIWire
import TrellisCore
import TrellisStore
import TrellisUpstream

/// The OpenAI-compatible API under `/v1`, for tenant keys.
struct OpenAIController {
    let gateway: Gateway

    /// The inference routes run in a ``TenantContext`` (a tenant key with the `inference` scope, checked before
    /// the handler); feedback, which a `usage` key may give too, decides for itself.
    func register(on group: RouterGroup<AuthenticatedContext>) {
        let inference = group.group(context: TenantContext.self)
        inference.get("models", use: listModels)
        inference.get("models/{model}", use: getModel)
        inference.post("chat/completions", use: chatCompletions)
        inference.post("embeddings", use: embeddings)
        ResponsesController(gateway: gateway).register(on: inference)
        group.post("feedback", use: feedback)
    }

    func modelJSON(_ model: IndustryModel, snapshot: CatalogSnapshot) -> JSONValue {
        let owner = model.tenantID.flatMap { snapshot.tenants[$0]?.name } ?? "trellis"
        return [
            "id": .string(model.name),
            "object": "model",
            "created": .int(Int(model.createdAt.timeIntervalSince1970)),
            "owned_by": .string(owner),
        ]
    }

    @Sendable func listModels(_ request: Request, context: TenantContext) async throws -> Response {
        let key = context.key
        let snapshot = gateway.snapshot
        let models = snapshot.visibleModels(tenantID: key.tenantID).filter { key.models.allows($0.name) }
        return .json(["object": "list", "data": .array(models.map { modelJSON($0, snapshot: snapshot) })])
    }

    @Sendable func getModel(_ request: Request, context: TenantContext) async throws -> Response {
        let key = context.key
        let name = context.parameters.decoded("model")
        let snapshot = gateway.snapshot
        let (base, pinned) = VersionSelector.parseReference(name)
        guard key.models.allows(base), let model = snapshot.model(named: base, tenantID: key.tenantID),
            pinned.map({ model.version($0) != nil }) ?? true
        else {
            throw TrellisError.modelNotFound(name)
        }
        return .json(modelJSON(model, snapshot: snapshot))
    }

    @Sendable func chatCompletions(_ request: Request, context: TenantContext) async throws -> Response {
        let key = context.key
        var request = request
        let body = try await request.jsonBody(limit: gateway.config.maxBodyBytes)
        let chat = try ChatRequest.parse(body, limits: .init(maxMessages: gateway.config.maxMessages))
        let call = CallContext(requestID: context.requestID, logger: context.logger, connection: ClientConnection(channel: context.channel))
        return try await InferenceFlow(gateway: gateway).chat(chat, key: key, call: call).response(gateway: gateway)
    }

    @Sendable func embeddings(_ request: Request, context: TenantContext) async throws -> Response {
        let key = context.key
        var request = request
        let embeddings = try EmbeddingsRequest.parse(try await request.jsonBody(limit: gateway.config.maxBodyBytes))
        let call = CallContext(requestID: context.requestID, logger: context.logger, connection: ClientConnection(channel: context.channel))
        return try await InferenceFlow(gateway: gateway).embeddings(embeddings, key: key, call: call).response(gateway: gateway)
    }

    /// `POST /v1/feedback`: a rating of one of the caller's tenant's answers (by its `x-request-id`), with an
    /// optional comment and expert correction. Another tenant's request answers exactly like an unknown one.
    @Sendable func feedback(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let key = try context.tenantKey(operatorRefusal: "Feedback is given for a tenant's answers: use a tenant key.")
            .requiring(anyOf: [.inference, .usage], "This key needs the 'inference' or 'usage' scope.")
        if let wait = gateway.feedbackLimit.take(key.id) {
            throw TrellisError(
                status: 429, type: "rate_limit_error", code: "rate_limit_exceeded",
                message: "This key has sent \(gateway.feedbackLimit.perMinute) ratings in the last minute, its limit; try again shortly.",
                headers: [("Retry-After", String(max(1, Int(wait.rounded(.up)))))])
        }
        var request = request
        let body = try BodyReader(try await request.jsonBody(limit: 1 << 20), allowed: ["request_id", "rating", "comment", "correction"])
        // A response id of the Responses API names its request (`resp_…` for `req_…`).
        let given = try body.requiredString("request_id", maxBytes: 64)
        let requestID = ResponseShell.requestID(responseID: given) ?? given
        guard let rating = try body.int("rating", in: -1...1), rating != 0 else {
            throw body.has("rating") ? TrellisError.invalidField("rating", "must be 1 or -1") : TrellisError.missingField("rating")
        }
        let comment = try body.string("comment", maxBytes: 8192)
        let correction = try body.string("correction", maxBytes: 200_000)
        let owner = try await feedbackOwner(requestID: requestID, tenantID: key.tenantID)
        let id = try await gateway.store.insertFeedback(
            requestID: requestID, owner: owner, keyID: key.id, rating: rating, comment: comment, correction: correction)
        return .json(
            [
                "id": .int(Int(id)), "object": "feedback", "request_id": .string(requestID), "rating": .int(rating), "comment": .optionalString(comment),
                "correction": .optionalString(correction), "model": .string(owner.model), "model_version": owner.modelVersion.map { .int($0) } ?? .null,
            ], status: .created)
    }

    /// Who the rated request belonged to, when it was the caller's tenant's (404 otherwise, the same for another
    /// tenant's request as for an unknown one). The id is looked up in the usage buffer, then the store, with
    /// no write: only a request of this tenant that is still buffered is flushed first, so that its daily
    /// roll-up exists for the rating to be counted in.
    func feedbackOwner(requestID: String, tenantID: String) async throws -> UsageOwner {
        let missing = TrellisError.notFound("The request '\(requestID.prefix(64))'")
        if let buffered = gateway.usage.buffered(requestID: requestID) {
            guard buffered.tenantID == tenantID else { throw missing }
            await gateway.usage.flush()
        }
        guard let owner = try await gateway.store.usageOwner(requestID: requestID), owner.tenantID == tenantID else { throw missing }
        return owner
    }
}
