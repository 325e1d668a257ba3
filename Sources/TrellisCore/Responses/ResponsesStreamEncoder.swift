import OpenAIWire

/// Turns a rewritten chat stream into the Responses API's typed events, in the order the official SDKs read them:
/// `response.created` and `response.in_progress` first; per text answer `response.output_item.added`,
/// `response.content_part.added`, `response.output_text.delta`…, `response.output_text.annotation.added` (RAG
/// citations), `response.output_text.done`, `response.content_part.done`, `response.output_item.done`; per function
/// call `response.output_item.added`, `response.function_call_arguments.delta`…, `response.function_call_arguments.done`,
/// `response.output_item.done`; then `response.completed` (or `response.incomplete` when the length limit cut it, or
/// `error` and `response.failed` when it broke). Every event carries `sequence_number`, counting from 0. Only the first
/// choice is answered (the Responses API has no `n`).
public struct ResponsesStreamEncoder: StreamEncoder {
    public let shell: ResponseShell
    private var sequence = 0
    private var started = false
    /// Output items finished, by output index.
    private var output: [JSONValue] = []
    private var text: OpenText?
    /// Function calls being streamed, by their chat `index`.
    private var calls: [Int: OpenCall] = [:]
    private var callOrder: [Int] = []
    /// The response object as the stream left it (completed, incomplete or failed), to keep when `store` is on.
    public private(set) var final: JSONObject?

    private struct OpenText {
        var outputIndex: Int
        var id: String
        var text = ""
    }

    private struct OpenCall {
        var outputIndex: Int
        var id: String
        var callID: String
        var name: String
        var arguments = ""
    }

    public init(shell: ResponseShell) {
        self.shell = shell
    }

    public mutating func encode(_ event: ChatStreamRewriter.Rewritten, upstreamError: OpenAIError?) -> [UInt8] {
        var out = start()
        var event = event
        if case .bytes(let json) = event, case .object(let chunk)? = try? JSONParser.parse(json) {
            // Not sent here (``takesChunkBytes`` is false), but read as what it is if it were.
            event = .chunk(chunk)
        }
        switch event {
        case .chunk(let chunk):
            guard let choice = chunk[ChatField.choices]?.arrayValue?.first(where: { ($0["index"]?.numberValue?.intValue ?? 0) == 0 }),
                case .object(let delta)? = choice["delta"]
            else { break }
            if case .string(let piece)? = delta["content"], !piece.isEmpty { out += textDelta(piece) }
            for (position, call) in (delta["tool_calls"]?.arrayValue ?? []).enumerated() { out += callDelta(call, position: position) }
        case .error:
            // The answer stops here: what was open is left incomplete before the error, as when the stream breaks.
            let error =
                upstreamError ?? OpenAIError(message: "The model server sent an error.", type: "server_error", param: nil, code: "upstream_error")
            out += closeAll(status: "incomplete")
            out += errorEvent(error)
        case .nothing, .other, .bytes:
            break
        }
        return out
    }

    public mutating func finish(rewriter: ChatStreamRewriter, estimatedUsage: TokenUsage) -> [UInt8] {
        var out = start()
        out += closeAll(status: rewriter.upstreamError == nil ? "completed" : "incomplete")
        let usage = rewriter.usage ?? estimatedUsage
        if let error = rewriter.upstreamError {
            let response = shell.object(status: "failed", output: output, usage: usage, error: Self.errorJSON(error))
            out += emit("response.failed", ["response": .object(response)])
            final = response
        } else if rewriter.finishReason == "length" {
            let response = shell.object(status: "incomplete", output: output, usage: usage, incomplete: ["reason": "max_output_tokens"])
            out += emit("response.incomplete", ["response": .object(response)])
            final = response
        } else {
            let response = shell.object(status: "completed", output: output, usage: usage)
            out += emit("response.completed", ["response": .object(response)])
            final = response
        }
        return out
    }

    public mutating func fail(_ error: OpenAIError, rewriter: ChatStreamRewriter, estimatedUsage: TokenUsage) -> [UInt8] {
        var out = start()
        out += closeAll(status: "incomplete")
        out += errorEvent(error)
        let response = shell.object(status: "failed", output: output, usage: rewriter.usage ?? estimatedUsage, error: Self.errorJSON(error))
        out += emit("response.failed", ["response": .object(response)])
        final = response
        return out
    }

    // MARK: Events

    private mutating func start() -> [UInt8] {
        guard !started else { return [] }
        started = true
        let response = JSONValue.object(shell.object(status: "in_progress"))
        return emit("response.created", ["response": response]) + emit("response.in_progress", ["response": response])
    }

