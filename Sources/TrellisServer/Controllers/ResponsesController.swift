import Hummingbird
import OpenAIWire
import TrellisCore
import TrellisStore

/// The Responses API under `/v1/responses`, for tenant keys with the `inference` scope: create (a facade over the
/// chat flow, see `InferenceFlow.responses`), and read or delete a stored response of the caller's tenant.
struct ResponsesController {
    let gateway: Gateway

    func register(on group: RouterGroup<TenantContext>) {
        group.post("responses", use: create)
        group.get("responses/{id}", use: get)
        group.delete("responses/{id}", use: delete)
    }

    @Sendable func create(_ request: Request, context: TenantContext) async throws -> Response {
        var request = request
        let body = try await request.jsonBody(limit: gateway.config.maxBodyBytes)
        let responses = try ResponsesRequest.parse(body, limits: .init(maxItems: gateway.config.maxMessages))
        let call = CallContext(requestID: context.requestID, logger: context.logger, connection: ClientConnection(channel: context.channel))
        return try await InferenceFlow(gateway: gateway).responses(responses, key: context.key, call: call).response(gateway: gateway)
    }

    @Sendable func get(_ request: Request, context: TenantContext) async throws -> Response {
        let id = context.parameters.decoded("id")
        guard let stored = try await gateway.store.response(id: id, tenantID: context.key.tenantID), Self.mayUse(stored, context.key) else {
            throw Self.notFound(id)
        }
        return .json(stored.response)
    }

    @Sendable func delete(_ request: Request, context: TenantContext) async throws -> Response {
        let id = context.parameters.decoded("id")
        // A response of a model the key may not call is not the key's to delete.
        guard let stored = try await gateway.store.response(id: id, tenantID: context.key.tenantID), Self.mayUse(stored, context.key),
            try await gateway.store.deleteResponse(id: id, tenantID: context.key.tenantID)
        else { throw Self.notFound(id) }
        return .json(["id": .string(id), "object": "response.deleted", "deleted": true])
    }

    /// A stored response is its tenant's, for the keys that may call its model (a key limited to other models
    /// finds nothing, as for a missing one).
    static func mayUse(_ stored: StoredResponse, _ key: TenantKey) -> Bool {
        key.models.allows(VersionSelector.parseReference(stored.model).0)
    }

    /// The same for another tenant's response as for a missing or expired one.
    static func notFound(_ id: String) -> TrellisError {
        TrellisError(status: 404, type: "invalid_request_error", code: "not_found", message: "Response with id '\(id.prefix(64))' not found.", param: "id")
    }
}
