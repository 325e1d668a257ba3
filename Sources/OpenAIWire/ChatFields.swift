/// Names of the chat-completion fields Trellis reads or changes; every other field passes through untouched.
public enum ChatField {
    public static let model = "model"
    public static let messages = "messages"
    public static let stream = "stream"
    public static let streamOptions = "stream_options"
    public static let includeUsage = "include_usage"
    public static let user = "user"
    public static let maxTokens = "max_tokens"
    public static let maxCompletionTokens = "max_completion_tokens"
    public static let variables = "variables"
    public static let usage = "usage"
    public static let choices = "choices"
    public static let promptTokens = "prompt_tokens"
    public static let completionTokens = "completion_tokens"
    public static let totalTokens = "total_tokens"
    public static let tools = "tools"
}

/// Token counts as an answer reports them.
public struct TokenUsage: Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int

    public init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    public var totalTokens: Int { promptTokens + completionTokens }

    /// The largest count taken from an upstream's report: an upstream that reports 2^62 tokens must not make
    /// the gateway's sums overflow.
    public static let maxReportedTokens = 1 << 40

    /// Reads `{"prompt_tokens","completion_tokens"}`, each clamped to 0...``maxReportedTokens``; nil when
    /// absent or malformed.
    public init?(json: JSONValue?) {
        guard case .object(let usage)? = json else { return nil }
        self.init(prompt: usage[ChatField.promptTokens]?.numberValue, completion: usage[ChatField.completionTokens]?.numberValue)
    }

    /// From the two counts as reported (each a number or absent); nil without a whole `prompt_tokens`.
    public init?(prompt: JSONNumber?, completion: JSONNumber?) {
        guard let prompt = prompt?.intValue else { return nil }
        self.promptTokens = min(max(0, prompt), Self.maxReportedTokens)
        self.completionTokens = min(max(0, completion?.intValue ?? 0), Self.maxReportedTokens)
    }

    public var json: JSONValue {
        [
            "prompt_tokens": .int(promptTokens),
            "completion_tokens": .int(completionTokens),
            "total_tokens": .int(totalTokens),
        ]
    }
}
