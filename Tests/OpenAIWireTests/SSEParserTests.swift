import Testing
import TrellisCore

@testable import OpenAIWire

/// Feeds `bytes` in the given pieces and returns every event completed.
private func events(_ bytes: [UInt8], splitAt cuts: [Int] = [], maxEventBytes: Int = SSEParser.defaultMaxEventBytes) throws -> [SSEEvent] {
    var parser = SSEParser(maxEventBytes: maxEventBytes)
    var out: [SSEEvent] = []
    var start = 0
    for cut in cuts.sorted() + [bytes.count] {
        out += try parser.feed(bytes[start..<cut])
        start = cut
    }
    return out
}

private func events(_ text: String) throws -> [SSEEvent] { try events(Array(text.utf8)) }

/// A stream exercising every feature at once, with `\n` line ends; the tests swap in other line ends.
private let sampleStream = """
    : ping
    event: message
    data: {"a":1}
    id: 7
    retry: 1000

    data: line one
    data: line two

    : another comment
    data:no-space
    data:  two spaces

    data: 你好，世界 😀

    event: custom

    data: after a data-less event

    data: [DONE]


    """

private let sampleEvents = [
    SSEEvent(event: "message", data: #"{"a":1}"#),
    SSEEvent(data: "line one\nline two"),
    SSEEvent(data: "no-space\n two spaces"),
    SSEEvent(data: "你好，世界 😀"),
    SSEEvent(data: "after a data-less event"),
    SSEEvent(data: "[DONE]"),
]

@Suite("SSEParser")
struct SSEParserTests {
    @Test("the sample stream in one piece")
    func whole() throws {
        #expect(try events(sampleStream) == sampleEvents)
        #expect(sampleEvents.last?.isDone == true)
        #expect(sampleEvents.first?.isDone == false)
    }

    @Test("a sequence without contiguous storage parses the same as an array")
    func nonContiguousSequence() throws {
        var parser = SSEParser()
        let lazy = Array(sampleStream.utf8).lazy.map { $0 }  // no withContiguousStorageIfAvailable
        #expect(try parser.feed(lazy) == sampleEvents)
        var limited = SSEParser(maxEventBytes: 8)
        #expect(throws: SSEParser.EventTooLarge(limit: 8)) { try limited.feed(Array("data: 123456789\n\n".utf8).lazy.map { $0 }) }
    }

    @Test("split in two at every byte boundary, the events are the same", arguments: ["\n", "\r\n", "\r"])
    func everySplit(lineEnd: String) throws {
        let bytes = Array(sampleStream.replacingOccurrences(of: "\n", with: lineEnd).utf8)
        for cut in 0...bytes.count {
            #expect(try events(bytes, splitAt: [cut]) == sampleEvents, "cut at \(cut)")
        }
    }

    @Test("fed one byte at a time, the events are the same", arguments: ["\n", "\r\n", "\r"])
    func byteByByte(lineEnd: String) throws {
        let bytes = Array(sampleStream.replacingOccurrences(of: "\n", with: lineEnd).utf8)
        #expect(try events(bytes, splitAt: Array(0..<bytes.count)) == sampleEvents)
    }

    @Test("random multi-way splits give the same events")
    func randomSplits() throws {
        let bytes = Array(sampleStream.replacingOccurrences(of: "\n", with: "\r\n").utf8)
        var rng = SeededGenerator(seed: 99)
        for _ in 0..<500 {
            let cuts = (0..<Int.random(in: 1...12, using: &rng)).map { _ in Int.random(in: 0...bytes.count, using: &rng) }
            #expect(try events(bytes, splitAt: cuts) == sampleEvents, "cuts \(cuts)")
        }
    }

    @Test("a line end at each of a word's eight places, after lines of 1 to 40 bytes", arguments: ["\n", "\r\n", "\r"])
    func lineEndsAtEveryPlace(lineEnd: String) throws {
        let values = (1...40).map { String(repeating: "x", count: $0 - 1) + "é" }
        let text = values.map { "data: \($0)\(lineEnd)\(lineEnd)" }.joined()
        #expect(try events(text) == values.map { SSEEvent(data: $0) })
        let oneEvent = values.map { "data:\($0)\(lineEnd)" }.joined() + lineEnd
        #expect(try events(oneEvent) == [SSEEvent(data: values.joined(separator: "\n"))])
    }

    @Test("LF, CRLF and CR line ends mixed in one stream")
    func mixedLineEnds() throws {
        let text = "data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\rdata: e\n\n"
        let expected = [SSEEvent(data: "a\nb\nc"), SSEEvent(data: "d"), SSEEvent(data: "e")]
        let bytes = Array(text.utf8)
        for cut in 0...bytes.count {
            #expect(try events(bytes, splitAt: [cut]) == expected, "cut at \(cut)")
        }
    }

    @Test("CR then LF in separate feeds is one line end, not two")
    func crlfAcrossFeeds() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: a\r".utf8)).isEmpty)
        // If the LF were a second line end, this would dispatch "a" now.
        #expect(try parser.feed(Array("\n".utf8)).isEmpty)
        #expect(try parser.feed(Array("data: b\r\n\r\n".utf8)) == [SSEEvent(data: "a\nb")])
    }

    @Test("comments, including a bare colon, produce nothing")
    func comments() throws {
        #expect(try events(": ping\n\n:\n\n: keep-alive\r\n\r\n").isEmpty)
        #expect(try events(": ping\ndata: x\n: between\ndata: y\n\n") == [SSEEvent(data: "x\ny")])
    }

    @Test("multi-line data is joined with LF and the final LF is dropped")
    func multiLineData() throws {
        #expect(try events("data: 1\ndata: 2\ndata: 3\n\n") == [SSEEvent(data: "1\n2\n3")])
        #expect(try events("data: 1\ndata:\ndata: 3\n\n") == [SSEEvent(data: "1\n\n3")])
    }

    @Test("a data field with an empty value still makes an event; a field name alone counts as an empty value")
    func emptyData() throws {
        #expect(try events("data:\n\n") == [SSEEvent(data: "")])
        #expect(try events("data\n\n") == [SSEEvent(data: "")])
        #expect(try events("data\ndata\n\n") == [SSEEvent(data: "\n")])
    }

    @Test("one leading space after the colon is removed, no more")
    func leadingSpace() throws {
        #expect(try events("data:x\n\n") == [SSEEvent(data: "x")])
        #expect(try events("data: x\n\n") == [SSEEvent(data: "x")])
        #expect(try events("data:  x \n\n") == [SSEEvent(data: " x ")])
        #expect(try events("data: a: b\n\n") == [SSEEvent(data: "a: b")])
    }

    @Test("the event field sets the type of its event only")
    func eventField() throws {
        let got = try events("event: delta\ndata: a\n\ndata: b\n\nevent: x\n\ndata: c\n\n")
        #expect(got == [SSEEvent(event: "delta", data: "a"), SSEEvent(data: "b"), SSEEvent(data: "c")])
        // The last event field before dispatch wins, wherever it is among the data lines.
        #expect(try events("data: a\nevent: one\nevent: two\n\n") == [SSEEvent(event: "two", data: "a")])
    }

    @Test("unknown fields, id and retry are ignored; field names are case-sensitive")
    func otherFields() throws {
        #expect(try events("id: 1\nretry: 10\nfoo: bar\nDATA: no\nData: no\n\n").isEmpty)
        #expect(try events("id: 1\ndata: yes\nfoo: bar\n\n") == [SSEEvent(data: "yes")])
    }

    @Test("a leading UTF-8 BOM is skipped, at every split")
    func leadingBOM() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("data: x\n\n".utf8)
        for cut in 0...bytes.count {
            #expect(try events(bytes, splitAt: [cut]) == [SSEEvent(data: "x")], "cut at \(cut)")
        }
        #expect(try events(bytes, splitAt: Array(0..<bytes.count)) == [SSEEvent(data: "x")])
    }

    @Test("only one leading BOM is skipped: a second one is part of the first field name")
    func secondBOM() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF] + Array("data: x\n\ndata: y\n\n".utf8)
        #expect(try events(bytes) == [SSEEvent(data: "y")])
    }

    @Test("a BOM after the start is text, kept in the data")
    func laterBOM() throws {
        #expect(try events("data: \u{FEFF}x\n\n") == [SSEEvent(data: "\u{FEFF}x")])
    }

    @Test("bytes that start like a BOM but are not one are kept")
    func partialBOM() throws {
        // A BOM's bytes in the middle of a line are data.
        let bytes: [UInt8] = Array("data: ".utf8) + [0xEF, 0xBB, 0xBF] + Array("\n\n".utf8)
        #expect(try events(bytes) == [SSEEvent(data: "\u{FEFF}")])
        let notBOM: [UInt8] = [0xEF, 0xBB] + Array(": comment\ndata: z\n\n".utf8)
        // EF BB then ':' is not a BOM: the held bytes start the first line, which is then a field named EF BB
        // (ignored) rather than a comment; the next event is unaffected.
        for cut in 0...notBOM.count {
            #expect(try events(notBOM, splitAt: [cut]) == [SSEEvent(data: "z")], "cut at \(cut)")
        }
        // Held bytes are not dropped: EF BB before "data" makes the field name something other than "data".
        let prefixed: [UInt8] = [0xEF, 0xBB] + Array("data: x\n\ndata: y\n\n".utf8)
        for cut in 0...prefixed.count {
            #expect(try events(prefixed, splitAt: [cut]) == [SSEEvent(data: "y")], "cut at \(cut)")
        }
    }

    @Test("an event without its blank line is not emitted")
    func unfinishedEvent() throws {
        #expect(try events("data: partial").isEmpty)
        #expect(try events("data: partial\n").isEmpty)
        #expect(try events("data: done\n\ndata: partial\n") == [SSEEvent(data: "done")])
    }

    @Test("finish() discards an unfinished event, so later input cannot complete it")
    func finishDiscards() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("event: e\ndata: partial\ndata: more".utf8)).isEmpty)
        parser.finish()
        #expect(try parser.feed(Array("\n\n".utf8)).isEmpty)
        #expect(try parser.feed(Array("data: next\n\n".utf8)) == [SSEEvent(data: "next")])
    }

    @Test("an event of exactly the limit passes; one byte more is refused, in any split")
    func eventAtAndOverTheLimit() throws {
        let limit = 16
        // One line of exactly `limit` bytes (line ends are not counted).
        let exact = "data: " + String(repeating: "x", count: limit - 6)
        #expect(try events(Array((exact + "\n\n").utf8), maxEventBytes: limit) == [SSEEvent(data: String(repeating: "x", count: limit - 6))])
        #expect(throws: SSEParser.EventTooLarge(limit: limit)) { try events(Array((exact + "y\n\n").utf8), maxEventBytes: limit) }
        // Several lines adding up to exactly the limit (6 + 4 + 6 bytes), with CRLF line ends.
        let lines = "data: a\r\nid: 7\r\nevent:e\r\n"  // 7 + 5 + 7 = 19 bytes: over 16
        #expect(throws: SSEParser.EventTooLarge(limit: limit)) { try events(Array((lines + "\r\n").utf8), maxEventBytes: limit) }
        let fits = "data: a\r\nid: 7\r\ndata:b\r\n\r\n"  // 7 + 5 + 6 = 18 bytes
        #expect(try events(Array(fits.utf8), maxEventBytes: 18) == [SSEEvent(data: "a\nb")])
        let bytes = Array(fits.utf8)
        for cut in 0...bytes.count {
            #expect(try events(bytes, splitAt: [cut], maxEventBytes: 18) == [SSEEvent(data: "a\nb")], "cut at \(cut)")
            #expect(throws: SSEParser.EventTooLarge(limit: 17), "cut at \(cut)") { try events(bytes, splitAt: [cut], maxEventBytes: 17) }
        }
        // Also when the long line arrives in pieces and never ends.
        var parser = SSEParser(maxEventBytes: limit)
        _ = try parser.feed(Array("data: 0123".utf8))
        _ = try parser.feed(Array("456789".utf8))
        #expect(throws: SSEParser.EventTooLarge(limit: limit)) { try parser.feed(Array("!".utf8)) }
    }

    @Test("the limit is per event: many events each at the limit are fine")
    func limitPerEvent() throws {
        let event = "data: 0123456789\n\n"  // 16 bytes of lines
        let got = try events(Array(String(repeating: event, count: 1_000).utf8), maxEventBytes: 16)
        #expect(got.count == 1_000)
        #expect(got.allSatisfy { $0.data == "0123456789" })
        // A blank line ends the count even when it dispatches nothing (a comment-only event).
        #expect(try events(Array(": 0123456789abcd\n\ndata: 0123456789\n\n".utf8), maxEventBytes: 16) == [SSEEvent(data: "0123456789")])
    }

    @Test("data lines that never reach a blank line are refused at the limit, and the parser lets go of them")
    func endlessEventRefused() throws {
        let limit = 64 << 10
        var parser = SSEParser(maxEventBytes: limit)
        #expect(try parser.feed(Array("data: {\"first\":true}\n\n".utf8)) == [SSEEvent(data: #"{"first":true}"#)])
        // Each line is far under the limit; together they are not. Up to 32 MiB is offered, as a hostile server
        // would send without end.
        let piece = Array(String(repeating: "data: 0123456789abcdef0123456789abcdef\n", count: 64).utf8)
        var offered = 0
        var refusal: SSEParser.EventTooLarge?
        while offered < 32 << 20 {
            do {
                let completed = try parser.feed(piece)
                #expect(completed.isEmpty)
            } catch {
                refusal = error
                break
            }
            offered += piece.count
            // What is held stays near the event's size (buffers grow by doubling), never what was offered.
            if parser.bufferedCapacity > 4 * limit {
                Issue.record("\(parser.bufferedCapacity) bytes held after \(offered) bytes offered")
                break
            }
        }
        #expect(refusal == SSEParser.EventTooLarge(limit: limit))
        #expect(offered < 2 * limit, "refused near the limit, after \(offered) bytes")
        #expect(parser.bufferedCapacity == 0, "the refused event's bytes are let go")
        // The stream stays refused, even at what would be an event boundary.
        #expect(throws: SSEParser.EventTooLarge(limit: limit)) { try parser.feed(Array("\n\ndata: x\n\n".utf8)) }
    }

    @Test("a large event's buffers are let go once it is dispatched; small ones are kept for reuse")
    func largeBuffersReleased() throws {
        var parser = SSEParser()
        let big = "data: " + String(repeating: "x", count: 1 << 20) + "\n\n"
        #expect(try parser.feed(Array(big.utf8)).first?.data.utf8.count == 1 << 20)
        #expect(parser.bufferedCapacity <= 2 * SSEParser.keptCapacity)
        #expect(try parser.feed(Array("data: small\n\n".utf8)) == [SSEEvent(data: "small")])
        #expect(parser.bufferedCapacity > 0 && parser.bufferedCapacity <= 2 * SSEParser.keptCapacity)
    }
}
