import OpenAIWire
import Testing

@testable import TrellisCore

/// Upstream events, one stream each, covering what the in-place rewrite takes and what it leaves to the tree.
private let streams: [[String]] = [
    [
        #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"content":"He said \"hi\"\n\u4f60好"},"finish_reason":null}]}"#,
        #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#,
        "[DONE]",
    ],
    [
        #"{"id":"c2","usage":null,"model":"up","choices":[{"index":0,"delta":{"content":"a"}}]}"#,
        #"{"usage":null,"id":"c2","choices":[{"index":0,"delta":{"reasoning_content":"think"}}]}"#,
        #"{"usage":null}"#,
        #"{}"#,
        #"{ "id" : "c2" , "model" : "up" , "choices" : [ { "index" : 0 , "delta" : { "content" : "x" } } ] , "usage" : null }"#,
        #"{"id":"c2","model":"up","choices":[{"index":0,"delta":{"content":"one"}},{"index":1,"delta":{"content":"two"}}]}"#,
        #"{"id":"c2","model":"up","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":"{\"a\":1}"}}]}}]}"#,
        #"{"id":"c2","model":"up","choices":[{"index":0,"delta":{"content":null},"finish_reason":7}]}"#,
        #"{"id":"c2","model":5,"choices":null}"#,
        #"{"id":"c2","model":"up","choices":[1,"x",{"index":0,"delta":"no"}],"created":17e2}"#,
        #"{"id":"c2","model":"up","choices":[{"index":0,"delta":{"content":"z"},"finish_reason":"length"}]}"#,
        // The id and time change mid-stream: the synthesized usage frame carries the last ones.
        #"{"id":"c3","created":18,"model":"up","choices":[{"index":0,"delta":{"reasoning_content":"r","content":"c"}}]}"#,
    ],
    [
        "hello, not JSON",
        #"{"mod\u0065l":"up","choices":[{"index":0,"delta":{"content":"escaped key"}}]}"#,
        #"{"model":"a","model":"b","choices":[]}"#,
        "{\"model\":\"up\",\n\"choices\":[{\"index\":0,\"delta\":{\"content\":\"line\"}}]}",
        #"{"model":"up","choices":[]} trailing"#,
        #"{"model":"up","choices":[{"index":0,"delta":{"content":"a","content":"b"}}]}"#,
        #"{"model":"up","choices":[{"index":0,"delta":{"content":"x"}}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#,
        #"{"error":{"message":"boom","type":"server_error","code":"oom"}}"#,
        // Read in the scan's one pass: a member read twice inside a choice, a malformed value inside a delta, nesting
        // past the parser's depth inside a delta, an element that is not an object.
        #"{"model":"up","choices":[{"index":0,"delta":{"content":"a"},"delta":{"content":"b"}}]}"#,
        #"{"model":"up","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop","finish_reason":null}]}"#,
        #"{"model":"up","choices":[{"index":0,"delta":{"content":"a","tool_calls":[],"tool_calls":[]}}]}"#,
        #"{"model":"up","choices":[{"index":0,"delta":{"content":01}}]}"#,
        #"{"model":"up","choices":[{"index":0,"delta":{"content":"d","x":"#
            + String(repeating: #"{"a":"#, count: 64) + "1" + String(repeating: "}", count: 64) + "}}]}",
        #"{"model":"up","choices":[[{"index":0,"delta":{"content":"nested"}}],{"index":0,"delta":{"content":"e"}}]}"#,
    ],
]

/// Every event of a stream through one rewriter: the parsed frames and whether each had content.
private func relay(
    _ events: [String], wantsUsage: Bool, keepText: Bool, inPlace: Bool, extras: JSONObject
) throws -> (
    frames: [[JSONValue]], content: [Bool], rewriter: ChatStreamRewriter
) {
    var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: wantsUsage, firstChunkExtras: extras, keepText: keepText)
    rewriter.relaysBytes = inPlace
    var frames: [[JSONValue]] = []
    var content: [Bool] = []
    for data in events {
        let (rewritten, hasContent) = rewriter.rewrite(SSEEvent(data: data))
        var parser = SSEParser()
        frames.append(try parser.feed(ChatStreamEncoder.frame(rewritten)).map { (try? JSONParser.parse($0.data)) ?? .string($0.data) })
        content.append(hasContent)
    }
    return (frames, content, rewriter)
}

