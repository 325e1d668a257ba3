import OpenAIWire

/// Rewrites an upstream's chat-completion stream for the client, one server-sent event at a time: the
/// `model` field becomes the name the client called, the usage chunk Trellis asked for is removed when the
/// client did not ask for it, and the `[DONE]` sentinel is held back so the relay can end the stream itself.
/// Meanwhile it keeps what usage accounting needs: the reported usage, or enough to estimate it.
public struct ChatStreamRewriter: Sendable {
    public let clientModel: String
    public let clientWantsUsage: Bool
    /// Added to the first chunk (RAG citations).
    public var firstChunkExtras: JSONObject

    public internal(set) var usage: TokenUsage?
    public private(set) var sawDone = false
    public internal(set) var finishReason: String?
    public internal(set) var chunks = 0
    /// Tokens estimated from the content relayed so far (used when the upstream reports no usage).
    public internal(set) var estimatedCompletionTokens = 0
    /// An error event the upstream sent in the stream.
    public private(set) var upstreamError: OpenAIError?
    /// Chunks that carried content; servers that send one token per chunk (llama.cpp) make this exact.
    public internal(set) var contentChunks = 0
    /// The last chunk's `id` and `created`, for the usage chunk Trellis may have to write (as parsed, or as the
    /// bytes the chunk carried them in when it was rewritten in place).
    var lastID = KeptValue.value(.null)
    var lastCreated = KeptValue.value(.null)

    /// Keep the answer's text (for interaction capture), up to 1 MiB.
    public let keepText: Bool
    public internal(set) var text = ""

    /// Chunks may come out as their own bytes edited in place (``Rewritten/bytes(_:)``) rather than as a parsed
    /// object, when nothing needs the tree: set for the chat completions API's framing, whose frames are the chunk's JSON.
    public var relaysBytes = false
    /// The client's model name as a JSON string, spliced into chunks rewritten in place.
    let clientModelJSON: [UInt8]

    public init(clientModel: String, clientWantsUsage: Bool, firstChunkExtras: JSONObject = JSONObject(), keepText: Bool = false) {
        self.clientModel = clientModel
        self.clientWantsUsage = clientWantsUsage
        self.firstChunkExtras = firstChunkExtras
        self.keepText = keepText
        self.clientModelJSON = JSONWriter.encode(.string(clientModel))
    }

    /// Puts masked personal data back into the content, the reasoning and the tool-call arguments as they
    /// stream (a placeholder split across chunks is held back until it is whole); nil when nothing was masked.
    /// Each choice (`n` > 1), and in it each field and each tool call (by its `index`), restores on its own
    /// copy, so text held back for one never lands in another. Arguments get their originals JSON-escaped.
    public var restorer: PIIRestorer?
    private var restorers: [Int: PIIRestorer] = [:]
    private var fieldRestorers: [StreamField: PIIRestorer] = [:]
    private var argumentsTemplate: PIIRestorer?

    /// A streamed text other than the content: the reasoning of a choice, or the arguments of one of its tool calls.
    private struct StreamField: Hashable {
        var choice: Int
        /// The tool call's `index`; nil for `reasoning_content`.
        var toolCall: Int?
    }

    /// One upstream event as rewritten for the client, before it is framed (``StreamEncoder``).
    public enum Rewritten: Sendable, Equatable {
        /// Nothing for the client (`[DONE]`, a usage chunk the client did not ask for).
        case nothing
        /// A chat chunk, rewritten.
        case chunk(JSONObject)
        /// An event that is not JSON, to pass on as it came.
        case other(SSEEvent)
        /// An error event of the upstream's (``upstreamError`` holds it parsed).
        case error(JSONObject)
        /// A chat chunk rewritten in its own bytes: its JSON as the client gets it (only when ``relaysBytes``).
        case bytes([UInt8])
    }

    /// The bytes to send for one upstream event in the chat stream's own framing (possibly none), and whether it
    /// carried content.
    public mutating func process(_ event: SSEEvent) -> (frame: [UInt8], hasContent: Bool) {
        let (rewritten, hasContent) = rewrite(event)
        return (ChatStreamEncoder.frame(rewritten), hasContent)
    }

