import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import OpenAIWire
import Synchronization
import Testing
import TrellisCore

@testable import TrellisServer

/// Everything that got past the masker to an `external` upstream (issue 13, item 5), in one request: the bypass
/// forms in message text, `user`, a tool description and parameter schema, earlier tool-call arguments and a
/// tool's result. The upstream must see none of the values, and the caller must get them back.
@Suite struct PIIMaskingEndToEndTests {
    /// What the caller types: full-width digits, a zero-width space inside a number, dots, parentheses, an ID
    /// number split by spaces, and a URL carrying a phone, an ID number and an e-mail address. Each value is
    /// written in one form only: a value seen in several forms has one placeholder, restored to the form seen first.
    static let text =
        "全角１３８１２３４５６７８；零宽139\u{200B}12345678；点137.1234.5678；括号(136)1234-5678；身份证110101 19900307 4514；链接http://crm/c,15012345678,11010519491231002X,alice@example.com 完"
    /// None of these may reach the external upstream, in any text of the body.
    static let forbidden = [
        "１３８", "13812345678", "13912345678", "13712345678", "13612345678", "15012345678", "12345678", "1234", "5678", "110101", "19900307",
        "4514", "19491231", "002X", "alice", "example.com", "8888", "9999", "bob", "2222", "3333", "440304", "1256", "ｃａｒｏｌ", "carol",
    ]

    static func body(stream: Bool) -> JSONValue {
        [
            "model": "outside", "stream": .bool(stream), "user": "１３８１２３４５６７８",
            "tools": [
                [
                    "type": "function",
                    "function": [
                        "name": "record", "description": "Records a note. Escalate to 186.8888.9999 or bob@example.org.",
                        "parameters": [
                            "type": "object",
                            "properties": ["text": ["type": "string", "description": "e.g. ID 4403 0419 9003 0712 56"]],
                        ],
                    ],
                ]
            ],
            "messages": [
                ["role": "user", "content": "记一下"],
                [
                    "role": "assistant", "content": .null,
                    "tool_calls": [
                        [
                            "id": "call_1", "type": "function",
                            "function": ["name": "record", "arguments": #"{"text":"(177)2222-3333","id":440304199003071256}"#],
                        ]
                    ],
                ],
                ["role": "tool", "tool_call_id": "call_1", "content": #"{"ok":true,"owner":"ｃａｒｏｌ＠ｅｘａｍｐｌｅ．ｎｅｔ"}"#],
                ["role": "user", "content": .string(text)],
            ],
        ]
    }

    /// Every string in `value`, with the strings inside JSON text (arguments, tool results) decoded too.
    static func strings(_ value: JSONValue) -> [String] {
        switch value {
        case .string(let s): return [s] + ((try? JSONParser.parse(s)).map { strings($0) } ?? [])
        case .array(let items): return items.flatMap { strings($0) }
        case .object(let o): return o.flatMap { [$0.key] + strings($0.value) }
        case .number(let n): return [n.literal]
        default: return []
        }
    }

    static func leaks(_ body: JSONValue) -> [String] {
        let all = strings(body)
        return forbidden.filter { value in all.contains { $0.contains(value) } }
    }

    @Test(
        "every bypass, in message text, user, a tool's description and schema, tool-call arguments and results: masked for the external upstream, restored for the caller"
    )
    func everyBypassMaskedAndRestored() async throws {
        #expect(!Self.leaks(Self.body(stream: false)).isEmpty, "the check finds the values in what the caller sent")
        try await withToolEchoUpstream { upstream in
            try await TestGateway.run { gw in
                try await gw.createTenant("acme")
                try await gw.createUpstream("cloud", baseURL: upstream.baseURL, extra: ["labels": ["external"]])
                try await gw.createModel("outside", spec: ["upstream": "cloud", "model": "tool-echo"])
                let key = try await gw.issueKey(tenant: "acme").key

                let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.body(stream: false))
                #expect(reply.status == 200, "\(reply.text)")
                let sent = try #require(upstream.bodies.last)
                #expect(Self.leaks(sent).isEmpty, "reached the external upstream: \(Self.leaks(sent))")
                #expect(sent["user"] == "[PHONE_1]")
                let message = reply.json["choices"]?.arrayValue?.first?["message"]
                #expect(message?["content"]?.stringValue == "echo:" + Self.text, "the answer's text comes back as the caller typed it")
                let arguments = try #require(message?["tool_calls"]?.arrayValue?.first?["function"]?["arguments"]?.stringValue)
                #expect(try JSONParser.parse(arguments)["text"]?.stringValue == Self.text, "and so do the tool call's arguments")

                let stream = try await gw.stream("/v1/chat/completions", key: key, json: Self.body(stream: true))
                let events = try await readEvents(stream)
                let streamedSent = try #require(upstream.bodies.last)
                #expect(Self.leaks(streamedSent).isEmpty, "streamed: \(Self.leaks(streamedSent))")
                var content = ""
                var streamedArguments = ""
                for event in events where event != "[DONE]" {
                    let delta = try JSONParser.parse(event)["choices"]?.arrayValue?.first?["delta"]
                    content += delta?["content"]?.stringValue ?? ""
                    for call in delta?["tool_calls"]?.arrayValue ?? [] { streamedArguments += call["function"]?["arguments"]?.stringValue ?? "" }
                }
                #expect(content == "echo:" + Self.text)
                #expect(try JSONParser.parse(streamedArguments)["text"]?.stringValue == Self.text, "arguments split mid-placeholder: \(streamedArguments)")

                // What the gateway records is the caller's own `user`, not the placeholder.
                await gw.flushUsage()
                #expect(try await gw.gateway.store.usageEvents().map(\.endUser) == ["１３８１２３４５６７８", "１３８１２３４５６７８"])
            }
        }
    }
}

/// A chat server that answers with the last user message twice: as content (`echo:<text>`) and as a tool call's
/// arguments (`{"text": <text>}`); streamed, the content comes in pieces of 3 characters and the arguments in
/// pieces of 4, so placeholders are split mid-token. It records every body it receives.
final class ToolEchoUpstream: Sendable {
    private let received = Mutex<[JSONValue]>([])
    private let server = LocalServerState()