@Suite("ChatStreamRewriter in place")
struct ChatStreamInPlaceTests {
    @Test(
        "rewriting in the chunk's bytes gives the same frames and the same accounting as the parsed tree",
        arguments: [false, true], [false, true])
    func sameAsTree(wantsUsage: Bool, keepText: Bool) throws {
        for (n, events) in streams.enumerated() {
            for extras: JSONObject in [JSONObject(), ["citations": ["a", "b"]]] {
                let tree = try relay(events, wantsUsage: wantsUsage, keepText: keepText, inPlace: false, extras: extras)
                let bytes = try relay(events, wantsUsage: wantsUsage, keepText: keepText, inPlace: true, extras: extras)
                for i in events.indices {
                    #expect(bytes.frames[i] == tree.frames[i], "stream \(n), event \(i): \(events[i])")
                    #expect(bytes.content[i] == tree.content[i], "stream \(n), event \(i)")
                }
                let (a, b) = (bytes.rewriter, tree.rewriter)
                #expect(a.usage == b.usage)
                #expect(a.finishReason == b.finishReason)
                #expect(a.chunks == b.chunks)
                #expect(a.contentChunks == b.contentChunks)
                #expect(a.estimatedCompletionTokens == b.estimatedCompletionTokens)
                #expect(a.text == b.text)
                #expect(a.completed == b.completed)
                #expect(a.upstreamError == b.upstreamError)
                let usage = TokenUsage(promptTokens: 4, completionTokens: 9)
                #expect(a.synthesizedUsageFrame(usage: usage) == b.synthesizedUsageFrame(usage: usage), "stream \(n)")
            }
        }
    }

    @Test("a plain chunk keeps the upstream's own bytes with only the model replaced")
    func bytesKept() throws {
        var rewriter = ChatStreamRewriter(clientModel: "claims \"v2\"", clientWantsUsage: false)
        rewriter.relaysBytes = true
        let data = #"{"id":"c", "model" : "up","choices":[{"index":0,"delta":{"content":"x"}}],"usage":null}"#
        let (rewritten, hasContent) = rewriter.rewrite(SSEEvent(data: data))
        #expect(rewritten == .bytes(Array(#"{"id":"c", "model" : "claims \"v2\"","choices":[{"index":0,"delta":{"content":"x"}}]}"#.utf8)))
        #expect(hasContent)
    }

    @Test(
        "what needs the tree is parsed: reported usage, an error, an escaped or repeated key, a line break, not JSON",
        arguments: [
            #"{"model":"up","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#,
            #"{"error":{"message":"boom"}}"#, #"{"mod\u0065l":"up"}"#, #"{"model":"a","model":"b"}"#, "{\"model\":\"up\",\n\"choices\":[]}",
            "not JSON",
        ])
    func treeWhenNeeded(data: String) {
        var rewriter = ChatStreamRewriter(clientModel: "assistant", clientWantsUsage: true)
        rewriter.relaysBytes = true
        if case .bytes = rewriter.rewrite(SSEEvent(data: data)).0 {
            Issue.record("rewritten in place: \(data)")
        }
    }

    @Test(
        "the scan takes what the parser takes and refuses what it refuses",
        arguments: [
            #"{"a":1,"b":-0.5e+3,"c":[true,false,null,{"d":"\u00e9\n"}],"e":{}}"#, #"{"a":01}"#, #"{"a":"\x"}"#, #"{"a":1,}"#, #"{"a" 1}"#,
            #"{"a":tru}"#, #"{"a":[1,2,]}"#, #"{"a":"\u12G4"}"#, #"{"a":1.}"#, #"{"a":-}"#, #"{"a":"unterminated}"#, #"{"a":[1}"#,
            #"{"a":1e}"#, #"{"a":[]}"#, "{\"a\":\"tab\tinside\"}",
        ])
    func scanAgreesWithParser(text: String) {
        let scanned = Array(text.utf8).withUnsafeBufferPointer { b in
            JSONScan.object(b, at: 0).map { JSONScan.onlySpace(b, from: $0.close + 1) } ?? false
        }
        let parsed = (try? JSONParser.parse(text)) != nil
        #expect(scanned == parsed, "\(text)")
    }

    @Test("nesting deeper than the parser allows is refused, not followed")
    func depth() {
        let deep = String(repeating: #"{"a":"#, count: 70) + "1" + String(repeating: "}", count: 70)
        let scanned = Array(deep.utf8).withUnsafeBufferPointer { JSONScan.object($0, at: 0) }
        #expect(scanned == nil)
        #expect((try? JSONParser.parse(deep)) == nil)
    }
}
