import Logging
import OpenAIWire
import TrellisCore

/// What retrieval added to a chat request: the citations for its answer, and the time it took.
struct Retrieval: Sendable {
    var citations: JSONValue
    var milliseconds: Double
}

/// A chat request planned, admitted and prepared (retrieved into, masked, accounted): ready to dispatch whole or as a
/// stream. A facade over chat (another API's shape) prepares the same way and brings its own answer.
struct PreparedChat: Sendable {
    var admitted: AdmittedCall
    let answer: ChatAnswer
    /// For a router model's whole answer with a cascade: the same request prepared again for `escalate_to`.
    let escalation: (@Sendable () async throws -> PreparedChat)?

    var stream: Bool { answer.payload.plan.stream }

    /// The whole answer, as `endpoint` makes it of this preparation, with the headers of the call that produced
    /// it: when a router's cascade finds the answer a refusal or empty, the escalated call's, whose usage row carries
    /// the first answer's tokens and cost. When the escalation cannot be made (refused by a limit, its model gone),
    /// the first answer stands.
    func whole<Endpoint: WholeAnswerEndpoint>(_ endpoint: @Sendable (PreparedChat) -> Endpoint) async throws -> (JSONObject, AnswerHeaders) {
        guard let escalation, let triggers = answer.payload.plan.route?.cascade?.when else {
            return (try await admitted.completeObject(endpoint(self)), admitted.headers)
        }
        switch try await admitted.attempt(endpoint(self), escalatingOn: triggers) {
        case .answered(let object):
            return (object, admitted.headers)
        case .escalate(let first, let carried):
            var next: PreparedChat
            do {
                next = try await escalation()
            } catch let error as TrellisError {
                admitted.call.logger.notice("cascade not escalated", metadata: ["error_code": "\(error.code ?? error.type)"])
                var accounting = admitted.accounting
                accounting.carried = carried
                accounting.recordCarried()
                return (first, admitted.headers)
            }
            next.carry(carried)
            return (try await next.admitted.completeObject(endpoint(next)), next.admitted.headers)
        }
    }

    /// Adds an earlier answer's usage to this call's row.
    mutating func carry(_ usage: CarriedUsage) {
        admitted.accounting.carried = usage
    }
}

extension InferenceFlow {
    /// `POST /v1/chat/completions`: plan → admit → retrieve → mask → account → dispatch, whole or as a stream.
    func chat(_ chat: ChatRequest, key: TenantKey, call: CallContext, endpoint: String = "chat") async throws -> InferenceOutcome {
        let prepared = try await prepare(chat, key: key, call: call, endpoint: endpoint)
        if prepared.stream { return try await prepared.admitted.stream(prepared.answer) }
        if prepared.answer.editsInPlace, prepared.escalation == nil { return try await prepared.admitted.completeInPlace(prepared.answer) }
        let (object, headers) = try await prepared.whole { $0.answer }
        return .complete(body: JSONWriter.encode(.object(object)), headers: headers)
    }

    /// The chat flow up to dispatch: plan → admit → retrieve → mask → account. `endpoint` names the API the usage
    /// row records (`chat`, `responses`).
    func prepare(_ chat: ChatRequest, key: TenantKey, call: CallContext, endpoint: String = "chat") async throws -> PreparedChat {
        let snapshot = gateway.snapshot
        return try await prepare(Self.plan(chat, key: key, snapshot: snapshot), chat, key: key, call: call, endpoint: endpoint, snapshot: snapshot)
    }

    /// The steps after planning, for a plan made on `snapshot`.
    func prepare(
        _ planned: ChatPlan, _ chat: ChatRequest, key: TenantKey, call: CallContext, endpoint: String, snapshot: CatalogSnapshot
    ) async throws -> PreparedChat {
        let start = RequestStart.now()
        var plan = planned
        let config = gateway.config
        let estimate = AdmissionEstimate.chat(plan, snapshot: snapshot, defaultCompletion: config.defaultCompletionReservation)
        // Admission first, before any retrieval or embedding call, so that a refused caller costs nothing.
        let (ticket, admittedHeaders) = try await admit(key, estimate: estimate, modelVersion: plan.version)
        var headers = admittedHeaders
        headers.routed(to: plan.route?.routedTo)
        let retrieval = try await retrieve(into: &plan, from: chat, snapshot: snapshot, logger: call.logger)
        let payload = ChatPayload(plan: plan, snapshot: snapshot, scope: config.piiMaskScope, masker: config.piiMasker, restores: config.piiRestore)
        let promptEstimate = retrieval == nil ? estimate.prompt : TokenEstimator.estimate(messages: plan.body[ChatField.messages]?.arrayValue ?? [])
        var accounting = Accounting(
            gateway: gateway, subject: .chat(plan, key: key, requestID: call.requestID, start: start, endpoint: endpoint), promptEstimate: promptEstimate,
            admission: ticket, priced: true)
        accounting.retrievalMs = retrieval?.milliseconds
        accounting.capture = Self.capture(payload, key: key, snapshot: snapshot)
        let admitted = AdmittedCall(
            dispatcher: Dispatcher(gateway: gateway, snapshot: snapshot), targets: plan.targets, call: call, headers: headers, accounting: accounting)
        let answer = ChatAnswer(
            payload: payload, clientModel: chat.modelReference, citations: retrieval?.citations,
            answerLimits: AnswerLimits(maxBytes: config.upstreamMaxResponseBytes), maxEventBytes: config.upstreamMaxEventBytes)
        return PreparedChat(admitted: admitted, answer: answer, escalation: escalation(of: plan, chat, key: key, call: call, endpoint: endpoint))
    }

