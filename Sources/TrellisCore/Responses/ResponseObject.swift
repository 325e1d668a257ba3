import OpenAIWire

/// The Responses API's response object for one request, from the parts fixed when it was received (id, time,
/// model, the request's echoed settings, the knowledge citations) and the parts the answer brings (status, output
/// items, usage). The same shell serves a whole answer (``completed(from:)``) and a stream's events.
public struct ResponseShell: Sendable {
    /// `resp_` and the hex of the request id, so a response id and the `x-request-id` of its request name the same
    /// call (feedback takes either).
    public let id: String
    public let createdAt: Int
    /// The model as the client called it.
    public let model: String
    public let request: ResponsesRequest
    /// The RAG citations (`KnowledgeContext.citations`), as `file_citation` annotations on the output text.
    public let citations: [JSONValue]

    public init(id: String, createdAt: Int, model: String, request: ResponsesRequest, citations: [JSONValue] = []) {
        self.id = id
        self.createdAt = createdAt
        self.model = model
        self.request = request
        self.citations = citations
    }

    /// The response id for a request id (`req_…` → `resp_…`); nil for anything else.
    public static func responseID(requestID: String) -> String? {
        requestID.hasPrefix("req_") ? "resp_" + requestID.dropFirst(4) : nil
    }

    /// The request id for a response id (`resp_…` → `req_…`); nil for anything else.
    public static func requestID(responseID: String) -> String? {
        responseID.hasPrefix("resp_") ? "req_" + responseID.dropFirst(5) : nil
    }

    /// Ids of the output items: the response's own hex with a kind and a number, unique per response.
    public func itemID(_ kind: String, _ n: Int) -> String {
        "\(kind)_\(id.dropFirst(5))\(String(n, radix: 16))"
    }

    /// The response object in a state: `in_progress` (no output yet), `completed`, `incomplete`, `failed`.
    public func object(
        status: String, output: [JSONValue] = [], usage: TokenUsage? = nil, error: JSONValue = .null, incomplete: JSONValue = .null
    )
        -> JSONObject
    {
        let echo = request.echo
        var o = JSONObject()
        o.appendUnchecked("id", .string(id))
        o.appendUnchecked("object", "response")
        o.appendUnchecked("created_at", .int(createdAt))
        o.appendUnchecked("status", .string(status))
        o.appendUnchecked("background", false)
        o.appendUnchecked("error", error)
        o.appendUnchecked("incomplete_details", incomplete)
        o.appendUnchecked("instructions", .optionalString(request.instructions))
        o.appendUnchecked("max_output_tokens", echo["max_output_tokens"] ?? .null)
        o.appendUnchecked("max_tool_calls", .null)
        o.appendUnchecked("model", .string(model))
        o.appendUnchecked("output", .array(output))
        o.appendUnchecked("parallel_tool_calls", echo["parallel_tool_calls"] ?? true)
        o.appendUnchecked("previous_response_id", .optionalString(request.previousResponseID))
        o.appendUnchecked("reasoning", ["effort": .null, "summary": .null])
        o.appendUnchecked("service_tier", "default")
        o.appendUnchecked("store", .bool(request.store))
        o.appendUnchecked("temperature", echo["temperature"] ?? 1.0)
        o.appendUnchecked("text", echo["text"] ?? ["format": ["type": "text"]])
        o.appendUnchecked("tool_choice", echo["tool_choice"] ?? "auto")
        o.appendUnchecked("tools", echo["tools"] ?? [])
        o.appendUnchecked("top_logprobs", 0)
        o.appendUnchecked("top_p", echo["top_p"] ?? 1.0)
        o.appendUnchecked("truncation", "disabled")
        o.appendUnchecked("usage", usage.map(Self.usage) ?? .null)
        o.appendUnchecked("user", echo["user"] ?? .null)
        o.appendUnchecked("metadata", .object(request.metadata))
        return o
    }

