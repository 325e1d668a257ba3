import OpenAIWire
import Testing
import TrellisCore

/// An upstream chunk as OpenAI-compatible servers send it.
private func chunk(
    content: String? = nil, finish: String? = nil, model: String = "smollm2-135m-q8", usage: JSONValue? = nil, choices: Bool = true
) -> SSEEvent {
    var delta = JSONObject()
    if let content { delta["content"] = .string(content) }
    var o: JSONObject = [
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": .string(model),
    ]
    if choices {
        o["choices"] = [["index": 0, "delta": .object(delta), "finish_reason": finish.map { .string($0) } ?? .null]]
    } else {
        o["choices"] = []
    }
    if let usage { o["usage"] = usage }
    return SSEEvent(data: JSONWriter.string(.object(o)))
}

/// The events in the bytes the rewriter produced, each parsed as JSON when it is JSON.
private func decode(_ frame: [UInt8]) throws -> [JSONValue] {
    var parser = SSEParser()
    return try parser.feed(frame).map { try JSONParser.parse($0.data) }
}

private func single(_ frame: [UInt8]) throws -> JSONObject {
    let events = try decode(frame)
    try #require(events.count == 1)
    return try #require(events[0].objectValue)
}

private let usageJSON: JSONValue = ["prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18]

@Suite("ChatStreamRewriter")
struct ChatStreamRewriterTests {
    @Test("the model field becomes the name the client called; everything else is kept")
    func modelRewritten() throws {
        var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: false)
        let (frame, hasContent) = rewriter.process(chunk(content: "Hello"))
        let out = try single(frame)
        #expect(out["model"] == "assistant")
        #expect(out["id"] == "chatcmpl-1")
        #expect(out["choices"]?.arrayValue?.first?["delta"]?["content"] == "Hello")
        #expect(out.keys == ["id", "object", "created", "model", "choices"])
        #expect(hasContent)
        #expect(rewriter.chunks == 1)
        #expect(rewriter.contentChunks == 1)
    }

    @Test("a chunk without a model field does not gain one")
    func noModelField() throws {
        var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: false)
        let (frame, _) = rewriter.process(SSEEvent(data: #"{"choices":[{"index":0,"delta":{"content":"x"}}]}"#))
        #expect(try single(frame)["model"] == nil)
    }

    @Test("client did not ask for usage: the usage-only chunk is dropped, but its counts are kept")
    func usageChunkDropped() throws {
        var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: false)
        _ = rewriter.process(chunk(content: "Hi"))
        let (frame, hasContent) = rewriter.process(chunk(usage: usageJSON, choices: false))
        #expect(frame.isEmpty)
        #expect(!hasContent)
        #expect(rewriter.usage == TokenUsage(promptTokens: 11, completionTokens: 7))
    }

    @Test("client did not ask for usage: a usage key on a content chunk is removed, the content kept")
    func usageKeyRemoved() throws {
        var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: false)
        let (frame, _) = rewriter.process(chunk(content: "last", finish: "stop", usage: usageJSON))
        let out = try single(frame)
        #expect(out["usage"] == nil)
        #expect(out["choices"]?.arrayValue?.first?["delta"]?["content"] == "last")
        #expect(rewriter.usage == TokenUsage(promptTokens: 11, completionTokens: 7))
        // `"usage": null` (vLLM sends it on every chunk) is removed too.
        let (nullFrame, _) = rewriter.process(chunk(content: "x", usage: .null))
        #expect(try single(nullFrame)["usage"] == nil)
    }

    @Test("client asked for usage: `\"usage\": null` on every content chunk, and the usage chunk passed on")
    func usageNullAdded() throws {
        var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: true)
        for text in ["a", "b"] {
            let out = try single(rewriter.process(chunk(content: text)).frame)
            #expect(out.keys.contains("usage"))
            #expect(out["usage"] == .null)
        }
        let last = try single(rewriter.process(chunk(usage: usageJSON, choices: false)).frame)
        #expect(last["usage"] == usageJSON)
        #expect(last["model"] == "assistant")
        #expect(last["choices"] == [])
        #expect(rewriter.usage == TokenUsage(promptTokens: 11, completionTokens: 7))
    }

    @Test("[DONE] is held back and recorded")
    func done() {
        var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: true)
        #expect(!rewriter.sawDone)
        #expect(!rewriter.completed)
        let (frame, hasContent) = rewriter.process(SSEEvent(data: "[DONE]"))
        #expect(frame.isEmpty)
        #expect(!hasContent)
        #expect(rewriter.sawDone)
        #expect(rewriter.completed)
        #expect(rewriter.chunks == 0)
    }

    @Test("the finish reason is recorded and marks the stream complete")
    func finishReason() {
        var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: false)
        _ = rewriter.process(chunk(content: "a"))
        #expect(rewriter.finishReason == nil)
        #expect(!rewriter.completed)
        _ = rewriter.process(chunk(finish: "length"))
        #expect(rewriter.finishReason == "length")
        #expect(rewriter.completed)
    }

    @Test("data that is not JSON is passed on as it came, event type included")
    func nonJSON() throws {
        var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: false)
        for event in [SSEEvent(data: "hello"), SSEEvent(event: "ping", data: "line 1\nline 2"), SSEEvent(data: "{broken"), SSEEvent(data: "")] {
            let (frame, hasContent) = rewriter.process(event)
            var parser = SSEParser()
            #expect(try parser.feed(frame) == [event])
            #expect(!hasContent)
        }
        #expect(rewriter.chunks == 0)
    }

    @Test("JSON that is not an object is passed on unchanged")
    func nonObjectJSON() throws {
        var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: true)
        let (frame, _) = rewriter.process(SSEEvent(data: "[1,2]"))
        var parser = SSEParser()
        #expect(try parser.feed(frame) == [SSEEvent(data: "[1,2]")])
    }

    @Test("first-chunk extras are added to the first chunk only")
    func firstChunkExtras() throws {
        let citations: JSONValue = [["index": 1, "document_id": "doc_1", "title": "政策", "chunk_id": "c1", "score": 0.9, "snippet": "…"]]
        var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: false, firstChunkExtras: ["citations": citations])
        let first = try single(rewriter.process(chunk(content: "a")).frame)
        #expect(first["citations"] == citations)
        for text in ["b", "c"] {
            #expect(try single(rewriter.process(chunk(content: text)).frame)["citations"] == nil)
        }
    }

    @Test("first-chunk extras wait for the first chunk that is sent, not the first event")
    func extrasAfterNonChunks() throws {
        var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: false, firstChunkExtras: ["citations": []])
        _ = rewriter.process(SSEEvent(data: "not json"))
        let first = try single(rewriter.process(chunk(content: "a")).frame)
        #expect(first["citations"] == [])
    }

    @Test("synthesized usage: only when the client asked and the upstream sent none")
    func synthesized() throws {
        let estimate = TokenUsage(promptTokens: 20, completionTokens: 5)

        var notAsked = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: false)
        _ = notAsked.process(chunk(content: "a"))
        #expect(notAsked.synthesizedUsageFrame(usage: estimate) == nil)

        var reported = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: true)
        _ = reported.process(chunk(content: "a"))
        _ = reported.process(chunk(usage: usageJSON, choices: false))
        #expect(reported.synthesizedUsageFrame(usage: estimate) == nil)

        var silent = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: true)
        _ = silent.process(chunk(content: "a"))
        let frame = try #require(silent.synthesizedUsageFrame(usage: estimate))
        let out = try single(frame)
        #expect(out["model"] == "assistant")
        #expect(out["object"] == "chat.completion.chunk")
        #expect(out["id"] == "chatcmpl-1")  // the stream's own id
        #expect(out["created"] == 1_700_000_000)
        #expect(out["choices"] == [])
        #expect(TokenUsage(json: out["usage"]) == estimate)
        #expect(out["usage"]?["total_tokens"] == 25)
    }

    @Test("an upstream error event is recorded and relayed")
    func upstreamError() throws {
        var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: false)
        let (frame, _) = rewriter.process(SSEEvent(data: #"{"error":{"message":"context length exceeded","type":"invalid_request_error","code":400}}"#))
        #expect(rewriter.upstreamError?.message == "context length exceeded")
        #expect(rewriter.upstreamError?.code == "400")
        #expect(try single(frame)["error"]?["message"] == "context length exceeded")
    }

    @Test("completion estimates: one token per content chunk, or the text estimate when larger")
    func estimatedCompletion() {
        var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: false)
        let long = String(repeating: "word ", count: 40)  // 200 ASCII characters: 50 estimated tokens
        _ = rewriter.process(chunk(content: long))
        _ = rewriter.process(chunk(content: "你好"))  // 2 CJK characters: 2 tokens
        _ = rewriter.process(chunk(content: ""))  // empty: no content
        _ = rewriter.process(chunk(finish: "stop"))
        #expect(rewriter.contentChunks == 2)
        #expect(rewriter.estimatedCompletionTokens == 52)
        #expect(rewriter.estimatedCompletion(oneTokenPerChunk: true) == 2)
        #expect(rewriter.estimatedCompletion(oneTokenPerChunk: false) == 52)

        var chatty = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: false)
        for _ in 0..<10 { _ = chatty.process(chunk(content: "a")) }  // 10 chunks of 1 estimated token each
        #expect(chatty.estimatedCompletion(oneTokenPerChunk: false) == 10)
    }

    @Test("reasoning content and tool calls count as content")
    func otherContent() {
        var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: false)
        let reasoning = SSEEvent(data: #"{"model":"x","choices":[{"index":0,"delta":{"reasoning_content":"think"}}]}"#)
        #expect(rewriter.process(reasoning).hasContent)
        let tool = SSEEvent(data: #"{"model":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}}]}"#)
        #expect(rewriter.process(tool).hasContent)
        let role = SSEEvent(data: #"{"model":"x","choices":[{"index":0,"delta":{"role":"assistant"}}]}"#)
        #expect(!rewriter.process(role).hasContent)
        #expect(rewriter.contentChunks == 2)
    }

    @Test("a whole stream, as the client sees it without and with usage")
    func wholeStream() throws {
        let upstream = [
            chunk(content: "Hel"), chunk(content: "lo"), chunk(finish: "stop"), chunk(usage: usageJSON, choices: false),
            SSEEvent(data: "[DONE]"),
        ]
        var plain = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: false)
        let plainOut = try upstream.flatMap { try decode(plain.process($0).frame) }
        #expect(plainOut.count == 3)
        #expect(plainOut.allSatisfy { $0["usage"] == nil && $0["model"] == "assistant" })
        #expect(plain.usage == TokenUsage(promptTokens: 11, completionTokens: 7))

        var withUsage = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: true)
        let usageOut = try upstream.flatMap { try decode(withUsage.process($0).frame) }
        #expect(usageOut.count == 4)
        #expect(usageOut.prefix(3).allSatisfy { $0["usage"] == .null })
        #expect(usageOut.last?["usage"] == usageJSON)
        #expect(withUsage.sawDone)
    }

    @Test("restoring masked data: each choice keeps its own held-back text; a null content stays null")
    func restoresPerChoice() throws {
        var session = try PIIMasker().session()
        _ = session.mask("a 13812345678 b zhang@example.com")
        var rewriter = ChatStreamRewriter(clientModel: "m", clientWantsUsage: false)
        rewriter.restorer = session.restorer()
        func content(_ data: String) -> [String?] {
            let (frame, _) = rewriter.process(SSEEvent(data: data))
            var parser = SSEParser()
            let events = (try? parser.feed(frame)) ?? []
            let chunk = events.first.flatMap { try? JSONParser.parse($0.data) }
            return chunk?["choices"]?.arrayValue?.map { $0["delta"]?["content"]?.stringValue } ?? []
        }
        #expect(content(#"{"choices":[{"index":0,"delta":{"content":"call [PHO"}},{"index":1,"delta":{"content":"mail [EMA"}}]}"#) == ["call ", "mail "])
        #expect(content(#"{"choices":[{"index":1,"delta":{"content":"IL_1] ok"}}]}"#) == ["zhang@example.com ok"])
        #expect(content(#"{"choices":[{"index":0,"delta":{"content":"NE_1]"}}]}"#) == ["13812345678"])
        #expect(content(#"{"choices":[{"index":0,"delta":{"content":" [PH"},"finish_reason":"stop"}]}"#) == [" [PH"], "held text flushed at the finish")
        let (frame, _) = rewriter.process(SSEEvent(data: #"{"choices":[{"index":1,"delta":{"content":null,"tool_calls":[]}}]}"#))
        #expect(String(decoding: frame, as: UTF8.self).contains(#""content":null"#))
    }
}
