import OpenAIWire

/// Frames a rewritten chat stream for the client's API: the chat completions API's own chunks, or the Responses
/// API's typed events (``ResponsesStreamEncoder``). The relay (`StreamSession`) reads, rewrites and paces the same
/// way for both; only the bytes differ.
public protocol StreamEncoder: Sendable {
    /// The bytes for one rewritten upstream event (possibly none); `upstreamError` is the rewriter's, for an error event.
    mutating func encode(_ event: ChatStreamRewriter.Rewritten, upstreamError: OpenAIError?) -> [UInt8]
    /// The last bytes of a stream that ended properly. `estimatedUsage` stands in when the upstream reported none.
    mutating func finish(rewriter: ChatStreamRewriter, estimatedUsage: TokenUsage) -> [UInt8]
    /// The last bytes of a stream that ends with `error` (the upstream broke it, or the gateway is shutting down).
    mutating func fail(_ error: OpenAIError, rewriter: ChatStreamRewriter, estimatedUsage: TokenUsage) -> [UInt8]
    /// Whether chunks may reach ``encode(_:upstreamError:)`` as their own bytes (``ChatStreamRewriter/Rewritten/bytes(_:)``).
    var takesChunkBytes: Bool { get }
}

extension StreamEncoder {
    public var takesChunkBytes: Bool { false }
}

/// The chat completions API's framing: each chunk as a `data:` event; a usage chunk when the client asked for one
/// and the upstream sent none; an error as an `{"error": …}` event; `[DONE]` at the end either way.
public struct ChatStreamEncoder: StreamEncoder {
    public init() {}

    public static func frame(_ event: ChatStreamRewriter.Rewritten) -> [UInt8] {
        switch event {
        case .nothing: []
        case .chunk(let chunk), .error(let chunk): SSEWriter.frame(.object(chunk))
        case .other(let event): SSEWriter.frame(text: event.data, event: event.event)
        case .bytes(let json): SSEWriter.frame(json: json)
        }
    }

    public var takesChunkBytes: Bool { true }

    public func encode(_ event: ChatStreamRewriter.Rewritten, upstreamError: OpenAIError?) -> [UInt8] {
        Self.frame(event)
    }

    public func finish(rewriter: ChatStreamRewriter, estimatedUsage: TokenUsage) -> [UInt8] {
        (rewriter.synthesizedUsageFrame(usage: estimatedUsage) ?? []) + SSEWriter.done
    }

    public func fail(_ error: OpenAIError, rewriter: ChatStreamRewriter, estimatedUsage: TokenUsage) -> [UInt8] {
        SSEWriter.frame(error.json) + SSEWriter.done
    }
}