    /// A whole chat completion (already restored and renamed) as the finished response object.
    public func completed(from completion: JSONObject) -> JSONObject {
        let choice = completion[ChatField.choices]?.arrayValue?.first
        let message = choice?["message"]?.objectValue ?? JSONObject()
        var output: [JSONValue] = []
        var n = 0
        if let text = message["content"]?.stringValue, !text.isEmpty || message["tool_calls"] == nil {
            output.append(messageItem(id: itemID("msg", n), text: text, status: "completed"))
            n += 1
        }
        for call in message["tool_calls"]?.arrayValue ?? [] {
            let function = call["function"]?.objectValue ?? JSONObject()
            output.append(
                functionCallItem(
                    id: itemID("fc", n), callID: call["id"]?.stringValue ?? itemID("call", n), name: function["name"]?.stringValue ?? "",
                    arguments: function["arguments"]?.stringValue ?? "", status: "completed"))
            n += 1
        }
        let finish = choice?["finish_reason"]?.stringValue
        let usage = TokenUsage(json: completion[ChatField.usage])
        if finish == "length" {
            return object(status: "incomplete", output: output, usage: usage, incomplete: ["reason": "max_output_tokens"])
        }
        return object(status: "completed", output: output, usage: usage)
    }

    /// An assistant message item with one `output_text` part.
    public func messageItem(id: String, text: String, status: String) -> JSONValue {
        ["id": .string(id), "type": "message", "status": .string(status), "role": "assistant", "content": [outputText(text)]]
    }

    /// The `output_text` part, with the citations as annotations once it is whole.
    public func outputText(_ text: String, annotated: Bool = true) -> JSONValue {
        ["type": "output_text", "text": .string(text), "annotations": .array(annotated ? annotations(for: text) : []), "logprobs": []]
    }

    public func functionCallItem(id: String, callID: String, name: String, arguments: String, status: String) -> JSONValue {
        [
            "id": .string(id), "type": "function_call", "status": .string(status), "call_id": .string(callID), "name": .string(name),
            "arguments": .string(arguments),
        ]
    }

    /// One `file_citation` per cited passage: `file_id` the document id, `filename` its title, `index` where the
    /// answer cites it (just after its first `[n]`), else the end of the text.
    public func annotations(for text: String) -> [JSONValue] {
        citations.map { citation in
            let number = citation["index"]?.numberValue?.intValue ?? 0
            var index = text.count
            if let range = text.firstRange(of: "[\(number)]") { index = text.distance(from: text.startIndex, to: range.upperBound) }
            return [
                "type": "file_citation", "file_id": citation["document_id"] ?? .null, "filename": citation["title"] ?? .null, "index": .int(index),
            ]
        }
    }

    /// Token counts in the Responses shape.
    public static func usage(_ usage: TokenUsage) -> JSONValue {
        [
            "input_tokens": .int(usage.promptTokens), "input_tokens_details": ["cached_tokens": 0, "cache_write_tokens": 0],
            "output_tokens": .int(usage.completionTokens),
            "output_tokens_details": ["reasoning_tokens": 0], "total_tokens": .int(usage.totalTokens),
        ]
    }

    /// Token counts read back from a response object's `usage`.
    public static func tokenUsage(of response: JSONObject) -> TokenUsage? {
        guard case .object(let usage)? = response["usage"], let input = usage["input_tokens"]?.numberValue?.intValue,
            let output = usage["output_tokens"]?.numberValue?.intValue
        else { return nil }
        return TokenUsage(promptTokens: input, completionTokens: output)
    }

    /// The output text of a response object's message items, joined.
    public static func outputText(of response: JSONObject) -> String {
        var text = ""
        for item in response["output"]?.arrayValue ?? [] where item["type"]?.stringValue == "message" {
            for part in item["content"]?.arrayValue ?? [] { text += part["text"]?.stringValue ?? "" }
        }
        return text
    }

    /// A response's output items as chat messages, for the conversation a later `previous_response_id` continues:
    /// one assistant message with the text and the tool calls.
    public static func chatMessages(output: [JSONValue]) -> [JSONValue] {
        var text: String?
        var calls: [JSONValue] = []
        for item in output {
            switch item["type"]?.stringValue {
            case "message":
                for part in item["content"]?.arrayValue ?? [] { text = (text ?? "") + (part["text"]?.stringValue ?? "") }
            case "function_call":
                calls.append([
                    "id": item["call_id"] ?? .null, "type": "function",
                    "function": ["name": item["name"] ?? .null, "arguments": item["arguments"] ?? .null],
                ])
            default:
                continue
            }
        }
        guard text != nil || !calls.isEmpty else { return [] }
        var message: JSONObject = ["role": "assistant", "content": .string(text ?? "")]
        if !calls.isEmpty { message["tool_calls"] = .array(calls) }
        return [.object(message)]
    }
}
