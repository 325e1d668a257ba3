import OpenAIWire
import TrellisCore

/// The tokens a request reserves at admission, before any retrieval or upstream call: the prompt estimate, room
/// for the knowledge context a RAG model will add, and the most the answers may use. The reservation is settled
/// on the actual count when the request ends.
struct AdmissionEstimate: Sendable, Equatable {
    var prompt: Int
    var contextAllowance = 0
    var completion = 0

    var total: Int { prompt + contextAllowance + completion }

    /// A chat request: its messages, `top_k` chunks of its knowledge bases' largest chunk size, and the completion
    /// budget (`max_tokens`, else `max_completion_tokens`, else `defaultCompletion`) for each of the `n` answers.
    static func chat(_ plan: ChatPlan, snapshot: CatalogSnapshot, defaultCompletion: Int) -> AdmissionEstimate {
        let prompt = TokenEstimator.estimate(messages: plan.body[ChatField.messages]?.arrayValue ?? [])
        let contextAllowance =
            plan.spec.knowledge.map { knowledge in
                let chunkSize =
                    snapshot.allKnowledgeBases.filter { $0.tenantID == plan.model.tenantID && knowledge.bases.contains($0.name) }.map(\.chunkSize).max() ?? 512
                return knowledge.topK * chunkSize
            } ?? 0
        let budget =
            plan.body[ChatField.maxTokens]?.numberValue?.intValue ?? plan.body[ChatField.maxCompletionTokens]?.numberValue?.intValue ?? defaultCompletion
        // `n` answers (1 to 128, checked by the parser) may each use the whole completion budget.
        let choices = max(1, plan.body["n"]?.numberValue?.intValue ?? 1)
        // Clamped first, so that a `max_tokens` near Int.max times `n` cannot overflow.
        let perAnswer = min(max(0, budget), RateLimiter.maxTokensPerRequest)
        return AdmissionEstimate(prompt: prompt, contextAllowance: contextAllowance, completion: perAnswer * choices)
    }

    /// An embeddings request: its input alone (see ``EmbeddingsRequest/estimatedTokens``).
    static func embeddings(_ request: EmbeddingsRequest) -> AdmissionEstimate {
        AdmissionEstimate(prompt: request.estimatedTokens)
    }
}
