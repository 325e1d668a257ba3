import OpenAIWire
import Testing
import TrellisCore

@Suite("Responses API: requests to chat, chat streams to typed events")
struct ResponsesTranslationTests {
    static func parse(_ body: JSONValue) throws -> ResponsesRequest {
        try ResponsesRequest.parse(body)
    }

    @Test("input items become chat messages: parts, earlier answers, function calls joined to the assistant turn, their outputs")
    func inputItems() throws {
        let request = try Self.parse([
            "model": "m", "instructions": "Be brief.",
            "input": [
                ["role": "user", "content": [["type": "input_text", "text": "Look"], ["type": "input_image", "image_url": "data:image/png;base64,AA"]]],
                [
                    "type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                    "content": [["type": "output_text", "text": "Let me check.", "annotations": [], "logprobs": []]],
                ],
                ["type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "lookup", "arguments": "{}", "status": "completed"],
                ["type": "function_call", "call_id": "call_2", "name": "lookup", "arguments": "{\"a\":1}"],
                ["type": "function_call_output", "call_id": "call_1", "output": [["type": "input_text", "text": "found"]]],
                ["content": "thanks", "role": "user"],
            ],
        ])
        let messages = try #require(request.chatBody()["messages"]?.arrayValue)
        #expect(messages.count == 5)
        #expect(messages[0] == ["role": "system", "content": "Be brief."])
        #expect(messages[1]["content"]?.arrayValue?[1] == ["type": "image_url", "image_url": ["url": "data:image/png;base64,AA"]])
        #expect(messages[2]["content"]?.stringValue == "Let me check.")
        #expect(messages[2]["tool_calls"]?.arrayValue?.map { $0["id"]?.stringValue } == ["call_1", "call_2"], "both calls join the assistant turn")
        #expect(messages[3] == ["role": "tool", "tool_call_id": "call_1", "content": "found"])
        #expect(messages[4] == ["role": "user", "content": "thanks"])
    }

    @Test("history comes between the instructions and the new input; chat fields map across")
    func chatBody() throws {
        let request = try Self.parse([
            "model": "m@2", "input": "now", "instructions": "I", "max_output_tokens": 9, "top_p": 0.5, "stream": true,
            "text": ["format": ["type": "json_schema", "name": "out", "schema": ["type": "object"], "strict": true]],
            "tool_choice": ["type": "function", "name": "f"], "tools": [["type": "function", "name": "f", "parameters": ["type": "object"]]],
            "parallel_tool_calls": false, "variables": ["city": "Paris"],
        ])
        let body = request.chatBody(history: [["role": "user", "content": "before"]])
        #expect(body["model"]?.stringValue == "m@2")
        #expect(body["messages"]?.arrayValue?.compactMap { $0["content"]?.stringValue } == ["I", "before", "now"])
        #expect(body["max_tokens"] == 9)
        #expect(body["top_p"]?.numberValue?.doubleValue == 0.5)
        #expect(body["stream"] == true)
        #expect(body["response_format"] == ["type": "json_schema", "json_schema": ["name": "out", "schema": ["type": "object"], "strict": true]])
        #expect(body["tool_choice"] == ["type": "function", "function": ["name": "f"]])
        #expect(body["tools"] == [["type": "function", "function": ["name": "f", "parameters": ["type": "object"]]]])
        #expect(body["parallel_tool_calls"] == false)
        #expect(body["variables"] == ["city": "Paris"])
        #expect(request.echo["tools"] == [["type": "function", "name": "f", "parameters": ["type": "object"]]])
    }

    @Test("the neutral values of unserved features pass: include [], truncation disabled, background false, reasoning null")
    func neutralValues() throws {
        let request = try Self.parse([
            "model": "m", "input": "x", "include": [], "truncation": "disabled", "background": false, "reasoning": .null, "service_tier": "auto",
            "store": false, "prompt_cache_key": "k", "tools": [],
        ])
        #expect(request.store == false)
        #expect(request.chatBody()["tools"] == nil, "an empty tool list sends none")
    }

    static let shell = ResponseShell(
        id: "resp_00ff", createdAt: 1_800_000_000, model: "claims",
        request: try! ResponsesRequest.parse(["model": "claims", "input": "x"]),
        citations: [["index": 1, "document_id": "doc_1", "title": "Policy"]])

    static func chunk(_ delta: JSONValue, finish: String? = nil) -> ChatStreamRewriter.Rewritten {
        .chunk(["choices": [["index": 0, "delta": delta, "finish_reason": finish.map { .string($0) } ?? .null]]])
    }

    static func events(_ bytes: [UInt8]) throws -> [JSONValue] {
        var parser = SSEParser()
        return try parser.feed(bytes).map { try JSONParser.parse($0.data) }
    }

    @Test("text then a tool call: the text item is finished before the call's item is added; citations are annotations")
    func textThenCall() throws {
        var encoder = ResponsesStreamEncoder(shell: Self.shell)
        let rewriter = ChatStreamRewriter(clientModel: "claims", clientWantsUsage: false)
        var bytes = encoder.encode(Self.chunk(["content": "See [1]."]), upstreamError: rewriter.upstreamError)
        bytes += encoder.encode(
            Self.chunk(["tool_calls": [["index": 0, "id": "call_9", "function": ["name": "f", "arguments": "{}"]]]]), upstreamError: rewriter.upstreamError)
        bytes += encoder.finish(rewriter: rewriter, estimatedUsage: TokenUsage(promptTokens: 3, completionTokens: 2))
        let events = try Self.events(bytes)
        let types = events.compactMap { $0["type"]?.stringValue }
        #expect(
            types == [
                "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added", "response.output_text.delta",
                "response.output_text.annotation.added", "response.output_text.done", "response.content_part.done", "response.output_item.done",
                "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done",
                "response.output_item.done", "response.completed",
            ])
        let annotation = try #require(events.first { $0["type"] == "response.output_text.annotation.added" }?["annotation"])
        #expect(annotation == ["type": "file_citation", "file_id": "doc_1", "filename": "Policy", "index": 7], "just after the [1]")
        let final = try #require(encoder.final)
        #expect(final["output"]?.arrayValue?.map { $0["type"]?.stringValue } == ["message", "function_call"])
        #expect(final["output"]?.arrayValue?[1]["call_id"]?.stringValue == "call_9")
        #expect(final["usage"]?["total_tokens"] == 5, "the estimate stands in for unreported usage")
        #expect(events.map { $0["sequence_number"]?.numberValue?.intValue } == Array(0..<events.count))
    }