    /// One upstream event rewritten, and whether it carried content.
    public mutating func rewrite(_ event: SSEEvent) -> (Rewritten, hasContent: Bool) {
        if event.isDone {
            sawDone = true
            return (.nothing, false)
        }
        if relaysBytes, restorer == nil, chunks > 0 || firstChunkExtras.isEmpty, let edited = rewriteInPlace(event.data) {
            return edited
        }
        guard case .object(var chunk)? = try? JSONParser.parse(event.data) else {
            // Not JSON: passed on as it came.
            return (.other(event), false)
        }
        if case .object? = chunk["error"] {
            upstreamError = OpenAIError.parse(upstreamBody: Array(event.data.utf8))
            return (.error(chunk), false)
        }
        var hasContent = false
        if let u = chunk[ChatField.usage], !u.isNull {
            if let parsed = TokenUsage(json: u) { usage = parsed }
            if !clientWantsUsage {
                if case .array(let choices)? = chunk[ChatField.choices], !choices.isEmpty {
                    chunk.removeValue(forKey: ChatField.usage)
                } else {
                    return (.nothing, false)
                }
            }
        } else if !clientWantsUsage, chunk[ChatField.usage] != nil {
            chunk.removeValue(forKey: ChatField.usage)
        }
        if restorer != nil, case .array(let choices)? = chunk[ChatField.choices] {
            var restored: [JSONValue] = []
            for choice in choices { restored.append(restoreChoice(choice)) }
            chunk[ChatField.choices] = .array(restored)
        }
        if case .array(let choices)? = chunk[ChatField.choices] {
            for choice in choices {
                if case .object(let delta)? = choice["delta"] {
                    if case .string(let piece)? = delta["content"], !piece.isEmpty {
                        estimatedCompletionTokens += TokenEstimator.estimate(text: piece)
                        hasContent = true
                        if keepText, text.utf8.count < 1 << 20 { text += piece }
                    }
                    if case .string(let text)? = delta["reasoning_content"], !text.isEmpty {
                        estimatedCompletionTokens += TokenEstimator.estimate(text: text)
                        hasContent = true
                    }
                    if case .array? = delta["tool_calls"] { hasContent = true }
                }
                if case .string(let reason)? = choice["finish_reason"] { finishReason = reason }
            }
        }
        if hasContent { contentChunks += 1 }
        if chunk[ChatField.model] != nil { chunk[ChatField.model] = .string(clientModel) }
        if clientWantsUsage, chunk[ChatField.usage] == nil {
            // OpenAI sends `"usage": null` on every chunk but the last when usage was asked for.
            chunk[ChatField.usage] = .null
        }
        if let id = chunk["id"] { lastID = .value(id) }
        if let created = chunk["created"] { lastCreated = .value(created) }
        if chunks == 0 {
            for member in firstChunkExtras { chunk[member.key] = member.value }
        }
        chunks += 1
        return (.chunk(chunk), hasContent)
    }

    /// One choice with its delta's content, reasoning and tool-call arguments passed through their restorers; the
    /// held-back rest is flushed into the chunk that finishes the choice. A `null` or absent content stays so
    /// unless there is text to flush.
    private mutating func restoreChoice(_ choice: JSONValue) -> JSONValue {
        guard case .object(var c) = choice, let template = restorer else { return choice }
        let index = c["index"]?.numberValue?.intValue ?? 0
        var own = restorers[index] ?? template
        var delta = c["delta"]?.objectValue
        var content: String?
        if case .string(let piece)? = delta?["content"] { content = own.feed(piece) }
        let reasoningField = StreamField(choice: index, toolCall: nil)
        var reasoning: String?
        if case .string(let piece)? = delta?["reasoning_content"] { reasoning = feed(piece, reasoningField, template) }
        var calls: [JSONValue]?
        if case .array(let list)? = delta?["tool_calls"] {
            calls = list.enumerated().map { position, call in restoreToolCall(call, position: position, choice: index) }
        }
        if case .string? = c["finish_reason"] {
            let rest = own.finish()
            if !rest.isEmpty { content = (content ?? "") + rest }
            if let rest = fieldRestorers.removeValue(forKey: reasoningField)?.finishing(), !rest.isEmpty {
                reasoning = (reasoning ?? "") + rest
            }
            for field in fieldRestorers.keys.filter({ $0.choice == index }).sorted(by: { ($0.toolCall ?? 0) < ($1.toolCall ?? 0) }) {
                guard let toolCall = field.toolCall, let rest = fieldRestorers.removeValue(forKey: field)?.finishing(), !rest.isEmpty else { continue }
                calls = Self.appendArguments(rest, toolCall: toolCall, to: calls ?? [])
            }
        }
        restorers[index] = own
        if content != nil || reasoning != nil || calls != nil {
            var d = delta ?? JSONObject()
            if let content { d["content"] = .string(content) }
            if let reasoning { d["reasoning_content"] = .string(reasoning) }
            if let calls { d["tool_calls"] = .array(calls) }
            delta = d
        }
        if let delta { c["delta"] = .object(delta) }
        return .object(c)
    }

