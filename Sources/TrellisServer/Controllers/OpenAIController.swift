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
        let key = try context.tenantKey(scope: .inference)
        var request = request
        let body = try await request.jsonBody(limit: gateway.config.maxBodyBytes)
        let chat = try ChatRequest.parse(body, limits: .init(maxMessages: gateway.config.maxMessages))
        return try await ChatPipeline(gateway: gateway).respond(to: chat, key: key, context: context)
    }

    @Sendable func embeddings(_ request: Request, context: TenantContext) async throws -> Response {
        let key = try context.tenantKey(scope: .inference)
        var request = request
        let value = try await request.jsonBody(limit: gateway.config.maxBodyBytes)
        guard case .object(let body) = value else { throw TrellisError.invalidRequest("The request body must be a JSON object.") }
        guard case .string(let reference)? = body["model"], !reference.isEmpty else {
            throw body["model"] == nil ? TrellisError.missingField("model") : TrellisError.invalidField("model", "must be a non-empty string")
        }
        guard let input = body["input"] else { throw TrellisError.missingField("input") }
        try Self.validateEmbeddingInput(input)
        let user = try ChatRequest.endUser(body["user"])
        let started = ContinuousClock.now
        let startedAt = Date()
        let snapshot = gateway.snapshot
        let (model, version) = try ChatPlanner.resolve(reference, key: key, snapshot: snapshot, stickyKey: user ?? key.id)
        var random = SystemRandomNumberGenerator()
        let adapter = try ChatPlanner.resolveAdapter(version.spec, model: model, snapshot: snapshot)
        let targets = ChatPlanner.orderTargets(version.spec, adapter: adapter, random: &random)
        var upstreamName: String?
        let admission = try gateway.admit(key, estimatedTokens: Self.estimateInput(input))
        var headers = HTTPFields()
        headers[.modelVersion] = String(version.version)
        for (name, value) in admission.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        func record(status: Int, usage: TokenUsage?, errorCode: String?) {
            let latency = ContinuousClock.now - started
            let estimate = usage == nil && status < 400 ? Self.estimateInput(input) : 0
            let event = UsageEvent(
                requestID: context.requestID, at: startedAt, endpoint: "embeddings", tenantID: key.tenantID, keyID: key.id,
                endUser: user, model: model.name, modelVersion: version.version, upstream: upstreamName,
                promptTokens: usage?.promptTokens ?? estimate, completionTokens: 0, estimated: usage == nil && estimate > 0,
                latencyMs: latency.milliseconds, ttftMs: nil, status: status, errorCode: errorCode, stream: false)
            if !gateway.usage.record(event) { gateway.metrics.usageDropped() }
            admission.settle(actualTokens: event.promptTokens)
            gateway.metrics.modelRequest(
                tenant: key.tenantName, model: model.name, version: version.version, status: status, seconds: latency.seconds, ttft: nil,
                promptTokens: event.promptTokens, completionTokens: 0)
        }
        do {
            let base = ChatPlanner.removingAdapterSelectors(body)
            // Personal data in `input` and `user` is masked for the upstreams `privacy.mask` covers (nothing to restore).
            let scope = gateway.config.piiMaskScope
            var session = gateway.config.piiMasker.session()
            let needsMasking = scope != .off && targets.contains { scope.masks(upstream: $0.upstream, in: snapshot) }
            let masked = needsMasking ? session.mask(chatBody: base) : base
            let dispatcher = Dispatcher(gateway: gateway, snapshot: snapshot)
            let requestID = context.requestID
            let logger = context.logger
            let answered = try await ClientDisconnect.cancelling(on: context.channel) {
                try await dispatcher.send(
                    targets: targets, path: "/embeddings", stream: false, requestID: requestID, logger: logger,
                    body: { target in
                        var body = scope.masks(upstream: target.upstream, in: snapshot) ? masked : base
                        body["model"] = .string(target.model)
                        for member in target.extraBody { body[member.key] = member.value }
                        return JSONWriter.encode(.object(body))
                    }
                ) { response, upstream throws(UpstreamFailure) in
                    let config = dispatcher.gateway.config
                    let buffer = try await response.collect(upTo: config.upstreamMaxEmbeddingsResponseBytes, upstream: upstream.name)
                    guard case .object(let object)? = try? JSONParser.parse(buffer.readableBytesView, limits: config.embeddingsAnswerLimits) else {
                        throw UpstreamFailure(kind: .protocolError, upstream: upstream.name)
                    }
                    return object
                }
            }
            upstreamName = answered.upstream.name
            var object = answered.value
            object["model"] = .string(reference)
            record(status: 200, usage: TokenUsage(json: object["usage"]), errorCode: nil)
            return .json(.object(object), headers: headers)
        } catch let error as TrellisError {
            record(status: error.status, usage: nil, errorCode: error.code)
            throw error
        } catch {
            record(status: 499, usage: nil, errorCode: "client_closed_request")
            throw error
        }
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
        let requestID = try body.requiredString("request_id", maxBytes: 64)
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

    /// OpenAI's accepted shapes: a string, an array of strings, an array of token ids, or an array of
    /// token-id arrays; nothing empty.
    static func validateEmbeddingInput(_ input: JSONValue) throws {
        let problem = "must be a string, an array of strings, an array of token ids, or an array of token-id arrays"
        switch input {
        case .string(let s):
            guard !s.isEmpty else { throw TrellisError.invalidField("input", "must not be empty") }
        case .array(let items):
            guard !items.isEmpty, items.count <= 2048 else { throw TrellisError.invalidField("input", "must have 1 to 2048 entries") }
            let isToken: (JSONValue) -> Bool = { $0.numberValue?.intValue.map { $0 >= 0 } ?? false }
            let allStrings = items.allSatisfy { $0.stringValue.map { !$0.isEmpty } ?? false }
            let allTokens = items.allSatisfy(isToken)
            let allTokenArrays = items.allSatisfy { $0.arrayValue.map { !$0.isEmpty && $0.allSatisfy(isToken) } ?? false }
            guard allStrings || allTokens || allTokenArrays else { throw TrellisError.invalidField("input", problem) }
        default:
            throw TrellisError.invalidField("input", problem)
        }
    }

    static func estimateInput(_ input: JSONValue) -> Int {
        switch input {
        case .string(let s): return TokenEstimator.estimate(text: s)
        case .array(let items):
            return items.reduce(0) { total, item in
                switch item {
                case .string(let s): total + TokenEstimator.estimate(text: s)
                case .array(let tokens): total + tokens.count
                case .number: total + 1
                default: total
                }
            }
        default: return 0
        }
    }
}
