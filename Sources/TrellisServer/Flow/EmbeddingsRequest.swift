import OpenAIWire
import TrellisCore

/// A parsed `POST /v1/embeddings` body: the fields Trellis owns (`model`, `input`, `user`) checked, everything
/// else passed through untouched.
struct EmbeddingsRequest: Sendable {
    var body: JSONObject
    /// The model as the client named it (`name` or `name@version`).
    var modelReference: String
    var input: JSONValue
    var user: String?

    static func parse(_ value: JSONValue) throws -> EmbeddingsRequest {
        guard case .object(let body) = value else { throw TrellisError.invalidRequest("The request body must be a JSON object.") }
        guard case .string(let reference)? = body["model"], !reference.isEmpty else {
            throw body["model"] == nil ? TrellisError.missingField("model") : TrellisError.invalidField("model", "must be a non-empty string")
        }
        guard let input = body["input"] else { throw TrellisError.missingField("input") }
        try validateInput(input)
        let user = try ChatRequest.endUser(body["user"])
        return EmbeddingsRequest(body: body, modelReference: reference, input: input, user: user)
    }

    /// OpenAI's accepted shapes: a string, an array of strings, an array of token ids, or an array of
    /// token-id arrays; nothing empty.
    static func validateInput(_ input: JSONValue) throws {
        let problem = "must be a string, an array of strings, an array of token ids, or an array of token-id arrays"
        switch input {
        case .string(let s):
            guard !s.isEmpty else { throw TrellisError.invalidField("input", "must not be empty") }
        case .array(let items):
            guard !items.isEmpty, items.count <= 2048 else { throw TrellisError.invalidField("input", "must have 1 to 2048 entries") }
            let isToken: (JSONValue) -> Bool = { $0.numberValue?.intValue.map { $0 >= 0 } ?? false }
            let allStrings = items.allSatisfy { $0.stringValue.map { !$0.isEmpty } ?? false }
            let allTokens = items.allSatisfy(isToken)
            let allTokenArrays = items.allSatisfy { $0.arrayValue.map { !$0.isEmpty && $0.allSatisfy(isToken) } ?? false }
            guard allStrings || allTokens || allTokenArrays else { throw TrellisError.invalidField("input", problem) }
        default:
            throw TrellisError.invalidField("input", problem)
        }
    }

    /// The input's tokens as estimated: text by ``TokenEstimator``, token ids counted.
    var estimatedTokens: Int {
        switch input {
        case .string(let s): return TokenEstimator.estimate(text: s)
        case .array(let items):
            return items.reduce(0) { total, item in
                switch item {
                case .string(let s): total + TokenEstimator.estimate(text: s)
                case .array(let tokens): total + tokens.count
                case .number: total + 1
                default: total
                }
            }
        default: return 0
        }
    }
}
