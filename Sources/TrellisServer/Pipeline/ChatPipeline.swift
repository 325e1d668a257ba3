import AsyncAlgorithms
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import OpenAIWire
import ServiceLifecycle
import TrellisCore
import TrellisStore
import TrellisUpstream

/// `POST /v1/chat/completions` from a parsed request to a response: plan, dispatch (with fallbacks), relay —
/// whole or as a stream — and record usage however the request ends. The upstream work runs in a task that
/// is cancelled the moment the client goes away, which cancels the upstream call with it.
struct ChatPipeline {
    let gateway: Gateway

    func respond(to chat: ChatRequest, key: TenantKey, context: TrellisRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        let startedAt = Date()
        var random = SystemRandomNumberGenerator()
        let snapshot = gateway.snapshot
        var plan = try ChatPlanner.plan(chat, key: key, snapshot: snapshot, random: &random)
        var headers = HTTPFields()
        headers[.modelVersion] = String(plan.version)
        // Admission first, before any retrieval or embedding call, so a refused caller costs nothing. It
        // reserves the prompt estimate (with room for the knowledge context a RAG model will add) plus the
        // most the answer may use; the reservation is settled on the actual count when the request ends.
        var promptEstimate = TokenEstimator.estimate(messages: plan.body[ChatField.messages]?.arrayValue ?? [])
        let contextAllowance =
            plan.spec.knowledge.map { knowledge in
                let chunkSize =
                    snapshot.allKnowledgeBases.filter { $0.tenantID == plan.model.tenantID && knowledge.bases.contains($0.name) }.map(\.chunkSize).max() ?? 512
                return knowledge.topK * chunkSize
            } ?? 0
        let completionBudget =
            plan.body[ChatField.maxTokens]?.numberValue?.intValue ?? plan.body[ChatField.maxCompletionTokens]?.numberValue?.intValue
            ?? gateway.config.defaultCompletionReservation
        // `n` answers (1 to 128, checked by the parser) may each use the whole completion budget.
        let choices = max(1, plan.body["n"]?.numberValue?.intValue ?? 1)
        // Clamped first, so that a `max_tokens` near Int.max times `n` cannot overflow.
        let perAnswer = min(max(0, completionBudget), RateLimiter.maxTokensPerRequest)
        let admission = try gateway.admit(key, estimatedTokens: promptEstimate + contextAllowance + perAnswer * choices)
        for (name, value) in admission.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        // Retrieval: search the model's knowledge bases with the caller's last user message and inject the
        // passages as numbered context.
        var citations: JSONValue?
        var retrievalMs: Double?
        if let knowledge = plan.spec.knowledge, let tenantID = plan.model.tenantID {
            let retrievalStarted = ContinuousClock.now
            let query = KnowledgeContext.query(from: chat.messages) ?? ""
            let chunks =
                query.isEmpty
                ? [] : try await gateway.knowledge.retrieve(knowledge, tenantID: tenantID, query: query, snapshot: snapshot, logger: context.logger)
            let system = KnowledgeContext.systemMessage(chunks, query: query, template: knowledge.template)
            plan.body[ChatField.messages] = .array(KnowledgeContext.insert(system, into: plan.body[ChatField.messages]?.arrayValue ?? []))
            citations = KnowledgeContext.citations(chunks)
            let elapsed = ContinuousClock.now - retrievalStarted
            retrievalMs = elapsed.milliseconds
            gateway.metrics.retrieval(seconds: elapsed.seconds, knowledgeBase: knowledge.bases.joined(separator: "+"))
            promptEstimate = TokenEstimator.estimate(messages: plan.body[ChatField.messages]?.arrayValue ?? [])
        }
        // Personal data: masked in what goes to the targets that need it (upstreams labelled external, or all),
        // retrieved context included; the same session puts the originals back into the answer.
        let scope = gateway.config.piiMaskScope
        let masksTarget: @Sendable (ModelSpec.Target) -> Bool = { target in
            scope == .all || (scope == .external && snapshot.upstreams[target.upstream]?.labels.contains(.external) == true)
        }
        var masking: PIIMasker.Session?
        var maskedPlan: ChatPlan?
        if scope != .off, plan.targets.contains(where: masksTarget) {
            var session = gateway.config.piiMasker.session()
            let masked = plan.masked(with: &session)
            if !session.mapping.isEmpty {
                maskedPlan = masked
                masking = session
            }
        }
        var accounting = Accounting(
            gateway: gateway, requestID: context.requestID, startedAt: startedAt, started: started, key: key, plan: plan,
            promptEstimate: promptEstimate)
        accounting.masking = masking
        if let maskedPlan { accounting.capturedMessages = maskedPlan.body[ChatField.messages] }
        accounting.retrievalMs = retrievalMs
        accounting.admission = admission
        let tenantCapture = snapshot.tenants[key.tenantID]?.settings.capture
        if let capture = plan.spec.capture ?? tenantCapture, capture.enabled {
            accounting.capture = capture
        }
        let finalPlan = plan
        let finalMaskedPlan = maskedPlan
        let finalMasking = masking
        let restores = gateway.config.piiRestore
        let upstreamBody: @Sendable (ModelSpec.Target) -> [UInt8] = { target in
            ((masksTarget(target) ? finalMaskedPlan : nil) ?? finalPlan).upstreamBody(for: target)
        }
        /// The restorer for a stream answered by `target`, when its request was masked and answers are restored.
        let restorerFor: @Sendable (ModelSpec.Target) -> PIIRestorer? = { target in
            guard restores, masksTarget(target), let finalMasking else { return nil }
            return finalMasking.restorer()
        }
        let finalAccounting = accounting
        let finalCitations = citations
        let dispatcher = Dispatcher(gateway: gateway, snapshot: snapshot)
        let logger = context.logger
        let requestID = context.requestID
        let clientModel = chat.modelReference

        if !finalPlan.stream {
            let bytes = try await ClientDisconnect.cancelling(on: context.channel) {
                var accounting = finalAccounting
                do {
                    let answered = try await dispatcher.send(
                        targets: finalPlan.targets, path: "/chat/completions", stream: false, requestID: requestID, logger: logger,
                        body: upstreamBody
                    ) { response, upstream throws(UpstreamFailure) in
                        let buffer = try await response.collect(upTo: dispatcher.gateway.config.upstreamMaxResponseBytes, upstream: upstream.name)
                        guard case .object(let object)? = try? JSONParser.parse(buffer.readableBytesView) else {
                            throw UpstreamFailure(kind: .protocolError, upstream: upstream.name)
                        }
                        return object
                    }
                    var object = answered.value
                    if restores, masksTarget(answered.target), let finalMasking { object = finalMasking.restore(completion: object) }
                    object[ChatField.model] = .string(clientModel)
                    if let finalCitations { object["citations"] = finalCitations }
                    accounting.upstream = answered.upstream.name
                    accounting.upstreamModel = answered.target.model
                    let answer = object[ChatField.choices]?.arrayValue?.first?["message"]?["content"]?.stringValue
                    if let reported = TokenUsage(json: object[ChatField.usage]) {
                        accounting.finish(status: 200, usage: reported, answer: answer)
                    } else {
                        var completion = 0
                        for choice in object[ChatField.choices]?.arrayValue ?? [] {
                            if case .string(let text)? = choice["message"]?["content"] { completion += TokenEstimator.estimate(text: text) }
                        }
                        accounting.finish(status: 200, estimatedCompletion: completion, answer: answer)
                    }
                    return JSONWriter.encode(.object(object))
                } catch {
                    accounting.fail(error)
                    throw error
                }
            }
            return Response.json(bytes: bytes, headers: headers)
        }

        // Streaming: the relay task first waits for the upstream's first event, so that a server failing before
        // its first chunk can be replaced by the next one and a refusal still reaches the client as an HTTP
        // error. Then it relays the rest through a back-pressured channel that the response body drains.
        let relay = StreamRelay()
        let task = Task {
            await relay.run(
                dispatcher: dispatcher, plan: finalPlan, clientModel: clientModel, requestID: requestID, logger: logger, accounting: finalAccounting,
                firstChunkExtras: finalCitations.map { ["citations": $0] } ?? JSONObject(), body: upstreamBody, restorer: restorerFor)
        }
        let watcher = context.channel.flatMap(ConnectionWatcher.watcher(for:))
        if let watcher, !watcher.observe({ task.cancel() }) {
            task.cancel()
        }
        let primed = await withTaskCancellationHandler {
            await relay.waitUntilPrimed()
        } onCancel: {
            task.cancel()
        }
        if case .failure(let error) = primed {
            watcher?.clear()
            throw error
        }
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        let gateway = self.gateway
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                defer {
                    watcher?.clear()
                    task.cancel()
                }
                // On shutdown, a stream still running when the drain window closes is ended here, even while
                // its upstream is silent: the relay's channel is failed, and the shutdown event written instead.
                let frames = relay.frames
                let ended = try await withGracefulShutdownHandler {
                    var ended = false
                    do {
                        for try await buffer in frames {
                            try await writer.write(buffer)
                            ended = buffer.readableBytesView.suffix(SSEWriter.done.count).elementsEqual(SSEWriter.done)
                        }
                    } catch is ShutdownCut {
                        return ended
                    }
                    return true
                } onGracefulShutdown: {
                    gateway.drain.begin()
                    Task {
                        try? await Task.sleep(for: gateway.drainWindow)
                        frames.fail(ShutdownCut())
                    }
                }
                if !ended {
                    try await writer.write(ByteBuffer(bytes: StreamSession.shutdownTail))
                }
                try await writer.finish(nil)
            })
    }
}

