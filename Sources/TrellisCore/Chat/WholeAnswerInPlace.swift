import OpenAIWire

/// A whole chat completion edited in its own bytes: `model` replaced by the name the client called, everything
/// else as the upstream wrote it; and what accounting needs read on the way (the reported usage, the first
/// choice's text). The answer is then sent without being parsed into a tree and written again.
///
/// It takes only answers it can edit exactly as the tree would: one JSON object (spaces, tabs and line ends around
/// it, none between its tokens), a `model`, a `usage` with `prompt_tokens`, no `error`, and no top-level key twice.
/// Anything else is nil, and the caller parses. What the edit does not check, as in streams (``JSONScan``): a key
/// repeated below the top level that it does not read (it reads the first choice's `message`, that message's
/// `content` and the usage counts), an object past the parser's member count, and lone surrogates in strings;
/// such an answer, which the parser would refuse, is passed on with its `model` replaced.
public struct WholeAnswerInPlace: Sendable, Equatable {
    /// The client's answer.
    public var body: [UInt8]
    /// The upstream's report (clamped as ``TokenUsage/init(json:)`` clamps it).
    public var usage: TokenUsage
    /// The first choice's `message.content`, when it is a string.
    public var answer: String?

    /// The answer in `bytes` with `model` set to `clientModelJSON` (a JSON string's bytes, quotes included).
    public static func edit(_ bytes: UnsafeBufferPointer<UInt8>, clientModelJSON: [UInt8]) -> WholeAnswerInPlace? {
        let start = skipLineSpace(bytes, 0)
        // One pass over the answer: `usage` and the first choice are read as the scan comes to them.
        var top = Top()
        let close = JSONScan.members(
            bytes, at: start,
            reading: { key, value, depth in top.read(bytes, key: key, value: value, depth: depth) },
            { m in top.take(bytes, m) })
        guard let close, skipLineSpace(bytes, close + 1) == bytes.count, !top.refused, let model = top.model,
            let usage = top.usage, let answer = top.answer
        else { return nil }
        var body: [UInt8] = []
        body.reserveCapacity(close + 1 - start + clientModelJSON.count)
        body.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<model.lowerBound]))
        body.append(contentsOf: clientModelJSON)
        body.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[model.upperBound...close]))
        return WholeAnswerInPlace(body: body, usage: usage, answer: answer)
    }

    /// What the edit reads at the top level, taken as the scan comes to it.
    private struct Top {
        /// Every top-level key so far (at most 32 are taken), to refuse a key that comes twice.
        var keys: [Range<Int>] = []
        var model: Range<Int>?
        /// The usage report as ``TokenUsage/init(json:)`` reads it; nil when it has no whole `prompt_tokens`, is
        /// not an object, or holds either count twice.
        var usage: TokenUsage?
        /// The first choice's `message.content` as the tree reads it: `.some(nil)` when it is not a string or there
        /// is none; nil when the first choice holds `message` twice or its message `content` twice.
        var answer: String?? = .some(nil)
        /// A key came twice, there are more than 32, or the answer is an error.
        var refused = false

        mutating func take(_ b: UnsafeBufferPointer<UInt8>, _ m: JSONScan.Member) {
            guard !refused else { return }
            guard keys.count < 32, !keys.contains(where: { b[$0].elementsEqual(b[m.key]) }) else {
                refused = true
                return
            }
            if keys.isEmpty { keys.reserveCapacity(16) }
            keys.append(m.key)
            if JSONScan.key(b, m, is: "model") {
                model = m.value
            } else if JSONScan.key(b, m, is: "error") {
                refused = true
            }
        }

        /// Reads `usage` and `choices` in the scan's pass; steps over the rest.
        mutating func read(_ b: UnsafeBufferPointer<UInt8>, key: Range<Int>, value: Int, depth: Int) -> JSONScan.ValueRead {
            if JSONScan.key(b, key, is: "usage") {
                return b[value] == UInt8(ascii: "{") ? readUsage(b, at: value, depth: depth) : .stepOver
            }
            guard JSONScan.key(b, key, is: "choices"), b[value] == UInt8(ascii: "[") else { return .stepOver }
            // Only the first choice is read (an element that is not an object carries no answer).
            var first = true
            let end = JSONScan.elements(
                b, at: value, depth: depth,
                reading: { element, depth in
                    defer { first = false }
                    return first && b[element] == UInt8(ascii: "{") ? readFirstChoice(b, at: element, depth: depth) : .stepOver
                }, { _ in })
            return end.map { .read(end: $0) } ?? .malformed
        }

        /// The counts; a count twice is taken as a value that does not scan, which sends the answer the tree's way.
        private mutating func readUsage(_ b: UnsafeBufferPointer<UInt8>, at start: Int, depth: Int) -> JSONScan.ValueRead {
            guard let (prompt, completion, close) = JSONScan.values(b, at: start, depth: depth, "prompt_tokens", "completion_tokens")
            else { return .malformed }
            usage = TokenUsage(prompt: prompt.flatMap { number(b, $0) }, completion: completion.flatMap { number(b, $0) })
            return .read(end: close + 1)
        }

        private mutating func readFirstChoice(_ b: UnsafeBufferPointer<UInt8>, at start: Int, depth: Int) -> JSONScan.ValueRead {
            var messages = 0
            let close = JSONScan.members(
                b, at: start, depth: depth,
                reading: { key, value, depth in
                    guard JSONScan.key(b, key, is: "message") else { return .stepOver }
                    messages += 1
                    return b[value] == UInt8(ascii: "{") ? readMessage(b, at: value, depth: depth) : .stepOver
                }, { _ in })
            guard let close else { return .malformed }
            if messages > 1 { answer = nil }
            return .read(end: close + 1)
        }

        private mutating func readMessage(_ b: UnsafeBufferPointer<UInt8>, at start: Int, depth: Int) -> JSONScan.ValueRead {
            var content: Range<Int>?
            var repeated = false
            let close = JSONScan.members(b, at: start, depth: depth) { m in
                guard JSONScan.key(b, m, is: "content") else { return }
                repeated = repeated || content != nil
                content = m.value
            }
            guard let close else { return .malformed }
            answer = repeated ? nil : .some(content.flatMap { JSONScan.decodeString(b, $0) })
            return .read(end: close + 1)
        }
    }

    /// The number literal in `range`, or nil when the value there is not a number.
    private static func number(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> JSONNumber? {
        let first = b[range.lowerBound]
        guard first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else { return nil }
        return JSONNumber(validatedLiteral: String(decoding: UnsafeBufferPointer(rebasing: b[range]), as: UTF8.self))
    }

    /// Past spaces, tabs and line ends: around a whole body, unlike between an SSE event's tokens, a line end is
    /// harmless.
    private static func skipLineSpace(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
        var i = start
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 }
        return i
    }
}
