import Foundation
import OpenAIWire
import TrellisCore

/// When a request started: the instant for its latency, the date for its usage row.
struct RequestStart: Sendable {
    let instant: ContinuousClock.Instant
    let date: Date

    static func now() -> RequestStart { RequestStart(instant: .now, date: Date()) }
}

/// Who and what a usage row is about: the request, its caller and the model version that serves it.
struct UsageSubject: Sendable {
    /// The row's endpoint: `chat`, `responses` or `embeddings`.
    var endpoint: String
    var requestID: String
    var start: RequestStart
    var key: TenantKey
    var user: String?
    var model: String
    var version: Int?
    var stream: Bool
    /// For a router model's request: the child that answers (`name@version`), and where the router's default would
    /// have sent it (for the cost saved).
    var routedTo: String?
    var baseline: ModelSpec.Target?
}

/// What an answer used, as far as the gateway knows: the upstream's count, or an estimate of the completion (the
/// prompt is then the request's estimate); and the answer's text, for a captured interaction.
struct MeasuredUsage: Sendable, Equatable {
    var reported: TokenUsage?
    var estimatedCompletion = 0
    var answer: String?
}

/// A request's interaction, kept for the data flywheel when its model or tenant says so: the messages as sent
/// (masked when anything was), and the session that masks the answer the same way.
struct CapturePlan: Sendable {
    var settings: CaptureSettings
    var messages: JSONValue
    var masking: PIIMasker.Session?
}

/// What an answer a router's cascade asked again cost: its tokens and their price. It is not a row of its own (one
/// client request, one row): the escalated call's row carries it.
struct CarriedUsage: Sendable, Equatable {
    var promptTokens = 0
    var completionTokens = 0
    var costMicros = 0
}

/// Usage accounting for one admitted request, filled in as it goes and recorded exactly once: the usage row,
/// the settlement of the admission's reservation, the captured interaction and the metrics.
struct Accounting: Sendable {
    let gateway: Gateway
    let subject: UsageSubject
    let promptEstimate: Int
    let admission: AdmissionTicket
    /// Whether the row carries the upstream's price for the tokens (chat rows do; embeddings rows never have).
    let priced: Bool
    var upstream: String?
    var upstreamModel: String?
    var firstTokenAt: ContinuousClock.Instant?
    var retrievalMs: Double?
    /// Set when the interaction is to be kept for the data flywheel.
    var capture: CapturePlan?
    /// An earlier answer of the same request that a router's cascade asked again, added to this row.
    var carried: CarriedUsage?
    private var recorded = false
    /// Held until the row is recorded, so that a shutdown's final flush waits for it (shared by copies).
    private let openRow: UsageRecorder.OpenRow

    init(gateway: Gateway, subject: UsageSubject, promptEstimate: Int, admission: AdmissionTicket, priced: Bool) {
        self.gateway = gateway
        self.subject = subject
        self.promptEstimate = promptEstimate
        self.admission = admission
        self.priced = priced
        openRow = gateway.usage.openRow()
    }

    /// The target that answered.
    mutating func answered(by upstream: String, model: String) {
        self.upstream = upstream
        upstreamModel = model
    }

    mutating func finish(status: Int, measured: MeasuredUsage) {
        finish(status: status, usage: measured.reported, estimatedCompletion: measured.estimatedCompletion, answer: measured.answer)
    }

    /// Ends an answer that a router's cascade asks again of a larger model: its reservation is settled with what it
    /// used, and what it used and cost is returned for the escalated call's row (no row of its own, no capture).
    mutating func escalate(measured: MeasuredUsage) -> CarriedUsage {
        guard !recorded else { return CarriedUsage() }
        recorded = true
        let prompt = measured.reported?.promptTokens ?? promptEstimate
        let completion = measured.reported?.completionTokens ?? measured.estimatedCompletion
        admission.settle(actualTokens: prompt + completion)
        openRow.close()
        var carry = carried ?? CarriedUsage()
        carry.promptTokens += prompt
        carry.completionTokens += completion
        carry.costMicros += price(prompt: prompt, completion: completion)
        return carry
    }

