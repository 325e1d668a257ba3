import OpenAIWire
import TrellisCore

extension InferenceFlow {
    /// `POST /v1/embeddings`: resolve → admit → account → dispatch a whole answer (masked for the upstreams
    /// `privacy.mask` covers) → record.
    func embeddings(_ request: EmbeddingsRequest, key: TenantKey, call: CallContext, endpoint: String = "embeddings") async throws -> InferenceOutcome {
        let start = RequestStart.now()
        let snapshot = gateway.snapshot
        let (model, version, targets) = try Self.resolve(request, key: key, snapshot: snapshot)
        let estimate = AdmissionEstimate.embeddings(request)
        let (ticket, headers) = try await admit(key, estimate: estimate, modelVersion: version.version)
        let subject = UsageSubject(
            endpoint: endpoint, requestID: call.requestID, start: start, key: key, user: request.user, model: model.name,
            version: version.version, stream: false)
        let accounting = Accounting(gateway: gateway, subject: subject, promptEstimate: estimate.prompt, admission: ticket, priced: false)
        let config = gateway.config
        let answer = EmbeddingsAnswer(
            request: request, targets: targets, snapshot: snapshot, scope: config.piiMaskScope, masker: config.piiMasker,
            answerLimits: AnswerLimits(maxBytes: config.upstreamMaxEmbeddingsResponseBytes, parser: config.embeddingsAnswerLimits))
        let admitted = AdmittedCall(
            dispatcher: Dispatcher(gateway: gateway, snapshot: snapshot), targets: targets, call: call, headers: headers, accounting: accounting)
        return try await admitted.complete(answer)
    }

    /// The model and version (sticky per end user, else per key) and its targets in order, its adapter's included.
    static func resolve(
        _ request: EmbeddingsRequest, key: TenantKey, snapshot: CatalogSnapshot
    ) throws -> (IndustryModel, ModelVersion, [ModelSpec.Target]) {
        let (model, version) = try ChatPlanner.resolve(request.modelReference, key: key, snapshot: snapshot, stickyKey: request.user ?? key.id)
        if version.spec.router != nil {
            throw TrellisError.invalidRequest(
                "'\(model.name.prefix(128))' is a router model: it answers chat completions and responses, not embeddings.", param: "model",
                code: "invalid_value")
        }
        var random = SystemRandomNumberGenerator()
        let adapter = try ChatPlanner.resolveAdapter(version.spec, model: model, snapshot: snapshot)
        return (model, version, ChatPlanner.orderTargets(version.spec, adapter: adapter, random: &random))
    }
}

/// An embeddings answer: the client's body for each target (adapter selectors removed; `input` and `user`
/// masked for the upstreams `privacy.mask` covers, with nothing to restore), the client's model name in the
/// answer, and the upstream's prompt count.
struct EmbeddingsAnswer: WholeAnswerEndpoint {
    let base: JSONObject
    let masked: JSONObject
    let scope: PIIMaskScope
    let snapshot: CatalogSnapshot
    let clientModel: String
    let answerLimits: AnswerLimits

    init(
        request: EmbeddingsRequest, targets: [ModelSpec.Target], snapshot: CatalogSnapshot, scope: PIIMaskScope, masker: PIIMasker,
        answerLimits: AnswerLimits
    ) {
        let base = ChatPlanner.removingAdapterSelectors(request.body)
        var masked = base
        if scope != .off, targets.contains(where: { scope.masks(upstream: $0.upstream, in: snapshot) }) {
            var session = masker.session()
            masked = session.mask(chatBody: base)
        }
        self.base = base
        self.masked = masked
        self.scope = scope
        self.snapshot = snapshot
        self.clientModel = request.modelReference
        self.answerLimits = answerLimits
    }

    var path: String { "/embeddings" }

    func upstreamBody(for target: ModelSpec.Target) -> [UInt8] {
        var body = scope.masks(upstream: target.upstream, in: snapshot) ? masked : base
        body["model"] = .string(target.model)
        for member in target.extraBody { body[member.key] = member.value }
        return JSONWriter.encode(.object(body))
    }

    func clientAnswer(_ upstreamAnswer: JSONObject, from target: ModelSpec.Target) -> JSONObject {
        var object = upstreamAnswer
        object["model"] = .string(clientModel)
        return object
    }

    /// The upstream's prompt count (an embedding has no completion), else the input's estimate.
    func usage(of clientAnswer: JSONObject) -> MeasuredUsage {
        MeasuredUsage(reported: TokenUsage(json: clientAnswer["usage"]).map { TokenUsage(promptTokens: $0.promptTokens, completionTokens: 0) })
    }
}
