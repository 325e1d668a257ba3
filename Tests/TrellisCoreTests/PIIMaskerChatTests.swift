import Foundation
import OpenAIWire
import Testing
import TrellisCore

/// Everything a chat body carries that reached an external upstream unmasked: `user`, tool descriptions and
/// parameter schemas, tool-call arguments (escaped JSON included), tool results, names.
@Suite("PIIMasker: every text of a chat body")
struct PIIMaskerChatTests {
    static let values = ["13812345678", "１３８１２３４５６７８", "110101199003074514", "alice@example.com", "4111111111111111"]

    static func leaks(_ value: JSONValue) -> [String] {
        let text = JSONWriter.string(value)
        // JSON text written with escapes (`\uff11`) holds the same value: decode it before looking.
        let decoded = (try? JSONParser.parse(text)).map(Self.allStrings) ?? []
        return values.filter { v in text.contains(v) || decoded.contains { $0.contains(v) } }
    }

    /// Every string in `value`, and those inside strings that are JSON text themselves.
    static func allStrings(_ value: JSONValue) -> [String] {
        switch value {
        case .string(let s):
            let nested = (try? JSONParser.parse(s)).map { allStrings($0) } ?? []
            return [s] + nested
        case .array(let items): return items.flatMap(allStrings)
        case .object(let o): return o.flatMap { [$0.key] + allStrings($0.value) }
        case .number(let n): return [n.literal]
        default: return []
        }
    }

    static let body: JSONObject = [
        "user": "13812345678",
        "messages": [
            ["role": "system", "content": "客服系统", "name": "agent_13812345678"],
            ["role": "user", "content": [["type": "text", "text": "我的卡号 4111 1111 1111 1111"]]],
            [
                "role": "assistant", "content": .null,
                "tool_calls": [
                    [
                        "id": "call_1", "type": "function",
                        "function": [
                            "name": "lookup",
                            "arguments": #"{"phone":"\uff11\uff13\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18","id":110101199003074514}"#,
                        ],
                    ]
                ],
            ],
            ["role": "tool", "tool_call_id": "call_1", "content": #"{"owner":"alice@example.com","note":"138\u200b12345678"}"#],
        ],
        "tools": [
            [
                "type": "function",
                "function": [
                    "name": "lookup",
                    "description": "Look up a customer; the test customer is 13812345678 (alice@example.com).",
                    "parameters": [
                        "type": "object",
                        "properties": [
                            "phone": ["type": "string", "description": "e.g. 138-1234-5678", "enum": ["13812345678", "13912345678"]],
                            "id": ["type": "integer", "description": "resident ID like 110101 19900307 4514"],
                            "file": ["type": "string", "description": "the file of 13812345678"],
                            "model": ["type": "string", "title": "alice@example.com"],
                        ],
                        "required": ["phone"],
                    ],
                ],
            ]
        ],
        "stream": false,
    ]

    @Test("user, tool descriptions, parameter schemas, tool-call arguments, tool results and names are masked")
    func everyTextMasked() throws {
        var session = try PIIMasker().session()
        let masked = session.mask(chatBody: Self.body)
        #expect(Self.leaks(.object(masked)).isEmpty, "\(Self.leaks(.object(masked)))")
        #expect(!Self.leaks(.object(Self.body)).isEmpty, "the check sees the values in the original")
        #expect(masked["user"] == "[PHONE_1]")
        let function = masked["tools"]?.arrayValue?.first?["function"]
        #expect(function?["description"]?.stringValue == "Look up a customer; the test customer is [PHONE_1] ([EMAIL_1]).")
        #expect(function?["parameters"]?["properties"]?["phone"]?["enum"] == ["[PHONE_1]", "[PHONE_2]"])
        #expect(function?["parameters"]?["required"] == ["phone"], "property names are not text")
        #expect(function?["name"] == "lookup")
        #expect(function?["parameters"]?["properties"]?["file"]?["description"] == "the file of [PHONE_1]", "a property named like a payload is text")
        #expect(function?["parameters"]?["properties"]?["model"]?["title"] == "[EMAIL_1]")
        let messages = try #require(masked["messages"]?.arrayValue)
        #expect(messages[0]["name"]?.stringValue == "agent_[PHONE_1]")
        let arguments = try #require(messages[2]["tool_calls"]?.arrayValue?.first?["function"]?["arguments"]?.stringValue)
        #expect(arguments == #"{"phone":"[PHONE_1]","id":"[ID_CARD_1]"}"#, "still JSON: a masked number becomes a string")
        #expect(try JSONParser.parse(arguments) != .null)
        let result = try #require(messages[3]["content"]?.stringValue)
        #expect(result == #"{"owner":"[EMAIL_1]","note":"[PHONE_1]"}"#)
        #expect(masked["stream"] == false)
    }

    @Test("images, audio and files are passed as they are: base64 data or a URL the upstream fetches")
    func payloadsUntouched() throws {
        let body: JSONObject = [
            "messages": [
                [
                    "role": "user",
                    "content": [
                        ["type": "image_url", "image_url": ["url": "https://x/13812345678.png"]],
                        ["type": "input_audio", "input_audio": ["data": "QUJD13812345678", "format": "wav"]],
                        ["type": "file", "file": ["file_data": "data:application/pdf;base64,QUJD13812345678", "filename": "a.pdf"]],
                    ],
                ]
            ]
        ]
        var session = try PIIMasker().session()
        #expect(session.mask(chatBody: body) == body)
    }

    @Test("arguments that are not JSON are masked as text; JSON without personal data keeps its exact form")
    func argumentsText() throws {
        var session = try PIIMasker().session()
        #expect(session.mask(jsonText: "call 13812345678 {") == "call [PHONE_1] {")
        let untouched = #"{ "city" : "北京", "n" : 1.50 }"#
        #expect(session.mask(jsonText: untouched) == untouched)
    }

    @Test("a completion's tool-call arguments are restored as valid JSON, even when an original needs escaping")
    func restoreCompletionArguments() throws {
        let rules = PIIMasker.Rules(custom: [PIIMasker.CustomPattern(name: "quoted", pattern: #"Q"[0-9]+""#)])
        var session = try PIIMasker(rules: rules).session()
        _ = session.mask(#"13812345678 Q"42""#)
        let answer: JSONObject = [
            "choices": [
                [
                    "index": 0,
                    "message": [
                        "role": "assistant", "content": "OK [PHONE_1]", "reasoning_content": "user gave [PHONE_1]",
                        "tool_calls": [["id": "c", "type": "function", "function": ["name": "f", "arguments": #"{"to":"[PHONE_1]","q":"[QUOTED_1]"}"#]]],
                    ],
                ]
            ]
        ]
        let restored = session.restore(completion: answer)
        let message = restored["choices"]?.arrayValue?.first?["message"]
        #expect(message?["content"] == "OK 13812345678")
        #expect(message?["reasoning_content"] == "user gave 13812345678")
        let arguments = try #require(message?["tool_calls"]?.arrayValue?.first?["function"]?["arguments"]?.stringValue)
        #expect(arguments == #"{"to":"13812345678","q":"Q\"42\""}"#)
        #expect(try JSONParser.parse(arguments)["q"] == #"Q"42""#)
    }
}
