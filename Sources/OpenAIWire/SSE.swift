/// One server-sent event: its `event:` type (nil when absent) and its `data:` lines joined with "\n".
public struct SSEEvent: Sendable, Equatable {
    public var event: String?
    public var data: String

    public init(event: String? = nil, data: String) {
        self.event = event
        self.data = data
    }

    /// OpenAI's end-of-stream sentinel.
    public var isDone: Bool { data == "[DONE]" }
}

/// An incremental parser of the `text/event-stream` format (WHATWG HTML §9.2): feed it bytes as they arrive,
/// in any split, and it returns the events completed so far. Handles LF, CRLF and CR line ends, comments and
/// multi-line data; `id` and `retry` fields are read and ignored.
///
/// Memory is bounded: an event may hold at most `maxEventBytes` bytes of lines (line ends not counted), so a
/// sender that never ends its event (or its line) is refused at the limit instead of being buffered without end.
public struct SSEParser: Sendable {
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var eventType: String?
    private var lastWasCR = false
    /// The bytes of the current event's lines so far, the unfinished line's included.
    private var eventBytes = 0
    /// Set once an event went over the limit: the stream is refused from then on.
    private var refused = false
    /// The most bytes of lines (line ends not counted) one event may have; a longer event, or a longer line, is
    /// an error rather than unbounded growth.
    public let maxEventBytes: Int
    /// How many bytes of a leading UTF-8 byte-order mark (EF BB BF) have been seen; 3 once the check is over.
    private var bomMatched = 0

    public static let defaultMaxEventBytes = 8 << 20
    /// Buffers up to this size are kept between lines and events for reuse; a larger one (after a large event)
    /// is let go, so an idle stream does not keep its largest event's memory.
    static let keptCapacity = 64 << 10

    /// An event went over ``maxEventBytes``. The parser has let go of what it had buffered and refuses the rest
    /// of the stream.
    public struct EventTooLarge: Error, Sendable, Equatable {
        public let limit: Int
    }

    public init(maxEventBytes: Int = defaultMaxEventBytes) {
        self.maxEventBytes = maxEventBytes
    }

    /// What the parser holds on to between feeds, in bytes of buffer capacity (for tests).
    var bufferedCapacity: Int { line.capacity + data.capacity }

    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(EventTooLarge) -> [SSEEvent] {
        if refused { throw EventTooLarge(limit: maxEventBytes) }
        var events: [SSEEvent] = []
        var failure: EventTooLarge?
        let limit = maxEventBytes
        // One call through the sequence's witness for the whole buffer (NIO's ByteBufferView, arrays), then a
        // scan over raw bytes: byte-at-a-time iteration through an unspecialised generic costs several
        // witness calls per byte.
        let scanned: Void? = bytes.withContiguousStorageIfAvailable { stored in
            do {
                try scan(UnsafeRawBufferPointer(stored), into: &events)
            } catch {
                failure = (error as? EventTooLarge) ?? EventTooLarge(limit: limit)
            }
        }
        if scanned == nil {
            let copy = Array(bytes)
            copy.withUnsafeBytes { raw in
                do {
                    try scan(raw, into: &events)
                } catch {
                    failure = (error as? EventTooLarge) ?? EventTooLarge(limit: limit)
                }
            }
        }
        if let failure { throw failure }
        return events
    }

    /// Lets go of everything buffered and refuses the stream from now on.
    private mutating func refuse() -> EventTooLarge {
        refused = true
        line = []
        data = []
        hasData = false
        eventType = nil
        return EventTooLarge(limit: maxEventBytes)
    }

