import OpenAIWire
import Testing
import TrellisCore

/// Streamed tool-call arguments carry placeholders too: they are restored per choice and per tool call, however
/// the upstream splits them, and stay valid JSON.
@Suite("ChatStreamRewriter: tool-call arguments")
struct ChatStreamRewriterToolCallTests {
    static func session() throws -> PIIMasker.Session {
        var session = try PIIMasker().session()
        _ = session.mask("１３８１２３４５６７８ alice@example.com")
        return session
    }

    /// One upstream chunk with tool-call pieces `(choice, tool call index, arguments)`, and a finish reason.
    static func event(_ pieces: [(Int, Int, String)], finish: String? = nil, choice finishing: Int = 0) -> SSEEvent {
        var choices: [Int: [JSONValue]] = [:]
        for (choice, index, arguments) in pieces {
            choices[choice, default: []].append(["index": .int(index), "function": ["arguments": .string(arguments)]])
        }
        if finish != nil, choices[finishing] == nil { choices[finishing] = [] }
        let list: [JSONValue] = choices.keys.sorted().map { choice in
            var delta = JSONObject()
            if let calls = choices[choice], !calls.isEmpty { delta["tool_calls"] = .array(calls) }
            let reason: JSONValue = choice == finishing ? finish.map { .string($0) } ?? .null : .null
            return ["index": .int(choice), "delta": .object(delta), "finish_reason": reason]
        }
        return SSEEvent(data: JSONWriter.string(["id": "c", "object": "chat.completion.chunk", "model": "m", "choices": .array(list)]))
    }

    /// The arguments the client assembles, per (choice, tool call index), from the rewriter's frames.
    static func assembled(_ frames: [[UInt8]]) throws -> [String: String] {
        var out: [String: String] = [:]
        for frame in frames {
            var parser = SSEParser()
            for event in try parser.feed(frame) {
                let chunk = try JSONParser.parse(event.data)
                for choice in chunk["choices"]?.arrayValue ?? [] {
                    let c = choice["index"]?.numberValue?.intValue ?? -1
                    for call in choice["delta"]?["tool_calls"]?.arrayValue ?? [] {
                        let i = call["index"]?.numberValue?.intValue ?? -1
                        out["\(c).\(i)", default: ""] += call["function"]?["arguments"]?.stringValue ?? ""
                    }
                }
            }
        }
        return out
    }

    @Test("arguments split at every position, a placeholder cut mid-token included, come back whole and restored")
    func everySplit() throws {
        let session = try Self.session()
        let arguments = #"{"to":"[PHONE_1]","cc":"[EMAIL_1]","n":[PHONE_1]}"#
        let expected = #"{"to":"１３８１２３４５６７８","cc":"alice@example.com","n":１３８１２３４５６７８}"#
        let characters = Array(arguments)
        for i in 0...characters.count {
            for j in i...characters.count {
                var rewriter = ChatStreamRewriter(clientModel: "m", clientWantsUsage: false)
                rewriter.restorer = session.restorer()
                var frames: [[UInt8]] = []
                for piece in [String(characters[..<i]), String(characters[i..<j]), String(characters[j...])] {
                    frames.append(rewriter.process(Self.event([(0, 0, piece)])).frame)
                }
                frames.append(rewriter.process(Self.event([], finish: "tool_calls")).frame)
                #expect(try Self.assembled(frames) == ["0.0": expected], "split at \(i), \(j)")
            }
        }
    }

    @Test("each choice and each tool call holds back its own text; an unfinished placeholder is flushed at the finish")
    func perChoiceAndCall() throws {
        let session = try Self.session()
        var rewriter = ChatStreamRewriter(clientModel: "m", clientWantsUsage: false)
        rewriter.restorer = session.restorer()
        var frames: [[UInt8]] = []
        frames.append(rewriter.process(Self.event([(0, 0, #"{"a":"[PHO"#), (0, 1, #"{"b":"[EMA"#), (1, 0, #"{"c":"[PH"#)])).frame)
        frames.append(rewriter.process(Self.event([(1, 0, #"ONE_1]"}"#), (0, 1, #"IL_1]"}"#)])).frame)
        frames.append(rewriter.process(Self.event([(0, 0, #"NE_1]", "d":"[PHONE_"#)], finish: "tool_calls")).frame)
        frames.append(rewriter.process(Self.event([], finish: "tool_calls", choice: 1)).frame)
        #expect(
            try Self.assembled(frames) == [
                "0.0": #"{"a":"１３８１２３４５６７８", "d":"[PHONE_"#, "0.1": #"{"b":"alice@example.com"}"#, "1.0": #"{"c":"１３８１２３４５６７８"}"#,
            ])
    }

    @Test("an original that needs escaping is escaped in the arguments, and content beside them is restored as text")
    func escapingAndContent() throws {
        let rules = PIIMasker.Rules(custom: [PIIMasker.CustomPattern(name: "quoted", pattern: #"Q"[0-9]+""#)])
        var session = try PIIMasker(rules: rules).session()
        _ = session.mask(#"Q"42""#)
        var rewriter = ChatStreamRewriter(clientModel: "m", clientWantsUsage: false)
        rewriter.restorer = session.restorer()
        let chunk =
            #"{"choices":[{"index":0,"delta":{"content":"[QUOTED_1]","tool_calls":[{"index":0,"function":{"arguments":"{\"q\":\"[QUOTED_1]\"}"}}]},"finish_reason":"tool_calls"}]}"#
        let frame = rewriter.process(SSEEvent(data: chunk)).frame
        var parser = SSEParser()
        let delta = try JSONParser.parse(try #require(try parser.feed(frame).first).data)["choices"]?.arrayValue?.first?["delta"]
        #expect(delta?["content"] == #"Q"42""#)
        let arguments = try #require(delta?["tool_calls"]?.arrayValue?.first?["function"]?["arguments"]?.stringValue)
        #expect(arguments == #"{"q":"Q\"42\""}"#)
        #expect(try JSONParser.parse(arguments)["q"] == #"Q"42""#)
    }
}
