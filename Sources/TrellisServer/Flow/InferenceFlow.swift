import TrellisCore

/// The inference flow, apart from HTTP: from a parsed request and the caller's key to an ``InferenceOutcome``.
/// Every endpoint goes through the same steps:
///
/// 1. **resolve** the model version and its targets (chat: `ChatPlanner.plan`);
/// 2. **admit** against the caller's limits (``admit(_:estimate:modelVersion:)``), which also gives the
///    ``AnswerHeaders``;
/// 3. endpoint-specific preparation (chat: **retrieve** knowledge, **mask** personal data, **account**, capture;
///    `prepare(_:key:call:)` stops there with a ``PreparedChat``, which a facade over chat dispatches with its own answer);
/// 4. **dispatch** through an ``AdmittedCall``: a whole answer for any ``WholeAnswerEndpoint``
///    (``AdmittedCall/complete(_:)``), or a chat stream (``AdmittedCall/stream(_:)``);
/// 5. **record** usage exactly once however the call ends (``Accounting``).
///
/// The controller turns the outcome into a response (`InferenceOutcome.response(gateway:)`).
struct InferenceFlow: Sendable {
    let gateway: Gateway

    /// Takes the request's reservation from the caller's limits (or throws their 429), and the headers its
    /// answer will carry.
    func admit(_ key: TenantKey, estimate: AdmissionEstimate, modelVersion: Int) async throws -> (AdmissionTicket, AnswerHeaders) {
        let ticket = try await gateway.admit(key, estimatedTokens: estimate.total)
        return (ticket, AnswerHeaders(modelVersion: modelVersion, admission: ticket))
    }
}
