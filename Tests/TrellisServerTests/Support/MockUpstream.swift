import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import OpenAIWire
import Synchronization

/// A small OpenAI-compatible model server for the integration tests, on 127.0.0.1 port 0. What it does is
/// chosen by the `model` field of each request, so one server can echo, stream, stall and fail on purpose:
///
/// - `echo`: answers; the content is "echo:<last user message>"; reports usage.
/// - `no-usage`: as `echo`, without usage (non-stream) or usage chunk (stream).
/// - `fail-500`: 500 with an error message holding a fake file path.
/// - `fail-400`: 400 with an OpenAI-shaped error (code `context_length_exceeded`).
/// - `vllm-400`: 400 in vLLM's shape (`{"object":"error","message","type","code": 400}`).
/// - `fail-401`: 401 (a wrong upstream credential).
/// - `hang`: never answers until the caller goes away; records the cancellation.
/// - `slow-stream`: streams a chunk every 50 ms (`max_tokens` chunks, else 200); records when the writer fails.
///   `slower-stream`: the same at one chunk every 500 ms, for tests that must cut a stream short even on a
///   loaded machine.
/// - `break-stream`: streams two chunks (in one write), then drops the connection.
/// - `empty-stream`: answers 200 as an event stream and closes without any event.
/// - `flaky-<n>-<tag>`: the first `n` calls of that exact model answer 500; later ones behave as `echo`
///   (or the default stream).
/// - `vllm-500`: 500 in vLLM's shape, with an integer `code`.
/// - `stall-stream`: streams a first content chunk, then says nothing more until the caller goes away.
/// - `quiet-stream`: streams a first content chunk, then only SSE comments (every 100 ms, for two minutes), so
///   what it used does not depend on time; records when a write fails (the caller went away).
/// - `endless-event`: streams a first chunk, then `data:` lines that never reach the blank line ending an event
///   (64 MiB at once, then a short line every 100 ms for two minutes; records when a write fails).
/// - `big-stream`: streams `max_tokens` chunks of 16 KiB content each, without pauses.
/// - `echo-stream`: streams "echo:<last user message>" in pieces of three characters.
/// - `empty`, `refuse`, `refusal-field`: whole answers with no content, with refusal wording, and with the
///   message's `refusal` field set (for routers' cascades).
/// - `judge`: grades like an evaluation's judge: `{"score": 9, …}` when the candidate answer in the last user message
///   starts with "echo:", else `{"score": 1, …}`.
/// - `GET /v1/models` answers 503 while `modelsHealthy` is false (for the active health checks).
///
/// - a model named `lora-…` or `trellis.…`: a vLLM-style dynamic adapter; 404 (vLLM's "does not exist") until
///   `POST /v1/load_lora_adapter` has loaded it (a second load of a loaded name is refused, as vLLM does);
///   `GET /v1/models` lists loaded adapters with their path as `root`; `forgetAdapters()` simulates a restart.
///
/// Streams send `n` content chunks ("tok0", "tok1", …) where `n` is the request's `max_tokens` (default 3).
///
/// Embeddings: a model named `embed…` answers with `semanticVector` of each input (a 256-dimension hashed bag
/// of character bigrams, so texts that share words or Chinese bigrams are close), listed in reverse order with
/// their `index` (as the OpenAI format allows); any other model with a fixed 3-dimension vector. Every
/// embeddings call is recorded with its number of inputs (`embeddingCalls`).
final class MockUpstream: Sendable {
    struct Received: Sendable {
        var path: String
        var headers: HTTPFields
        var body: JSONValue
    }

    private let received = Mutex<[Received]>([])
    private let events = Mutex<[String]>([])
    private let eventStream: AsyncStream<String>
    private let eventContinuation: AsyncStream<String>.Continuation
    private let server = LocalServerState()
    /// Loaded adapters: served name → the path its weights came from.
    private let loadedAdapters = Mutex<[String: String]>([:])
    private let adapterLoads = Mutex<[String]>([])
    private let embeddingLog = Mutex<[EmbeddingCall]>([])
    private let callCounts = Mutex<[String: Int]>([:])
    private let healthy = Mutex(true)
    private let secure = Mutex(false)