    mutating func finish(status: Int, usage: TokenUsage? = nil, estimatedCompletion: Int = 0, errorCode: String? = nil, answer: String? = nil) {
        guard !recorded else { return }
        recorded = true
        let latency = ContinuousClock.now - subject.start.instant
        let ttft = firstTokenAt.map { $0 - subject.start.instant }
        // A request refused before generating anything is recorded without tokens.
        let prompt = usage?.promptTokens ?? (status < 400 || estimatedCompletion > 0 ? promptEstimate : 0)
        let completion = usage?.completionTokens ?? estimatedCompletion
        var event = usageEvent(
            status: status, errorCode: errorCode, prompt: prompt, completion: completion, estimated: usage == nil && (prompt > 0 || completion > 0),
            latency: latency, ttft: ttft)
        if let carried {
            event.promptTokens += carried.promptTokens
            event.completionTokens += carried.completionTokens
            event.costMicros += carried.costMicros
        }
        if !gateway.usage.record(event) { gateway.metrics.usageDropped() }
        // This call's own reservation; a carried answer settled its own.
        admission.settle(actualTokens: prompt + completion)
        if let capture, status < 400, let answer { keep(answer, capture: capture) }
        openRow.close()
        gateway.metrics.modelRequest(
            tenant: subject.key.tenantName, model: subject.model, version: subject.version, status: status, seconds: latency.seconds,
            ttft: ttft?.seconds, promptTokens: prompt, completionTokens: completion)
    }

    /// Records the request as ended by `error`: its status and code, 499 for a client that went away, 500 for
    /// anything unexpected.
    mutating func fail(_ error: any Error) {
        let failure = error as? TrellisError ?? (error is CancellationError ? .clientClosed() : .internalError)
        finish(status: failure.status, errorCode: failure.code)
    }

    private func usageEvent(
        status: Int, errorCode: String?, prompt: Int, completion: Int, estimated: Bool, latency: Duration, ttft: Duration?
    ) -> UsageEvent {
        var event = UsageEvent(
            requestID: subject.requestID, at: subject.start.date, endpoint: subject.endpoint, tenantID: subject.key.tenantID,
            keyID: subject.key.id, endUser: subject.user, model: subject.model, modelVersion: subject.version, upstream: upstream,
            promptTokens: prompt, completionTokens: completion, estimated: estimated, latencyMs: latency.milliseconds,
            ttftMs: ttft?.milliseconds, status: status, errorCode: errorCode, stream: subject.stream, retrievalMs: retrievalMs)
        event.costMicros = price(prompt: prompt, completion: completion)
        event.routedTo = subject.routedTo
        // What the router's default would have cost for the answer's tokens (unknown when the default has no price).
        if let baseline = subject.baseline, subject.routedTo != nil {
            event.baselineCostMicros = gateway.snapshot.upstreams[baseline.upstream]?.pricing?.costMicros(
                model: baseline.model, promptTokens: prompt, completionTokens: completion)
        }
        return event
    }

    /// Records the row of an answer that ``escalate(measured:)`` settled when its escalation could not be made: the
    /// first answer stands, with its own tokens and cost (`carried`). Its reservation was settled then.
    func recordCarried() {
        guard let carried else { return }
        var event = usageEvent(
            status: 200, errorCode: nil, prompt: carried.promptTokens, completion: carried.completionTokens, estimated: false,
            latency: ContinuousClock.now - subject.start.instant, ttft: nil)
        event.costMicros = carried.costMicros
        if !gateway.usage.record(event) { gateway.metrics.usageDropped() }
    }

    /// The price of the tokens at the upstream that answered (0 when unpriced, and for rows that carry no price).
    private func price(prompt: Int, completion: Int) -> Int {
        guard priced, let upstream, let pricing = gateway.snapshot.upstreams[upstream]?.pricing else { return 0 }
        return pricing.costMicros(model: upstreamModel ?? "", promptTokens: prompt, completionTokens: completion)
    }

    /// Keeps the interaction for the data flywheel, the answer masked like the messages were.
    private func keep(_ answer: String, capture: CapturePlan) {
        var answer = answer
        if var masking = capture.masking { answer = masking.mask(answer) }
        gateway.usage.capture(
            CapturedInteraction(
                requestID: subject.requestID, tenantID: subject.key.tenantID, model: subject.model, modelVersion: subject.version,
                messages: capture.messages, answer: answer, retentionDays: capture.settings.retentionDays))
    }
}