    private mutating func textDelta(_ piece: String) -> [UInt8] {
        var out: [UInt8] = []
        if text == nil {
            // Text after a function call: the calls before it are finished, so output stays in output_index order.
            out += closeCalls(status: "completed")
            let open = OpenText(outputIndex: output.count + calls.count, id: shell.itemID("msg", output.count + calls.count))
            text = open
            let item: JSONValue = ["id": .string(open.id), "type": "message", "status": "in_progress", "role": "assistant", "content": []]
            out += emit("response.output_item.added", ["output_index": .int(open.outputIndex), "item": item])
            out += emit(
                "response.content_part.added",
                ["item_id": .string(open.id), "output_index": .int(open.outputIndex), "content_index": 0, "part": shell.outputText("", annotated: false)])
        }
        guard var open = text else { return out }
        open.text += piece
        text = open
        out += emit(
            "response.output_text.delta",
            ["item_id": .string(open.id), "output_index": .int(open.outputIndex), "content_index": 0, "delta": .string(piece), "logprobs": []])
        return out
    }

    private mutating func callDelta(_ call: JSONValue, position: Int) -> [UInt8] {
        var out: [UInt8] = []
        let index = call["index"]?.numberValue?.intValue ?? position
        let function = call["function"]?.objectValue ?? JSONObject()
        if calls[index] == nil {
            // A call starts: the text before it is finished.
            out += closeText(status: "completed")
            let outputIndex = output.count + calls.count
            let open = OpenCall(
                outputIndex: outputIndex, id: shell.itemID("fc", outputIndex), callID: call["id"]?.stringValue ?? shell.itemID("call", outputIndex),
                name: function["name"]?.stringValue ?? "")
            calls[index] = open
            callOrder.append(index)
            let item = shell.functionCallItem(id: open.id, callID: open.callID, name: open.name, arguments: "", status: "in_progress")
            out += emit("response.output_item.added", ["output_index": .int(outputIndex), "item": item])
        }
        guard var open = calls[index] else { return out }
        if open.name.isEmpty, case .string(let name)? = function["name"] { open.name = name }
        if case .string(let piece)? = function["arguments"], !piece.isEmpty {
            open.arguments += piece
            out += emit(
                "response.function_call_arguments.delta", ["item_id": .string(open.id), "output_index": .int(open.outputIndex), "delta": .string(piece)])
        }
        calls[index] = open
        return out
    }

    private mutating func closeAll(status: String) -> [UInt8] {
        closeText(status: status) + closeCalls(status: status)
    }

    private mutating func closeCalls(status: String) -> [UInt8] {
        var out: [UInt8] = []
        for index in callOrder {
            guard let call = calls.removeValue(forKey: index) else { continue }
            out += emit(
                "response.function_call_arguments.done",
                ["item_id": .string(call.id), "output_index": .int(call.outputIndex), "name": .string(call.name), "arguments": .string(call.arguments)])
            let item = shell.functionCallItem(id: call.id, callID: call.callID, name: call.name, arguments: call.arguments, status: status)
            output.append(item)
            out += emit("response.output_item.done", ["output_index": .int(call.outputIndex), "item": item])
        }
        callOrder.removeAll()
        return out
    }

    private mutating func closeText(status: String) -> [UInt8] {
        guard let open = text else { return [] }
        text = nil
        var out: [UInt8] = []
        let at: JSONObject = ["item_id": .string(open.id), "output_index": .int(open.outputIndex), "content_index": 0]
        for (i, annotation) in shell.annotations(for: open.text).enumerated() {
            out += emit("response.output_text.annotation.added", at.merging(["annotation_index": .int(i), "annotation": annotation]))
        }
        out += emit("response.output_text.done", at.merging(["text": .string(open.text), "logprobs": []]))
        let part = shell.outputText(open.text)
        out += emit("response.content_part.done", at.merging(["part": part]))
        let item = shell.messageItem(id: open.id, text: open.text, status: status)
        output.append(item)
        out += emit("response.output_item.done", ["output_index": .int(open.outputIndex), "item": item])
        return out
    }

    private mutating func errorEvent(_ error: OpenAIError) -> [UInt8] {
        emit("error", ["code": .optionalString(error.code), "message": .string(error.message), "param": .optionalString(error.param)])
    }

    /// One event: its `type`, its fields, and the next `sequence_number`.
    private mutating func emit(_ type: String, _ fields: JSONObject) -> [UInt8] {
        var event = JSONObject()
        event.appendUnchecked("type", .string(type))
        for member in fields { event.appendUnchecked(member.key, member.value) }
        event.appendUnchecked("sequence_number", .int(sequence))
        sequence += 1
        return SSEWriter.frame(.object(event), event: type)
    }

    static func errorJSON(_ error: OpenAIError) -> JSONValue {
        ["code": .string(error.code ?? "server_error"), "message": .string(error.message)]
    }
}

extension JSONObject {
    /// This object with `other`'s members set over it.
    func merging(_ other: JSONObject) -> JSONObject {
        var out = self
        for member in other { out[member.key] = member.value }
        return out
    }
}