    /// How many chat calls named `model`.
    func calls(_ model: String) -> Int { callCounts.withLock { $0[model] ?? 0 } }

    /// Whether `GET /v1/models` answers 200 (true) or 503.
    func setModelsHealthy(_ value: Bool) { healthy.withLock { $0 = value } }

    struct EmbeddingCall: Sendable, Equatable {
        var model: String
        var inputs: Int
    }

    /// Every `/v1/embeddings` call, in order: the model asked for and how many inputs it carried.
    var embeddingCalls: [EmbeddingCall] { embeddingLog.withLock { $0 } }

    static let embeddingDimensions = 256

    /// A deterministic "meaning" for `text`: lower-cased runs of letters and digits, each run's character
    /// bigrams (a one-character run: the character) hashed with FNV-1a into signed buckets (256: few collisions).
    static func semanticVector(_ text: String) -> [Double] {
        var vector = [Double](repeating: 0, count: embeddingDimensions)
        func add(_ feature: String) {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in feature.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3
            }
            vector[Int(hash % UInt64(embeddingDimensions))] += (hash >> 32) & 1 == 0 ? 1 : -1
        }
        var run: [Character] = []
        func flush() {
            if run.count == 1 { add(String(run[0])) }
            if run.count >= 2 { for i in 0..<(run.count - 1) { add(String(run[i]) + String(run[i + 1])) } }
            run.removeAll()
        }
        for c in text.lowercased() {
            if c.isLetter || c.isNumber { run.append(c) } else { flush() }
        }
        flush()
        return vector
    }

    /// The adapter names `load_lora_adapter` was called with, in order.
    var loads: [String] { adapterLoads.withLock { $0 } }

    /// The path the adapter served as `name` was loaded from, if it is loaded.
    func adapterPath(_ name: String) -> String? { loadedAdapters.withLock { $0[name] } }

    /// Loads an adapter as someone other than the gateway would (another client of the same server).
    func preload(name: String, path: String) { loadedAdapters.withLock { $0[name] = path } }

    /// Forgets every loaded adapter, as a restarted vLLM server would.
    func forgetAdapters() {
        loadedAdapters.withLock { $0.removeAll() }
    }

    init() {
        (eventStream, eventContinuation) = AsyncStream.makeStream()
    }

    var port: Int { server.port }

    var requests: [Received] { received.withLock { $0 } }
    var lastBody: JSONValue? { requests.last?.body }

    private func note(_ event: String) {
        events.withLock { $0.append(event) }
        eventContinuation.yield(event)
    }

    /// Waits (bounded) until the server has noted `event` `count` times (a test that repeats a step waits for its
    /// own occurrence, not an earlier one's).
    func waitFor(_ event: String, count: Int, timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if events.withLock({ $0.filter { $0 == event }.count }) >= count { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// Waits (bounded) until the server has noted `event`.
    /// The bound is generous (a loaded machine is slow, and only a missing event reaches it).
    func waitFor(_ event: String, timeout: Duration = .seconds(60)) async -> Bool {
        if events.withLock({ $0.contains(event) }) { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await e in self.eventStream where e == event { return true }
                return false
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first || self.events.withLock { $0.contains(event) }
        }
    }

    /// Starts on 127.0.0.1 port 0; with `tls`, as an HTTPS server (`baseURL` then says https).
    func start(tls: TLSConfiguration? = nil) async throws -> Int {
        let router = Router()
        router.post("v1/chat/completions") { request, context in try await self.chat(request, context) }
        router.post("v1/embeddings") { request, context in try await self.embeddings(request, context) }
        router.post("v1/load_lora_adapter") { request, _ in
            var request = request
            let buffer = try await request.collectBody(upTo: 1 << 20)
            let body = (try? JSONParser.parse(buffer.readableBytesView)) ?? .null
            guard let name = body["lora_name"]?.stringValue, body["lora_path"]?.stringValue != nil else {
                return Self.json(["object": "error", "message": "lora_name and lora_path are required", "code": 400], status: .badRequest)
            }
            // As vLLM: a name already loaded is refused, whatever path it came from.
            guard self.loadedAdapters.withLock({ $0[name] == nil }) else {
                return Self.json(
                    ["object": "error", "message": .string("The lora adapter '\(name)' has already been loaded."), "type": "InvalidUserInput", "code": 400],
                    status: .badRequest)
            }
            self.adapterLoads.withLock { $0.append(name) }
            self.loadedAdapters.withLock { $0[name] = body["lora_path"]?.stringValue }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "Success: LoRA adapter '\(name)' added successfully.")))
        }
        router.get("v1/models") { _, _ in
            guard self.healthy.withLock({ $0 }) else { return Response(status: .serviceUnavailable) }
            // As vLLM: loaded adapters are listed with the path they came from as `root`.
            let adapters = self.loadedAdapters.withLock { $0 }.sorted { $0.key < $1.key }
            let data: [JSONValue] = adapters.map { ["id": .string($0.key), "object": "model", "root": .string($0.value), "parent": "base"] }
            return Self.json(["object": "list", "data": .array(data)])
        }
        secure.withLock { $0 = tls != nil }
        return try await server.start(router, label: "mock-upstream", tls: tls)
    }

    func stop() async {
        await server.stop()
    }

    var baseURL: String { "\(secure.withLock { $0 } ? "https" : "http")://127.0.0.1:\(port)/v1" }

    private func record(_ request: Request, body: JSONValue) {
        received.withLock { $0.append(Received(path: request.uri.path, headers: request.headers, body: body)) }
    }

    /// The answer of model `spaced`: spaces between its tokens, its fields in an order of its own and a number
    /// written as `1.50`; what a writer of JSON would not send, so a gateway that passes it on shows it did.
    /// (`spaced-broken` sends it without its last brace.)
    static let spacedAnswer =
        #"{ "id" : "chatcmpl-spaced" , "model" : "spaced" , "price" : 1.50 , "choices" : [ { "index" : 0 , "message" : { "role" : "assistant" , "content" : "spaced \u00e9" } , "finish_reason" : "stop" } ] , "usage" : { "prompt_tokens" : 11 , "completion_tokens" : 4 , "total_tokens" : 15 } }"#
        + "\n"

    private static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.encode(value))))
    }

    /// A whole answer's message: the echo, or what `empty`, `refuse` and `refusal-field` answer.
    private static func message(model: String, lastUser: String) -> JSONObject {
        switch model {
        case "empty": ["role": "assistant", "content": ""]
        case "refuse": ["role": "assistant", "content": "I'm sorry, but I can't help with that."]
        case "refusal-field": ["role": "assistant", "content": .null, "refusal": "This request is not allowed."]
        case "judge":
            [
                "role": "assistant",
                "content": lastUser.contains("<candidate_answer>\necho:") ? "{\"score\": 9, \"reason\": \"matches\"}" : "{\"score\": 1, \"reason\": \"off\"}",
            ]
        default: ["role": "assistant", "content": .string("echo:" + lastUser)]
        }
    }

    private func chat(_ request: Request, _ context: some RequestContext) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: 16 << 20)
        let body = (try? JSONParser.parse(buffer.readableBytesView)) ?? .null
        record(request, body: body)
        let model = body["model"]?.stringValue ?? ""
        let stream = body["stream"]?.boolValue ?? false
        let lastUser = body["messages"]?.arrayValue?.last(where: { $0["role"]?.stringValue == "user" })?["content"]?.stringValue ?? ""
        let maxTokens = body["max_tokens"]?.numberValue?.intValue ?? 3
        note("received:\(model)")
        let call = callCounts.withLock { counts -> Int in
            counts[model, default: 0] += 1
            return counts[model, default: 0]
        }
        if model.hasPrefix("flaky-"), let n = Int(model.dropFirst(6).prefix(while: \.isNumber)), call <= n {
            return Self.json(["error": ["message": "warming up", "type": "server_error", "code": .null]], status: .internalServerError)
        }
        if model == "vllm-500" {
            return Self.json(
                ["object": "error", "message": "CUDA out of memory", "type": "InternalServerError", "param": .null, "code": 500], status: .internalServerError)
        }
        if model.hasPrefix("lora-") || model.hasPrefix("trellis."), loadedAdapters.withLock({ $0[model] == nil }) {
            return Self.json(
                ["object": "error", "message": .string("The model `\(model)` does not exist."), "type": "NotFoundError", "code": 404], status: .notFound)
        }
        switch model {
        case "fail-500":
            return Self.json(
                ["error": ["message": "Traceback: /srv/secret/model.py line 12", "type": "internal_server_error", "code": .null]],
                status: .internalServerError)
        case "fail-400":
            return Self.json(
                [
                    "error": [
                        "message": "This model's maximum context length is 2048 tokens.", "type": "invalid_request_error", "param": "messages",
                        "code": "context_length_exceeded",
                    ]
                ],
                status: .badRequest)
        case "vllm-400":
            return Self.json(
                ["object": "error", "message": "temperature must be non-negative", "type": "BadRequestError", "param": .null, "code": 400], status: .badRequest)
        case "fail-401":
            return Self.json(
                ["error": ["message": "Incorrect API key provided: sk-abc***", "type": "invalid_request_error", "code": "invalid_api_key"]],
                status: .unauthorized)
        case "hang":
            return try await request.body.consumeWithCancellationOnInboundClose { _ in
                self.note("hanging")
                do {
                    try await Task.sleep(for: .seconds(120))
                } catch {
                    self.note("cancelled:hang")
                    throw error
                }
                return Self.json(["never": true])
            }
        case "spaced", "spaced-broken":
            let text = model == "spaced" ? Self.spacedAnswer : String(Self.spacedAnswer.dropLast(2))
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
        default:
            break
        }
        if model == "tools" { return Self.toolCall(body, stream: stream) }
        // Reports max_tokens as used, however large (capped only so the mock's own sum cannot overflow).
        let used = min(maxTokens, 1 << 62)
        let usage: JSONValue = ["prompt_tokens": 7, "completion_tokens": .int(used), "total_tokens": .int(7 + used)]
        if !stream {
            var completion: JSONObject = [
                "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000, "model": .string(model),
                "choices": [["index": 0, "message": .object(Self.message(model: model, lastUser: lastUser)), "finish_reason": "stop"]],
                "system_fingerprint": "mock-fp",
            ]
            if model != "no-usage" { completion["usage"] = usage }
            return Self.json(.object(completion))
        }
        let includeUsage = body["stream_options"]?["include_usage"]?.boolValue ?? false
        @Sendable func chunk(_ delta: JSONValue, finish: JSONValue = .null) -> ByteBuffer {
            let c: JSONValue = [
                "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": .string(model),
                "choices": [["index": 0, "delta": delta, "finish_reason": finish]],
            ]
            return ByteBuffer(bytes: SSEWriter.frame(c))
        }
        let headers: HTTPFields = [.contentType: "text/event-stream"]
        switch model {
        case "empty-stream":
            return Response(status: .ok, headers: headers, body: .init { writer in try await writer.finish(nil) })
        case "break-stream":
            return Response(
                status: .ok, headers: headers,
                body: .init { writer in
                    // Both chunks in one write, so they reach the gateway together, whatever its reader is doing
                    // (bytes a busy reader has not asked for yet are lost when the connection breaks: see
                    // UpstreamBreakTests). The write is flushed on the event loop before the close that follows.
                    var both = chunk(["role": "assistant"])
                    var partial = chunk(["content": "partial"])
                    both.writeBuffer(&partial)
                    try await writer.write(both)
                    throw CancellationError()  // the server closes the connection mid-stream
                })
        case "stall-stream":
            return Response(
                status: .ok, headers: headers,
                body: .init { writer in
                    try await writer.write(chunk(["role": "assistant", "content": "first"]))
                    self.note("stall-stream:started")
                    try await Task.sleep(for: .seconds(120))
                    try await writer.finish(nil)
                })
        case "quiet-stream":
            return Response(
                status: .ok, headers: headers,
                body: .init { writer in
                    do {
                        try await writer.write(chunk(["role": "assistant", "content": "first"]))
                        self.note("quiet-stream:started")
                        // Only SSE comments from here on (no events, no tokens), so a closed connection is noticed.
                        for _ in 0..<1_200 {
                            try await Task.sleep(for: .milliseconds(100))
                            try await writer.write(ByteBuffer(string: ": waiting\n\n"))
                        }
                        try await writer.finish(nil)
                    } catch {
                        self.note("cancelled:quiet-stream")
                        throw error
                    }
                })
        case "endless-event":
            let lines = ByteBuffer(string: String(repeating: "data: " + String(repeating: "x", count: 1_018) + "\n", count: 16))
            return Response(
                status: .ok, headers: headers,
                body: .init { writer in
                    do {
                        try await writer.write(chunk(["role": "assistant", "content": ""]))
                        for _ in 0..<(64 << 20) / lines.readableBytes { try await writer.write(lines) }
                        // Then a line now and then, so a closed connection is noticed (a write fails).
                        for _ in 0..<1_200 {
                            try await Task.sleep(for: .milliseconds(100))
                            try await writer.write(ByteBuffer(string: "data: x\n"))
                        }
                        try await writer.finish(nil)
                    } catch {
                        self.note("cancelled:endless-event")
                        throw error
                    }
                })
        case "big-stream":
            // `max_tokens` chunks of 16 KiB each, as fast as the reader takes them (for clients that stop reading).
            let piece = String(repeating: "x", count: 16 << 10)
            return Response(
                status: .ok, headers: headers,
                body: .init { writer in
                    try await writer.write(chunk(["role": "assistant", "content": ""]))
                    for _ in 0..<maxTokens { try await writer.write(chunk(["content": .string(piece)])) }
                    try await writer.write(chunk([:], finish: "stop"))
                    try await writer.write(ByteBuffer(bytes: SSEWriter.done))
                    try await writer.finish(nil)
                })
        case "echo-stream":
            return Response(
                status: .ok, headers: headers,
                body: .init { writer in
                    try await writer.write(chunk(["role": "assistant", "content": ""]))
                    let text = Array("echo:" + lastUser)
                    for start in stride(from: 0, to: text.count, by: 3) {
                        try await writer.write(chunk(["content": .string(String(text[start..<min(start + 3, text.count)]))]))
                    }
                    try await writer.write(chunk([:], finish: "stop"))
                    try await writer.write(ByteBuffer(bytes: SSEWriter.done))
                    try await writer.finish(nil)
                })
        case "slow-stream", "slower-stream":
            let pause: Duration = model == "slower-stream" ? .milliseconds(500) : .milliseconds(50)
            return Response(
                status: .ok, headers: headers,
                body: .init { writer in
                    do {
                        try await writer.write(chunk(["role": "assistant"]))
                        self.note("\(model):started")
                        for i in 0..<min(maxTokens == 3 ? 200 : maxTokens, 200) {
                            try await Task.sleep(for: pause)
                            try await writer.write(chunk(["content": .string("tok\(i) ")]))
                        }
                        try await writer.write(chunk([:], finish: "stop"))
                        try await writer.write(ByteBuffer(bytes: SSEWriter.done))
                        try await writer.finish(nil)
                    } catch {
                        self.note("cancelled:\(model)")
                        throw error
                    }
                })
        default:
            return Response(
                status: .ok, headers: headers,
                body: .init { writer in
                    try await writer.write(chunk(["role": "assistant", "content": ""]))
                    for i in 0..<maxTokens {
                        try await writer.write(chunk(["content": .string("tok\(i)")]))
                    }
                    try await writer.write(chunk([:], finish: "stop"))
                    if includeUsage && model != "no-usage" {
                        let u: JSONValue = [
                            "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": .string(model),
                            "choices": [], "usage": usage,
                        ]
                        try await writer.write(ByteBuffer(bytes: SSEWriter.frame(u)))
                    }
                    try await writer.write(ByteBuffer(bytes: SSEWriter.done))
                    try await writer.finish(nil)
                })
        }
    }

    /// `tools`: a model that calls the request's first tool with `{"city":"Paris"}` (id `call_mock1`), and once the
    /// last message is that tool's result answers `tool said: <result>`; streamed, the arguments come in two pieces.
    private static func toolCall(_ body: JSONValue, stream: Bool) -> Response {
        let messages = body["messages"]?.arrayValue ?? []
        let tool = body["tools"]?.arrayValue?.first?["function"]?["name"]?.stringValue ?? "none"
        let result = messages.last?["role"]?.stringValue == "tool" ? messages.last?["content"]?.stringValue : nil
        let usage: JSONValue = ["prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15]
        let head: JSONObject = ["id": "chatcmpl-tools", "created": 1_700_000_000, "model": "tools"]
        if !stream {
            var completion = head
            completion["object"] = "chat.completion"
            completion["usage"] = usage
            if let result {
                completion["choices"] = [["index": 0, "message": ["role": "assistant", "content": .string("tool said: " + result)], "finish_reason": "stop"]]
            } else {
                let call: JSONValue = ["id": "call_mock1", "type": "function", "function": ["name": .string(tool), "arguments": "{\"city\":\"Paris\"}"]]
                completion["choices"] = [
                    ["index": 0, "message": ["role": "assistant", "content": .null, "tool_calls": [call]], "finish_reason": "tool_calls"]
                ]
            }
            return json(.object(completion))
        }
        func chunk(_ delta: JSONValue, finish: JSONValue = .null) -> [UInt8] {
            var c = head
            c["object"] = "chat.completion.chunk"
            c["choices"] = [["index": 0, "delta": delta, "finish_reason": finish]]
            return SSEWriter.frame(.object(c))
        }
        var frames = chunk(["role": "assistant", "content": .null])
        if let result {
            frames += chunk(["content": "tool said: "]) + chunk(["content": .string(result)]) + chunk([:], finish: "stop")
        } else {
            frames += chunk(["tool_calls": [["index": 0, "id": "call_mock1", "type": "function", "function": ["name": .string(tool), "arguments": ""]]]])
            frames += chunk(["tool_calls": [["index": 0, "function": ["arguments": "{\"city\":"]]]])
            frames += chunk(["tool_calls": [["index": 0, "function": ["arguments": "\"Paris\"}"]]]])
            frames += chunk([:], finish: "tool_calls")
        }
        frames += SSEWriter.done
        let all = frames
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream"],
            body: .init { writer in
                try await writer.write(ByteBuffer(bytes: all))
                try await writer.finish(nil)
            })
    }

    private func embeddings(_ request: Request, _ context: some RequestContext) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: 16 << 20)
        let body = (try? JSONParser.parse(buffer.readableBytesView)) ?? .null
        record(request, body: body)
        let inputs: [JSONValue] = body["input"]?.arrayValue ?? [body["input"] ?? .null]
        let model = body["model"]?.stringValue ?? ""
        embeddingLog.withLock { $0.append(EmbeddingCall(model: model, inputs: inputs.count)) }
        // An input containing FAIL-EMBED makes the embedding model fail (for the keyword fallback).
        if inputs.contains(where: { $0.stringValue?.contains("FAIL-EMBED") == true }) {
            return Self.json(["error": ["message": "embedding backend crashed", "type": "server_error"]], status: .internalServerError)
        }
        var data: [JSONValue] = inputs.enumerated().map { i, _ in
            ["object": "embedding", "index": .int(i), "embedding": [0.1, 0.2, .double(Double(i))]]
        }
        if model.hasPrefix("embed") {
            data = inputs.enumerated().reversed().map { i, input in
                ["object": "embedding", "index": .int(i), "embedding": .array(Self.semanticVector(input.stringValue ?? "").map { .double($0) })]
            }
        }
        return Self.json(
            [
                "object": "list", "data": .array(data), "model": body["model"] ?? .null,
                "usage": ["prompt_tokens": .int(inputs.count * 2), "total_tokens": .int(inputs.count * 2)],
            ])
    }
}