/// The response writer stopped a stream at the close of the shutdown drain window.
struct ShutdownCut: Error {}

/// The streaming half of a chat request, run in its own task: dispatch, prime, relay into `frames`.
final class StreamRelay: Sendable {
    let frames = AsyncThrowingChannel<ByteBuffer, any Error>()
    private let primedStream: AsyncStream<Result<Void, TrellisError>>
    private let primedContinuation: AsyncStream<Result<Void, TrellisError>>.Continuation

    init() {
        (primedStream, primedContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func waitUntilPrimed() async -> Result<Void, TrellisError> {
        for await result in primedStream { return result }
        return .failure(TrellisError(status: 499, type: "invalid_request_error", code: "client_closed_request", message: "The request was cancelled."))
    }

    private func signalPrimed(_ result: Result<Void, TrellisError>) {
        primedContinuation.yield(result)
        primedContinuation.finish()
    }

    func run(
        dispatcher: Dispatcher, plan: ChatPlan, clientModel: String, requestID: String, logger: Logger, accounting: Accounting,
        firstChunkExtras: JSONObject = JSONObject(), body: @escaping @Sendable (ModelSpec.Target) -> [UInt8],
        restorer: @escaping @Sendable (ModelSpec.Target) -> PIIRestorer? = { _ in nil }
    ) async {
        var accounting = accounting
        let session: StreamSession
        do {
            let answered = try await dispatcher.send(
                targets: plan.targets, path: "/chat/completions", stream: true, requestID: requestID, logger: logger,
                body: body
            ) { response, upstream throws(UpstreamFailure) in
                var rewriter = ChatStreamRewriter(
                    clientModel: clientModel, clientWantsUsage: plan.clientWantsUsage, firstChunkExtras: firstChunkExtras,
                    keepText: accounting.capture != nil)
                if let target = plan.targets.first(where: { $0.upstream == upstream.name }) { rewriter.restorer = restorer(target) }
                let session = StreamSession(
                    response: response, upstream: upstream, rewriter: rewriter, maxEventBytes: dispatcher.gateway.config.upstreamMaxEventBytes)
                try await session.prime()
                return session
            }
            session = answered.value
            accounting.upstream = answered.upstream.name
            accounting.upstreamModel = answered.target.model
        } catch {
            accounting.fail(error)
            signalPrimed(.failure(error))
            frames.finish()
            return
        }
        signalPrimed(.success(()))
        let gateway = dispatcher.gateway
        let window = gateway.drainWindow
        do {
            let failure = try await session.relay(accounting: &accounting, shouldCut: { gateway.drain.shouldCut(window: window) }) { buffer in
                await self.frames.send(buffer)
                try Task.checkCancellation()
            }
            // The stream's outcome is the upstream's: a stream it broke counts like a failed call.
            let changed =
                failure.map { gateway.health.failure(session.upstream, reason: $0.label) } ?? gateway.health.success(session.upstream)
            if changed { dispatcher.publishCircuit(session.upstream) }
            frames.finish()
        } catch {
            gateway.health.release(session.upstream)
            if gateway.drain.shouldCut(window: window) {
                // Ended by the response writer at the close of the shutdown drain window (see `respond`).
                session.recordEnd(&accounting, status: StreamSession.shutdownError.status, errorCode: StreamSession.shutdownError.code)
            } else {
                session.recordEnd(&accounting, status: 499, errorCode: "client_closed_request")
            }
            frames.fail(error)
        }
    }
}

/// Usage accounting for one request, filled in as it goes and recorded exactly once.
struct Accounting: Sendable {
    let gateway: Gateway
    let requestID: String
    let startedAt: Date
    let started: ContinuousClock.Instant
    let key: TenantKey
    let plan: ChatPlan
    let promptEstimate: Int
    var upstream: String?
    var upstreamModel: String?
    var firstTokenAt: ContinuousClock.Instant?
    var retrievalMs: Double?
    var admission: AdmissionTicket?
    /// Set when the interaction is to be kept for the data flywheel.
    var capture: CaptureSettings?
    /// The request's PII session when anything was masked: captured interactions keep the masked messages, and
    /// the answer masked the same way.
    var masking: PIIMasker.Session?
    var capturedMessages: JSONValue?
    private var recorded = false

    init(gateway: Gateway, requestID: String, startedAt: Date, started: ContinuousClock.Instant, key: TenantKey, plan: ChatPlan, promptEstimate: Int) {
        self.gateway = gateway
        self.requestID = requestID
        self.startedAt = startedAt
        self.started = started
        self.key = key
        self.plan = plan
        self.promptEstimate = promptEstimate
    }

    mutating func finish(status: Int, usage: TokenUsage? = nil, estimatedCompletion: Int = 0, errorCode: String? = nil, answer: String? = nil) {
        guard !recorded else { return }
        recorded = true
        let now = ContinuousClock.now
        let latency = now - started
        let ttft = firstTokenAt.map { $0 - started }
        // A request refused before generating anything is recorded without tokens.
        let prompt = usage?.promptTokens ?? (status < 400 || estimatedCompletion > 0 ? promptEstimate : 0)
        let completion = usage?.completionTokens ?? estimatedCompletion
        var event = UsageEvent(
            requestID: requestID, at: startedAt, endpoint: "chat", tenantID: key.tenantID, keyID: key.id, endUser: plan.user,
            model: plan.modelName, modelVersion: plan.version, upstream: upstream, promptTokens: prompt, completionTokens: completion,
            estimated: usage == nil && (prompt > 0 || completion > 0), latencyMs: latency.milliseconds, ttftMs: ttft?.milliseconds,
            status: status, errorCode: errorCode, stream: plan.stream, retrievalMs: retrievalMs)
        if let upstream, let pricing = gateway.snapshot.upstreams[upstream]?.pricing {
            event.costMicros = pricing.costMicros(model: upstreamModel ?? "", promptTokens: prompt, completionTokens: completion)
        }
        if !gateway.usage.record(event) { gateway.metrics.usageDropped() }
        admission?.settle(actualTokens: prompt + completion)
        if let capture, status < 400, var answer {
            if var masking { answer = masking.mask(answer) }
            gateway.usage.capture(
                CapturedInteraction(
                    requestID: requestID, tenantID: key.tenantID, model: plan.modelName, modelVersion: plan.version,
                    messages: capturedMessages ?? plan.body[ChatField.messages] ?? .array([]), answer: answer, retentionDays: capture.retentionDays))
        }
        gateway.metrics.modelRequest(
            tenant: key.tenantName, model: plan.modelName, version: plan.version, status: status, seconds: latency.seconds,
            ttft: ttft?.seconds, promptTokens: prompt, completionTokens: completion)
    }

    mutating func fail(_ error: any Error) {
        if let e = error as? TrellisError {
            finish(status: e.status, errorCode: e.code)
        } else if error is CancellationError {
            finish(status: 499, errorCode: "client_closed_request")
        } else {
            finish(status: 500, errorCode: "internal_error")
        }
    }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }

    var milliseconds: Double { seconds * 1000 }
}