    @Test("text after a function call finishes the call first, so the output keeps output_index order")
    func callThenText() throws {
        var encoder = ResponsesStreamEncoder(shell: Self.shell)
        let rewriter = ChatStreamRewriter(clientModel: "claims", clientWantsUsage: false)
        var bytes = encoder.encode(
            Self.chunk(["tool_calls": [["index": 0, "id": "call_1", "function": ["name": "f", "arguments": "{}"]]]]), upstreamError: rewriter.upstreamError)
        bytes += encoder.encode(Self.chunk(["content": "done"]), upstreamError: rewriter.upstreamError)
        bytes += encoder.finish(rewriter: rewriter, estimatedUsage: TokenUsage(promptTokens: 1, completionTokens: 1))
        let events = try Self.events(bytes)
        let done = events.filter { $0["type"] == "response.output_item.done" }.compactMap { $0["output_index"]?.numberValue?.intValue }
        #expect(done == [0, 1])
        let output = try #require(encoder.final?["output"]?.arrayValue)
        #expect(output.map { $0["type"]?.stringValue } == ["function_call", "message"])
    }

    @Test("a length cut is response.incomplete; a failure closes open items, then error and response.failed")
    func endings() throws {
        let rewriter = ChatStreamRewriter(clientModel: "claims", clientWantsUsage: false)
        var cut = ResponsesStreamEncoder(shell: Self.shell)
        var rewriterCut = rewriter
        _ = rewriterCut.rewrite(SSEEvent(data: #"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#))
        _ = cut.encode(Self.chunk(["content": "abc"]), upstreamError: rewriterCut.upstreamError)
        let cutEvents = try Self.events(cut.finish(rewriter: rewriterCut, estimatedUsage: TokenUsage(promptTokens: 1, completionTokens: 1)))
        #expect(cutEvents.last?["type"] == "response.incomplete")
        #expect(cut.final?["incomplete_details"] == ["reason": "max_output_tokens"])

        var broken = ResponsesStreamEncoder(shell: Self.shell)
        _ = broken.encode(Self.chunk(["content": "par"]), upstreamError: rewriter.upstreamError)
        let error = OpenAIError(message: "The model server ended the stream early.", type: "server_error", code: "upstream_stream_broken")
        let events = try Self.events(broken.fail(error, rewriter: rewriter, estimatedUsage: TokenUsage(promptTokens: 1, completionTokens: 1)))
        #expect(
            events.compactMap { $0["type"]?.stringValue } == [
                "response.output_text.annotation.added", "response.output_text.done", "response.content_part.done", "response.output_item.done", "error",
                "response.failed",
            ])
        #expect(events[3]["item"]?["status"] == "incomplete")
        #expect(events[0]["annotation"]?["index"] == 3, "a passage the text never cites by number is annotated at its end")
        #expect(broken.final?["status"] == "failed")
        #expect(broken.final?["error"] == ["code": "upstream_stream_broken", "message": "The model server ended the stream early."])
    }

    @Test("an error event from the upstream mid-answer leaves the open items incomplete before the error, then response.failed")
    func upstreamErrorEvent() throws {
        var rewriter = ChatStreamRewriter(clientModel: "claims", clientWantsUsage: false)
        var encoder = ResponsesStreamEncoder(shell: Self.shell)
        var bytes: [UInt8] = []
        for data in [
            #"{"choices":[{"index":0,"delta":{"content":"par"}}]}"#,
            #"{"error":{"message":"out of memory","type":"server_error","code":"oom"}}"#,
        ] {
            let (rewritten, _) = rewriter.rewrite(SSEEvent(data: data))
            bytes += encoder.encode(rewritten, upstreamError: rewriter.upstreamError)
        }
        bytes += encoder.finish(rewriter: rewriter, estimatedUsage: TokenUsage(promptTokens: 1, completionTokens: 1))
        let types = try Self.events(bytes).compactMap { $0["type"]?.stringValue }
        let error = try #require(types.firstIndex(of: "error"))
        let itemDone = try #require(types.firstIndex(of: "response.output_item.done"))
        #expect(itemDone < error, "the open message is finished before the error event")
        #expect(types.last == "response.failed")
        #expect(types.filter { $0 == "error" }.count == 1)
        #expect(encoder.final?["output"]?.arrayValue?.first?["status"] == "incomplete")
        #expect(encoder.final?["error"]?["code"] == "oom")
    }
}
