import OpenAIWire
import Testing

private func parse(_ bytes: [UInt8]) throws -> [SSEEvent] {
    var parser = SSEParser()
    return try parser.feed(bytes)
}

@Suite("SSEWriter")
struct SSEWriterTests {
    @Test("a JSON frame is `data: <json>` and a blank line")
    func jsonFrame() {
        let json = Array(#"{"a":1}"#.utf8)
        #expect(SSEWriter.frame(json: json) == Array("data: {\"a\":1}\n\n".utf8))
        let value: JSONValue = ["id": "x", "choices": []]
        #expect(SSEWriter.frame(value) == Array("data: ".utf8) + JSONWriter.encode(value) + [0x0A, 0x0A])
    }

    @Test("the end sentinel is OpenAI's `data: [DONE]` frame")
    func done() throws {
        #expect(SSEWriter.done == Array("data: [DONE]\n\n".utf8))
        let events = try parse(SSEWriter.done)
        #expect(events.count == 1)
        #expect(events.first?.isDone == true)
    }

    @Test("a JSON frame parses back to the same JSON, including non-ASCII text")
    func jsonFrameRoundTrip() throws {
        let value: JSONValue = ["content": "你好\n😀 \"quoted\"", "n": 18446744073709551615.0, "big": .number(JSONNumber(validatedLiteral: "1e400"))]
        let events = try parse(SSEWriter.frame(value))
        #expect(events.count == 1)
        let data = try #require(events.first?.data)
        #expect(try JSONParser.parse(data) == value)
    }

    @Test("text with line breaks becomes several data lines, and parses back to the same text")
    func textFrame() throws {
        #expect(SSEWriter.frame(text: "a\nb") == Array("data: a\ndata: b\n\n".utf8))
        #expect(SSEWriter.frame(text: "x", event: "error") == Array("event: error\ndata: x\n\n".utf8))
        for text in ["plain", "a\nb\nc", "", "\n", "trailing\n", "\nleading", "你好\n世界", "  spaced  "] {
            let events = try parse(SSEWriter.frame(text: text, event: "e"))
            #expect(events == [SSEEvent(event: "e", data: text)], "text \(text.debugDescription)")
            #expect(try parse(SSEWriter.frame(text: text)) == [SSEEvent(data: text)])
        }
    }

    @Test("frames concatenated stay separate events")
    func concatenated() throws {
        let bytes = SSEWriter.frame(["i": 1]) + SSEWriter.frame(text: "two\nlines") + SSEWriter.done
        let events = try parse(bytes)
        #expect(events.map(\.data) == [#"{"i":1}"#, "two\nlines", "[DONE]"])
    }
}
