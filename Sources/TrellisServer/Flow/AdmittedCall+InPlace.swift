import NIOCore
import OpenAIWire
import TrellisCore
import TrellisUpstream

extension AdmittedCall {
    /// A chat answer as ``complete(_:)`` makes it, but sent as the upstream's own bytes with `model` replaced
    /// (``WholeAnswerInPlace``) when the answer allows it, instead of being parsed into a tree and written again.
    /// For answers that ``ChatAnswer/editsInPlace`` and no router cascade reads; an answer the edit does not take
    /// goes the tree's way, with the same checks and errors.
    func completeInPlace(_ answer: ChatAnswer) async throws -> InferenceOutcome {
        try await call.connection.cancelling { [self] in try await answerInPlace(answer) }
    }

    /// What the upstream answered: edited in place, or parsed.
    private enum Read: Sendable {
        case edited(WholeAnswerInPlace)
        case tree(JSONObject)
    }

    private func answerInPlace(_ answer: ChatAnswer) async throws -> InferenceOutcome {
        var accounting = self.accounting
        do {
            let limits = answer.answerLimits
            let modelJSON = JSONWriter.encode(.string(answer.clientModel))
            let answered = try await dispatcher.send(
                targets: targets, path: answer.path, stream: false, requestID: call.requestID, logger: call.logger,
                body: answer.upstreamBody(for:)
            ) { response, upstream throws(UpstreamFailure) -> Read in
                let buffer = try await response.collect(upTo: limits.maxBytes, upstream: upstream.name)
                let edited = buffer.withUnsafeReadableBytes { raw in
                    WholeAnswerInPlace.edit(raw.bindMemory(to: UInt8.self), clientModelJSON: modelJSON)
                }
                if let edited { return .edited(edited) }
                return .tree(try UpstreamJSON.object(buffer.readableBytesView, limits: limits.parser, upstream: upstream.name))
            }
            accounting.answered(by: answered.upstream.name, model: answered.target.model)
            switch answered.value {
            case .edited(let edited):
                accounting.finish(status: 200, measured: MeasuredUsage(reported: edited.usage, answer: edited.answer))
                return .complete(body: edited.body, headers: headers)
            case .tree(let completion):
                let object = answer.clientAnswer(completion, from: answered.target)
                accounting.finish(status: 200, measured: answer.usage(of: object))
                return .complete(body: JSONWriter.encode(.object(object)), headers: headers)
            }
        } catch {
            accounting.fail(error)
            throw error
        }
    }
}