    /// `piece` of a field through that field's restorer (arguments: originals JSON-escaped).
    private mutating func feed(_ piece: String, _ field: StreamField, _ template: PIIRestorer) -> String {
        var own: PIIRestorer
        if let known = fieldRestorers[field] {
            own = known
        } else if field.toolCall != nil {
            let arguments = argumentsTemplate ?? template.jsonEscaped()
            argumentsTemplate = arguments
            own = arguments
        } else {
            own = template
        }
        let out = own.feed(piece)
        fieldRestorers[field] = own
        return out
    }

    /// One entry of `delta.tool_calls` with its `function.arguments` piece restored.
    private mutating func restoreToolCall(_ call: JSONValue, position: Int, choice: Int) -> JSONValue {
        guard case .object(var c) = call, case .object(var function)? = c["function"], case .string(let piece)? = function["arguments"],
            let template = restorer
        else { return call }
        let toolCall = c["index"]?.numberValue?.intValue ?? position
        function["arguments"] = .string(feed(piece, StreamField(choice: choice, toolCall: toolCall), template))
        c["function"] = .object(function)
        return .object(c)
    }

    /// `calls` with `rest` added to the arguments of the tool call `toolCall`: to its entry when this chunk has
    /// one, else as an entry of its own (`{"index", "function": {"arguments"}}`, as later pieces of a call come).
    static func appendArguments(_ rest: String, toolCall: Int, to calls: [JSONValue]) -> [JSONValue] {
        var calls = calls
        for (i, call) in calls.enumerated() {
            guard case .object(var c) = call, c["index"]?.numberValue?.intValue == toolCall else { continue }
            var function = c["function"]?.objectValue ?? JSONObject()
            function["arguments"] = .string((function["arguments"]?.stringValue ?? "") + rest)
            c["function"] = .object(function)
            calls[i] = .object(c)
            return calls
        }
        calls.append(["index": .int(toolCall), "function": ["arguments": .string(rest)]])
        return calls
    }

    /// The usage chunk to send when the client asked for usage and the upstream sent none (llama.cpp's server
    /// ignores `stream_options`): the counts are Trellis's estimate.
    public func synthesizedUsageFrame(usage: TokenUsage) -> [UInt8]? {
        guard clientWantsUsage, self.usage == nil else { return nil }
        let chunk: JSONValue = [
            "id": lastID.value, "object": "chat.completion.chunk", "created": lastCreated.value, "model": .string(clientModel),
            "choices": [], "usage": usage.json,
        ]
        return SSEWriter.frame(chunk)
    }

    /// Completion tokens estimated from what was relayed: one per content chunk for servers that stream a
    /// token per chunk, otherwise the larger of that and the text-based estimate.
    public func estimatedCompletion(oneTokenPerChunk: Bool) -> Int {
        oneTokenPerChunk ? contentChunks : max(contentChunks, estimatedCompletionTokens)
    }

    /// The stream ended properly: a finish reason was seen, or the upstream sent `[DONE]`.
    public var completed: Bool { sawDone || finishReason != nil }
}