    private mutating func scan(_ buffer: UnsafeRawBufferPointer, into events: inout [SSEEvent]) throws(EventTooLarge) {
        var i = 0
        let n = buffer.count
        while i < n {
            let b = buffer[i]
            if bomMatched < 3 {
                let bom: (UInt8, UInt8, UInt8) = (0xEF, 0xBB, 0xBF)
                let expected = bomMatched == 0 ? bom.0 : bomMatched == 1 ? bom.1 : bom.2
                if b == expected {
                    bomMatched += 1
                    i += 1
                    continue
                }
                // Not a BOM after all: the bytes held back are ordinary text.
                let held = bomMatched
                bomMatched = 3
                for h in [bom.0, bom.1, bom.2].prefix(held) { try take(h, into: &events) }
            }
            switch b {
            case 0x0A, 0x0D:
                try take(b, into: &events)
                i += 1
            default:
                // The rest of the line in one piece.
                lastWasCR = false
                var end = i + 1
                if let raw = buffer.baseAddress {
                    // Eight bytes at a time to the line's end, then byte by byte through the last few.
                    while end + 8 <= n {
                        let word = ByteWord.load(raw, end)
                        let inLine = ByteWord.before(ByteWord.equal(word, 0x0A) | ByteWord.equal(word, 0x0D))
                        end += inLine
                        if inLine < 8 { break }
                    }
                }
                while end < n, buffer[end] != 0x0A, buffer[end] != 0x0D { end += 1 }
                if eventBytes + (end - i) > maxEventBytes { throw refuse() }
                eventBytes += end - i
                line.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[i..<end]))
                i = end
            }
        }
    }

    private mutating func take(_ b: UInt8, into events: inout [SSEEvent]) throws(EventTooLarge) {
        switch b {
        case 0x0A:
            if lastWasCR {
                lastWasCR = false
                return
            }
            if let event = endLine() { events.append(event) }
        case 0x0D:
            lastWasCR = true
            if let event = endLine() { events.append(event) }
        default:
            lastWasCR = false
            if eventBytes >= maxEventBytes { throw refuse() }
            eventBytes += 1
            line.append(b)
        }
    }

    /// At end of input: an event without its final blank line is discarded, as the specification says.
    public mutating func finish() {
        line.removeAll()
        data.removeAll()
        hasData = false
        eventType = nil
        eventBytes = 0
    }

    private mutating func endLine() -> SSEEvent? {
        defer { line.removeAll(keepingCapacity: line.capacity <= Self.keptCapacity) }
        if line.isEmpty {
            eventBytes = 0
            guard hasData else {
                eventType = nil
                return nil
            }
            if data.last == 0x0A { data.removeLast() }
            let event = SSEEvent(event: eventType, data: String(decoding: data, as: UTF8.self))
            data.removeAll(keepingCapacity: data.capacity <= Self.keptCapacity)
            hasData = false
            eventType = nil
            return event
        }
        if line[0] == UInt8(ascii: ":") { return nil }
        var field = line[...]
        var value = line[line.endIndex...]
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            field = line[..<colon]
            var v = line[(colon + 1)...]
            if v.first == UInt8(ascii: " ") { v = v.dropFirst() }
            value = v
        }
        if field.withUnsafeBufferPointer({ $0.sameBytes(as: "data") }) {
            data.append(contentsOf: value)
            data.append(0x0A)
            hasData = true
        } else if field.withUnsafeBufferPointer({ $0.sameBytes(as: "event") }) {
            eventType = String(decoding: value, as: UTF8.self)
        }
        return nil
    }
}

/// Writes events in the framing OpenAI's API uses: `data: <payload>\n\n`, and `data: [DONE]\n\n` at the end.
public enum SSEWriter {
    public static let done: [UInt8] = Array("data: [DONE]\n\n".utf8)

    public static func frame(json: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(json.count + 8)
        out.append(contentsOf: "data: ".utf8)
        out.append(contentsOf: json)
        out.append(0x0A)
        out.append(0x0A)
        return out
    }

    public static func frame(_ value: JSONValue) -> [UInt8] {
        frame(json: JSONWriter.encode(value))
    }

    /// A typed event (the Responses API's framing): `event: <type>` then the JSON on one `data:` line. JSON as
    /// written here never holds a raw line break, so one line carries it.
    public static func frame(_ value: JSONValue, event: String) -> [UInt8] {
        var out: [UInt8] = Array("event: \(event)\n".utf8)
        out.append(contentsOf: frame(value))
        return out
    }

    /// A payload with line breaks is split over several `data:` lines, which a reader joins back with "\n".
    public static func frame(text: String, event: String? = nil) -> [UInt8] {
        var out: [UInt8] = []
        if let event { out.append(contentsOf: "event: \(event)\n".utf8) }
        // Any line break (LF, CR, CRLF) inside the payload starts a new data line, so the framing holds.
        // ("\r\n" is one Character in Swift.)
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            out.append(contentsOf: "data: ".utf8)
            out.append(contentsOf: line.utf8)
            out.append(0x0A)
        }
        out.append(0x0A)
        return out
    }
}
