import OpenAIWire
import Testing

@testable import TrellisCore

/// Whole chat answers: those the in-place edit takes, and what the tree makes of each.
private let taken: [String] = [
    #"{"id":"c1","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":"He said \"hi\"\n\u4f60好"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#,
    "\n {\"model\":\"up\",\"usage\":{\"prompt_tokens\":1e1,\"completion_tokens\":2},\"choices\":[]}\r\n",
    #"{ "model" : "up" , "choices" : [ { "index" : 0 , "message" : { "content" : null , "tool_calls" : [ { "id" : "call_1" , "function" : { "name" : "f" , "arguments" : "{\"a\":1}" } } ] } } ] , "usage" : { "prompt_tokens" : 4 } }"#,
    #"{"model":5,"choices":"none","usage":{"prompt_tokens":-3,"completion_tokens":99999999999999999999}}"#,
    #"{"usage":{"prompt_tokens":2,"completion_tokens":1},"model":"up","choices":[{"message":{"content":"first"}},{"message":{"content":"second"}}],"system_fingerprint":"fp","x":{"y":[1,2,{"z":true}]}}"#,
    #"{"model":"up","choices":[7,{"message":{"content":"not first"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
    #"{"model":"up","choices":[{"message":"plain"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
]

/// Answers left to the tree: no usage to read, an error, a key twice where the edit reads, a line break between
/// tokens, no `model`, or not one JSON object.
private let refused: [String] = [
    #"{"model":"up","choices":[{"message":{"content":"no usage"}}]}"#,
    #"{"model":"up","choices":[],"usage":{"completion_tokens":2}}"#,
    #"{"model":"up","choices":[],"usage":{"prompt_tokens":1,"prompt_tokens":2}}"#,
    #"{"model":"up","choices":[],"usage":{"prompt_tokens":"1"}}"#,
    #"{"model":"up","choices":[],"usage":[1]}"#,
    #"{"model":"up","choices":[],"usage":null}"#,
    #"{"model":"up","choices":[],"usage":{"prompt_tokens":1},"error":{"message":"boom"}}"#,
    #"{"model":"a","model":"b","choices":[],"usage":{"prompt_tokens":1}}"#,
    #"{"model":"up","choices":[{"message":{"content":"a","content":"b"}}],"usage":{"prompt_tokens":1}}"#,
    #"{"model":"up","choices":[{"message":{"content":"a"},"message":{}}],"usage":{"prompt_tokens":1}}"#,
    "{\"model\":\"up\",\n\"choices\":[],\"usage\":{\"prompt_tokens\":1}}",
    #"{"choices":[],"usage":{"prompt_tokens":1}}"#,
    #"{"mod\u0065l":"up","choices":[],"usage":{"prompt_tokens":1}}"#,
    #"{"model":"up","choices":[],"usage":{"prompt_tokens":1}} trailing"#,
    #"{"model":"up","choices":[],"usage":{"prompt_tokens":1}"#,
    #"[{"model":"up"}]"#,
    "",
    // Malformed, or nested past the parser's depth, inside what the edit reads in its pass.
    #"{"model":"up","choices":[{"message":{"content":01}}],"usage":{"prompt_tokens":1}}"#,
    #"{"model":"up","choices":[{"message":{"content":"a"}},{"message":tru}],"usage":{"prompt_tokens":1}}"#,
    #"{"model":"up","usage":{"prompt_tokens":1,"x":[1,]},"choices":[]}"#,
    #"{"model":"up","usage":{"prompt_tokens":1},"choices":[{"message":{"content":"a","x":"#
        + String(repeating: "[", count: 64) + String(repeating: "]", count: 64) + "}}]}",
]

private func edit(_ text: String, model: String = "client-model") -> WholeAnswerInPlace? {
    var text = text
    return text.withUTF8 { WholeAnswerInPlace.edit($0, clientModelJSON: JSONWriter.encode(.string(model))) }
}

@Suite struct WholeAnswerInPlaceTests {
    @Test("an answer the edit takes reads as the tree's: model replaced, the rest as it was, usage and text the same")
    func equalToTheTree() throws {
        for text in taken {
            let edited = try #require(edit(text), "\(text)")
            guard case .object(var tree) = try JSONParser.parse(Array(text.utf8)) else {
                Issue.record("not an object: \(text)")
                continue
            }
            tree["model"] = .string("client-model")
            #expect(try JSONParser.parse(edited.body) == .object(tree), "\(text)")
            #expect(edited.usage == TokenUsage(json: tree["usage"]), "\(text)")
            let first = tree["choices"]?.arrayValue?.first
            #expect(edited.answer == first?["message"]?["content"]?.stringValue, "\(text)")
            // Only the model's bytes changed (and the space around the object went).
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(edited.body.count == trimmed.utf8.count - modelValueLength(trimmed) + #""client-model""#.utf8.count, "\(text)")
        }
    }

    @Test("an answer the edit does not take is left to the tree")
    func refusedGoToTheTree() {
        for text in refused { #expect(edit(text) == nil, "\(text)") }
    }

    @Test("a key twice where the edit does not read is passed on, where the tree would refuse the answer (documented)")
    func repeatedKeyElsewhere() {
        for text in [
            #"{"model":"up","choices":[{"message":{"content":"first"}},{"message":{"content":"a","content":"b"}}],"usage":{"prompt_tokens":1}}"#,
            #"{"model":"up","choices":[{"index":0,"index":1,"message":{"content":"first"}}],"usage":{"prompt_tokens":1}}"#,
            #"{"model":"up","choices":[{"message":{"role":"a","role":"b","content":"first"}}],"usage":{"prompt_tokens":1,"x":1,"x":2}}"#,
        ] {
            #expect(edit(text)?.answer == "first", "\(text)")
            #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(text.utf8)) }
        }
    }

    @Test("an answer with bytes that are not UTF-8 in a string is left to the tree, which refuses it")
    func invalidUTF8() {
        let prefix = Array(#"{"model":"up","choices":[{"message":{"content":"a"#.utf8)
        let suffix = Array(#""}}],"usage":{"prompt_tokens":1}}"#.utf8)
        let valid = prefix + Array("é 你好 🙂".utf8) + suffix
        #expect(valid.withUnsafeBufferPointer { WholeAnswerInPlace.edit($0, clientModelJSON: Array(#""m""#.utf8)) }?.answer == "aé 你好 🙂")
        for bad: [UInt8] in [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE4, 0xBD]] {
            let bytes = prefix + bad + suffix
            #expect(bytes.withUnsafeBufferPointer { WholeAnswerInPlace.edit($0, clientModelJSON: Array(#""m""#.utf8)) } == nil, "\(bad)")
            #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes) }
        }
    }

    @Test("a model name that needs escaping is written as a JSON string")
    func escapedModelName() throws {
        let edited = try #require(edit(#"{"model":"up","choices":[],"usage":{"prompt_tokens":1}}"#, model: "a\"b\\c"))
        #expect(try JSONParser.parse(edited.body)["model"]?.stringValue == "a\"b\\c")
    }
}

/// The length of the first `"model"` member's value in `text` (a test helper for the byte-count check).
private func modelValueLength(_ text: String) -> Int {
    let bytes = Array(text.utf8)
    guard let object = bytes.withUnsafeBufferPointer({ JSONScan.object($0, at: 0) }) else { return 0 }
    for m in object.members where bytes[m.key].elementsEqual("model".utf8) { return m.value.count }
    return 0
}
