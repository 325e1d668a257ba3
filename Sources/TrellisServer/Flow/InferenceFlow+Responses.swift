import Foundation
import Logging
import OpenAIWire
import TrellisCore
import TrellisStore

extension InferenceFlow {
    /// `POST /v1/responses`: the Responses API as a facade over chat. The earlier conversation (`previous_response_id`,
    /// the caller's tenant's only) and the new input become one chat request, which goes through the chat flow's
    /// steps (plan, admit, retrieve, mask, account, dispatch) with the usage row's endpoint `responses`. The answer is
    /// the response object, whole or as typed events; with `store` it is kept for the tenant before the client has
    /// its end, so a next request can continue it at once.
    func responses(_ request: ResponsesRequest, key: TenantKey, call: CallContext) async throws -> InferenceOutcome {
        let history = try await conversation(before: request, key: key)
        let body = request.chatBody(history: history)
        // The earlier conversation counts against the body limit with the new input: a chain of responses cannot
        // grow a request (and the conversation kept with it) past what one request may carry.
        if !history.isEmpty, JSONWriter.encode(body).count > gateway.config.maxBodyBytes {
            throw TrellisError(
                status: 400, type: "invalid_request_error", code: "conversation_too_large",
                message: "The conversation of previous_response_id and the new input exceed \(gateway.config.maxBodyBytes) bytes; start a new conversation.",
                param: "previous_response_id")
        }
        let chat = try ChatRequest.parse(body, limits: .init(maxMessages: gateway.config.maxMessages))
        let prepared = try await prepare(chat, key: key, call: call, endpoint: "responses")
        let id = ResponseShell.responseID(requestID: call.requestID) ?? "resp_" + call.requestID
        let createdAt = Int(Date().timeIntervalSince1970)
        // Per preparation: after a router's cascade, the escalated model's citations.
        let shellOf = { @Sendable (prepared: PreparedChat) in
            ResponseShell(id: id, createdAt: createdAt, model: chat.modelReference, request: request, citations: prepared.answer.citations?.arrayValue ?? [])
        }
        let shell = shellOf(prepared)
        let keeper = ResponseKeeper(
            store: gateway.store, tenantID: key.tenantID, conversation: history + request.input, retentionDays: gateway.config.responsesRetentionDays,
            keeps: request.store)
        if prepared.stream {
            return try await prepared.admitted.stream(prepared.answer, encoder: ResponsesStreamEncoder(shell: shell)) { encoder in
                guard let final = (encoder as? ResponsesStreamEncoder)?.final else { return }
                await keeper.keep(final, logger: call)
            }
        }
        let (object, headers) = try await prepared.whole { ResponsesAnswer(chat: $0.answer, shell: shellOf($0)) }
        await keeper.keep(object, logger: call)
        return .complete(body: JSONWriter.encode(.object(object)), headers: headers)
    }

    /// The conversation a request continues: the stored conversation of its `previous_response_id`, which must be
    /// the caller's tenant's, of a model the key may call, and unexpired (else 404, the same for another tenant's
    /// as for a missing one).
    func conversation(before request: ResponsesRequest, key: TenantKey) async throws -> [JSONValue] {
        guard let id = request.previousResponseID else { return [] }
        guard let previous = try await gateway.store.response(id: id, tenantID: key.tenantID), ResponsesController.mayUse(previous, key) else {
            throw TrellisError(
                status: 404, type: "invalid_request_error", code: "previous_response_not_found",
                message: "Previous response with id '\(id.prefix(64))' not found.", param: "previous_response_id")
        }
        return previous.conversation.arrayValue ?? []
    }
}

/// Keeps a finished response for its tenant when the request asked for it (`store`), with the conversation so far
/// (the earlier one, the new input, and the response's output as chat messages).
struct ResponseKeeper: Sendable {
    let store: any ResponseStore
    let tenantID: String
    let conversation: [JSONValue]
    let retentionDays: Int
    let keeps: Bool

    /// Keeps `response`. A store that fails is logged, not thrown: the client still gets its answer (which says
    /// `store: true`), and a later `previous_response_id` to it is a clear 404.
    func keep(_ response: JSONObject, logger call: CallContext) async {
        guard keeps, case .string(let id)? = response["id"] else { return }
        let now = Date()
        let output = response["output"]?.arrayValue ?? []
        let stored = StoredResponse(
            id: id, tenantID: tenantID, model: response["model"]?.stringValue ?? "", createdAt: now,
            expiresAt: now.addingTimeInterval(TimeInterval(retentionDays) * 86_400), response: .object(response),
            conversation: .array(conversation + ResponseShell.chatMessages(output: output)))
        do {
            try await store.insertResponse(stored)
        } catch {
            call.logger.error("response not stored", metadata: ["error_type": "\(type(of: error))"])
        }
    }
}
