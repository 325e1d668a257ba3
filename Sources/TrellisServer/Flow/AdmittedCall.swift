import Logging
import OpenAIWire
import TrellisCore
import TrellisUpstream

/// The parts of a whole (non-streamed) answer that differ by endpoint: the upstream path and the body for each
/// target, how much of the answer to read, what the client gets from it and what it used. A new facade over an
/// upstream API brings one of these and reuses the rest of the flow.
protocol WholeAnswerEndpoint: Sendable {
    /// The upstream path, under the upstream's base URL (`/chat/completions`).
    var path: String { get }
    var answerLimits: AnswerLimits { get }
    func upstreamBody(for target: ModelSpec.Target) -> [UInt8]
    /// The client's answer from the upstream's JSON object, answered by `target`.
    func clientAnswer(_ upstreamAnswer: JSONObject, from target: ModelSpec.Target) -> JSONObject
    /// What the client's answer used.
    func usage(of clientAnswer: JSONObject) -> MeasuredUsage
}

/// A request past resolution and admission, ready to dispatch: its targets in order, the dispatcher over the
/// catalog it was planned on, its account and the headers its answer carries. From here on the steps are the
/// same for every endpoint.
struct AdmittedCall: Sendable {
    let dispatcher: Dispatcher
    let targets: [ModelSpec.Target]
    let call: CallContext
    let headers: AnswerHeaders
    var accounting: Accounting

    /// A whole answer, or one a router's cascade asks again (with what it used and cost).
    enum Attempt: Sendable {
        case answered(JSONObject)
        case escalate(JSONObject, CarriedUsage)
    }

    /// Dispatches a whole call and answers it, in a task cancelled if the client goes away (which cancels the
    /// upstream call with it).
    func complete<Endpoint: WholeAnswerEndpoint>(_ endpoint: Endpoint) async throws -> InferenceOutcome {
        .complete(body: JSONWriter.encode(.object(try await completeObject(endpoint))), headers: headers)
    }

    /// The client's answer as an object, for a facade that does something with it before it is sent (the Responses
    /// API keeps it); dispatched as ``complete(_:)`` does.
    func completeObject<Endpoint: WholeAnswerEndpoint>(_ endpoint: Endpoint) async throws -> JSONObject {
        switch try await attempt(endpoint, escalatingOn: []) {
        case .answered(let object), .escalate(let object, _): object
        }
    }

    /// As ``completeObject(_:)``, but an answer that shows one of `triggers` (a router's cascade then asks another
    /// model) is settled without a row of its own and returned with what it used.
    func attempt<Endpoint: WholeAnswerEndpoint>(_ endpoint: Endpoint, escalatingOn triggers: Set<RouterSpec.Trigger>) async throws -> Attempt {
        try await call.connection.cancelling { [self] in try await answer(endpoint, escalatingOn: triggers) }
    }

    /// Sends to the first target that answers with a JSON object, and turns that into the client's answer;
    /// records usage however the call ends.
    func answer<Endpoint: WholeAnswerEndpoint>(_ endpoint: Endpoint, escalatingOn triggers: Set<RouterSpec.Trigger> = []) async throws -> Attempt {
        var accounting = self.accounting
        do {
            let limits = endpoint.answerLimits
            let answered = try await dispatcher.send(
                targets: targets, path: endpoint.path, stream: false, requestID: call.requestID, logger: call.logger,
                body: endpoint.upstreamBody(for:)
            ) { response, upstream throws(UpstreamFailure) in
                try await response.jsonObject(limits: limits, upstream: upstream.name)
            }
            let object = endpoint.clientAnswer(answered.value, from: answered.target)
            accounting.answered(by: answered.upstream.name, model: answered.target.model)
            if !triggers.isEmpty, let trigger = AnswerCheck.trigger(of: answered.value, among: triggers) {
                call.logger.info("answer escalated by the router's cascade", metadata: ["trigger": "\(trigger.rawValue)"])
                return .escalate(object, accounting.escalate(measured: endpoint.usage(of: object)))
            }
            accounting.finish(status: 200, measured: endpoint.usage(of: object))
            return .answered(object)
        } catch {
            accounting.fail(error)
            throw error
        }
    }
}
