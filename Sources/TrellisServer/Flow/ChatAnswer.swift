import OpenAIWire
import TrellisCore

/// What a chat completion's answer is made of, whole or streamed: the payload per target, the model name the
/// client called, and the knowledge base citations to add.
struct ChatAnswer: WholeAnswerEndpoint {
    let payload: ChatPayload
    let clientModel: String
    let citations: JSONValue?
    let answerLimits: AnswerLimits
    /// `upstream.max_event_bytes`, for streams.
    let maxEventBytes: Int

    var path: String { "/chat/completions" }

    func upstreamBody(for target: ModelSpec.Target) -> [UInt8] {
        payload.upstreamBody(for: target)
    }

    /// The upstream's completion with personal data restored, `model` set to the name the client called, and the
    /// citations added; the upstream's other fields pass through.
    func clientAnswer(_ completion: JSONObject, from target: ModelSpec.Target) -> JSONObject {
        var object = payload.restore(completion, answeredBy: target)
        object[ChatField.model] = .string(clientModel)
        if let citations { object["citations"] = citations }
        return object
    }

    /// Whether a whole answer may be sent as the upstream's bytes with only `model` replaced
    /// (``WholeAnswerInPlace``): nothing is added to it (citations) and nothing in it is put back (masking).
    var editsInPlace: Bool { citations == nil && !payload.restoresAny }

    /// The upstream's `usage`, else the completion estimated from every choice's text; the first choice's text.
    func usage(of completion: JSONObject) -> MeasuredUsage {
        let choices = completion[ChatField.choices]?.arrayValue ?? []
        let answer = choices.first?["message"]?["content"]?.stringValue
        if let reported = TokenUsage(json: completion[ChatField.usage]) {
            return MeasuredUsage(reported: reported, answer: answer)
        }
        var estimated = 0
        for choice in choices {
            if case .string(let text)? = choice["message"]?["content"] { estimated += TokenEstimator.estimate(text: text) }
        }
        return MeasuredUsage(estimatedCompletion: estimated, answer: answer)
    }

    /// The rewriter for a stream from `upstream`: the client's model name, usage as the client asked, the
    /// citations on the first chunk, and the restorer when its request was masked.
    func rewriter(upstream: String, keepText: Bool) -> ChatStreamRewriter {
        var rewriter = ChatStreamRewriter(
            clientModel: clientModel, clientWantsUsage: payload.plan.clientWantsUsage,
            firstChunkExtras: citations.map { ["citations": $0] } ?? JSONObject(), keepText: keepText)
        if let target = payload.plan.targets.first(where: { $0.upstream == upstream }) { rewriter.restorer = payload.restorer(for: target) }
        return rewriter
    }
}
