import Foundation
import OpenAIWire

/// Whether a whole chat answer is one a router's cascade asks again of a larger model: a refusal (the message's
/// `refusal` field, or refusal wording at the start of a short answer) or an empty answer (no text and no tool
/// calls).
public enum AnswerCheck {
    /// The first of `triggers` that `completion` (a chat completion object) shows, if any.
    public static func trigger(of completion: JSONObject, among triggers: Set<RouterSpec.Trigger>) -> RouterSpec.Trigger? {
        let message = completion["choices"]?.arrayValue?.first?["message"]
        let text = message?["content"]?.stringValue ?? ""
        let toolCalls = message?["tool_calls"]?.arrayValue ?? []
        if triggers.contains(.refusal), isRefusal(message?["refusal"]) || soundsLikeRefusal(text) { return .refusal }
        if triggers.contains(.empty), toolCalls.isEmpty, text.allSatisfy(\.isWhitespace) { return .empty }
        return nil
    }

    static func isRefusal(_ field: JSONValue?) -> Bool {
        guard case .string(let s)? = field else { return false }
        return !s.allSatisfy(\.isWhitespace)
    }

    /// Answers longer than this are not read as refusals, whatever they start with.
    static let maxRefusalCharacters = 400

    /// Openings of a refusal, lowercased, straight apostrophes.
    static let refusalOpenings = [
        "i can't help", "i cannot help", "i can't assist", "i cannot assist", "i can't provide", "i cannot provide",
        "i can't answer", "i cannot answer", "i'm sorry, but i can", "i am sorry, but i can", "sorry, but i can",
        "i'm sorry, i can", "i am sorry, i can", "i'm unable to", "i am unable to", "i won't be able to", "i'm not able to",
        "i am not able to", "as an ai", "我无法", "我不能", "抱歉，我", "很抱歉，我", "对不起，我", "抱歉,我", "很抱歉,我",
        "我没有办法", "无法回答", "不能回答",
    ]

    /// Refusal wording at the start (the first 160 characters) of a short answer.
    public static func soundsLikeRefusal(_ text: String) -> Bool {
        let trimmed = text.drop { $0.isWhitespace }
        guard !trimmed.isEmpty, trimmed.count <= maxRefusalCharacters else { return false }
        let head = String(trimmed.prefix(160)).lowercased().replacingOccurrences(of: "\u{2019}", with: "'")
        return refusalOpenings.contains { head.hasPrefix($0) || head.contains(". " + $0) || head.contains("! " + $0) }
            || (head.hasPrefix("sorry") && refusalOpenings.contains { head.contains($0) })
    }
}