    /// For a router's plan with a cascade: preparing the same request for `escalate_to`, on the catalog as it is then.
    func escalation(
        of plan: ChatPlan, _ chat: ChatRequest, key: TenantKey, call: CallContext, endpoint: String
    ) -> (@Sendable () async throws -> PreparedChat)? {
        guard plan.route?.cascade != nil else { return nil }
        return { [self] in
            let snapshot = gateway.snapshot
            guard let next = try ChatPlanner.escalated(chat, from: plan, stickyKey: chat.user ?? key.id, snapshot: snapshot) else {
                throw TrellisError.internalError
            }
            return try await prepare(next, chat, key: key, call: call, endpoint: endpoint, snapshot: snapshot)
        }
    }

    /// Resolves the model and version (weighted, sticky per end user) and plans the upstream request.
    static func plan(_ chat: ChatRequest, key: TenantKey, snapshot: CatalogSnapshot) throws -> ChatPlan {
        var random = SystemRandomNumberGenerator()
        return try ChatPlanner.plan(chat, key: key, snapshot: snapshot, random: &random)
    }

    /// For a RAG model: searches its knowledge bases with the caller's last user message and puts the passages
    /// into the plan as numbered context. Nil for other models.
    func retrieve(into plan: inout ChatPlan, from chat: ChatRequest, snapshot: CatalogSnapshot, logger: Logger) async throws -> Retrieval? {
        guard let knowledge = plan.spec.knowledge, let tenantID = plan.model.tenantID else { return nil }
        let started = ContinuousClock.now
        let query = KnowledgeContext.query(from: chat.messages) ?? ""
        let chunks =
            query.isEmpty ? [] : try await gateway.knowledge.retrieve(knowledge, tenantID: tenantID, query: query, snapshot: snapshot, logger: logger)
        let system = KnowledgeContext.systemMessage(chunks, query: query, template: knowledge.template)
        plan.body[ChatField.messages] = .array(KnowledgeContext.insert(system, into: plan.body[ChatField.messages]?.arrayValue ?? []))
        let citations = KnowledgeContext.citations(chunks)
        let elapsed = ContinuousClock.now - started
        gateway.metrics.retrieval(seconds: elapsed.seconds, knowledgeBase: knowledge.bases.joined(separator: "+"))
        return Retrieval(citations: citations, milliseconds: elapsed.milliseconds)
    }

    /// What to keep of the interaction for the data flywheel, when the model's (a router's own, else its child's,
    /// else the tenant's) capture settings say so: the messages as sent, masked when anything was.
    static func capture(_ payload: ChatPayload, key: TenantKey, snapshot: CatalogSnapshot) -> CapturePlan? {
        let tenantCapture = snapshot.tenants[key.tenantID]?.settings.capture
        let plan = payload.plan
        guard let settings = plan.route?.router.version.spec.capture ?? plan.spec.capture ?? tenantCapture, settings.enabled else { return nil }
        let messages = payload.masked?.body[ChatField.messages] ?? payload.plan.body[ChatField.messages] ?? .array([])
        return CapturePlan(settings: settings, messages: messages, masking: payload.masking)
    }
}

extension UsageSubject {
    /// A chat request's row (or another API's over chat): the planned model version, the end user, streamed or not.
    static func chat(_ plan: ChatPlan, key: TenantKey, requestID: String, start: RequestStart, endpoint: String = "chat") -> UsageSubject {
        UsageSubject(
            endpoint: endpoint, requestID: requestID, start: start, key: key, user: plan.user, model: plan.modelName, version: plan.version,
            stream: plan.stream, routedTo: plan.route?.routedTo, baseline: plan.route?.baseline)
    }
}
