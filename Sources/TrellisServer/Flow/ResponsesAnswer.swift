import OpenAIWire
import TrellisCore

/// A whole answer of the Responses API: the chat answer's upstream call, its completion turned into the response
/// object (personal data restored, citations as annotations).
struct ResponsesAnswer: WholeAnswerEndpoint {
    let chat: ChatAnswer
    let shell: ResponseShell

    var path: String { chat.path }
    var answerLimits: AnswerLimits { chat.answerLimits }

    func upstreamBody(for target: ModelSpec.Target) -> [UInt8] {
        chat.upstreamBody(for: target)
    }

    func clientAnswer(_ completion: JSONObject, from target: ModelSpec.Target) -> JSONObject {
        shell.completed(from: chat.payload.restore(completion, answeredBy: target))
    }

    /// The usage the response reports, else the output text estimated; the output text.
    func usage(of response: JSONObject) -> MeasuredUsage {
        let text = ResponseShell.outputText(of: response)
        if let reported = ResponseShell.tokenUsage(of: response) {
            return MeasuredUsage(reported: reported, answer: text)
        }
        return MeasuredUsage(estimatedCompletion: TokenEstimator.estimate(text: text), answer: text)
    }
}