    var bodies: [JSONValue] { received.withLock { $0 } }
    var baseURL: String { "http://127.0.0.1:\(server.port)/v1" }

    func start() async throws {
        let router = Router()
        router.post("v1/chat/completions") { request, _ in try await self.chat(request) }
        _ = try await server.start(router, label: "tool-echo-upstream")
    }

    func stop() async {
        await server.stop()
    }

    private func chat(_ request: Request) async throws -> Response {
        var request = request
        let body = (try? JSONParser.parse(try await request.collectBody(upTo: 16 << 20).readableBytesView)) ?? .null
        received.withLock { $0.append(body) }
        let lastUser = body["messages"]?.arrayValue?.last(where: { $0["role"]?.stringValue == "user" })?["content"]?.stringValue ?? ""
        let arguments = JSONWriter.string(["text": .string(lastUser)])
        let headers: HTTPFields = [.contentType: body["stream"]?.boolValue == true ? "text/event-stream" : "application/json"]
        guard body["stream"]?.boolValue == true else {
            let completion: JSONValue = [
                "id": "chatcmpl-t", "object": "chat.completion", "created": 1_700_000_000, "model": "tool-echo",
                "choices": [
                    [
                        "index": 0, "finish_reason": "tool_calls",
                        "message": [
                            "role": "assistant", "content": .string("echo:" + lastUser),
                            "tool_calls": [["id": "call_9", "type": "function", "function": ["name": "record", "arguments": .string(arguments)]]],
                        ],
                    ]
                ],
                "usage": ["prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10],
            ]
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.encode(completion))))
        }
        @Sendable func chunk(_ delta: JSONValue, finish: JSONValue = .null) -> ByteBuffer {
            ByteBuffer(
                bytes: SSEWriter.frame([
                    "id": "chatcmpl-t", "object": "chat.completion.chunk", "model": "tool-echo",
                    "choices": [["index": 0, "delta": delta, "finish_reason": finish]],
                ]))
        }
        @Sendable func pieces(_ s: String, _ size: Int) -> [String] {
            let characters = Array(s)
            return stride(from: 0, to: characters.count, by: size).map { String(characters[$0..<min($0 + size, characters.count)]) }
        }
        return Response(
            status: .ok, headers: headers,
            body: .init { writer in
                try await writer.write(chunk(["role": "assistant", "content": ""]))
                for piece in pieces("echo:" + lastUser, 3) { try await writer.write(chunk(["content": .string(piece)])) }
                try await writer.write(
                    chunk(["tool_calls": [["index": 0, "id": "call_9", "type": "function", "function": ["name": "record", "arguments": ""]]]]))
                for piece in pieces(arguments, 4) {
                    try await writer.write(chunk(["tool_calls": [["index": 0, "function": ["arguments": .string(piece)]]]]))
                }
                try await writer.write(chunk([:], finish: "tool_calls"))
                try await writer.write(ByteBuffer(bytes: SSEWriter.done))
                try await writer.finish(nil)
            })
    }
}

func withToolEchoUpstream<T>(_ body: (ToolEchoUpstream) async throws -> T) async throws -> T {
    let upstream = ToolEchoUpstream()
    try await upstream.start()
    return try await stopping(upstream.stop) { try await body(upstream) }
}
