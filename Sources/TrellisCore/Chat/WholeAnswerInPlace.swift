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
        guard let object = JSONScan.object(bytes, at: start), skipLineSpace(bytes, object.close + 1) == bytes.count,
            object.members.count <= 32, let top = Top(bytes, object.members), let model = top.model,
            let usageRange = top.usage, let usage = reportedUsage(bytes, usageRange)
        else { return nil }
        guard let answer = firstAnswer(bytes, choices: top.choices) else { return nil }
        var body: [UInt8] = []
        body.reserveCapacity(object.close + 1 - start + clientModelJSON.count)
        body.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<model.lowerBound]))
        body.append(contentsOf: clientModelJSON)
        body.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[model.upperBound...object.close]))
        return WholeAnswerInPlace(body: body, usage: usage, answer: answer)
    }

    /// The top-level members the edit reads; nil when any key comes twice or the answer is an error.
    private struct Top {
        var model: Range<Int>?
        var usage: Range<Int>?
        var choices: Range<Int>?

        init?(_ b: UnsafeBufferPointer<UInt8>, _ members: [JSONScan.Member]) {
            for (n, m) in members.enumerated() {
                for earlier in members[..<n] where b[earlier.key].elementsEqual(b[m.key]) { return nil }
                if JSONScan.key(b, m, is: "model") {
                    model = m.value
                } else if JSONScan.key(b, m, is: "usage") {
                    usage = m.value
                } else if JSONScan.key(b, m, is: "choices") {
                    choices = m.value
                } else if JSONScan.key(b, m, is: "error") {
                    return nil
                }
            }
        }
    }

    /// The usage report as ``TokenUsage/init(json:)`` reads it; nil when it has no whole `prompt_tokens`, is not an
    /// object, or holds either count twice. (The object was scanned, so its numbers are valid literals.)
    private static func reportedUsage(_ b: UnsafeBufferPointer<UInt8>, _ usage: Range<Int>) -> TokenUsage? {
        guard b[usage.lowerBound] == UInt8(ascii: "{"),
            let (prompt, completion) = JSONScan.values(b, at: usage.lowerBound, "prompt_tokens", "completion_tokens")
        else { return nil }
        return TokenUsage(prompt: prompt.flatMap { number(b, $0) }, completion: completion.flatMap { number(b, $0) })
    }

    /// The number literal in `range`, or nil when the value there is not a number.
    private static func number(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> JSONNumber? {
        let first = b[range.lowerBound]
        guard first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else { return nil }
        return JSONNumber(validatedLiteral: String(decoding: UnsafeBufferPointer(rebasing: b[range]), as: UTF8.self))
    }

    /// The first choice's `message.content` as the tree reads it: `.some(nil)` when it is not a string or there is
    /// none; nil when the first choice holds `message` twice or its message `content` twice. (The answer was
    /// scanned whole, so the first element is found without scanning the others.)
    private static func firstAnswer(_ b: UnsafeBufferPointer<UInt8>, choices: Range<Int>?) -> String?? {
        guard let choices, b[choices.lowerBound] == UInt8(ascii: "[") else { return .some(nil) }
        var first = choices.lowerBound + 1
        while b[first] == 0x20 || b[first] == 0x09 { first += 1 }
        guard b[first] == UInt8(ascii: "{") else { return .some(nil) }
        guard let message = member(b, in: first, "message") else { return nil }
        guard let message, b[message.lowerBound] == UInt8(ascii: "{") else { return .some(nil) }
        guard let content = member(b, in: message.lowerBound, "content") else { return nil }
        return .some(content.flatMap { JSONScan.decodeString(b, $0) })
    }

    /// The value of the member `name` of the object at `object` (`.some(nil)` when it has none); nil when it has
    /// it twice.
    private static func member(_ b: UnsafeBufferPointer<UInt8>, in object: Int, _ name: StaticString) -> Range<Int>?? {
        var found: Range<Int>?
        var repeated = false
        _ = JSONScan.members(b, at: object) { m in
            guard JSONScan.key(b, m, is: name) else { return }
            repeated = repeated || found != nil
            found = m.value
        }
        return repeated ? nil : .some(found)
    }

    /// Past spaces, tabs and line ends: around a whole body, unlike between an SSE event's tokens, a line end is
    /// harmless.
    private static func skipLineSpace(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
        var i = start
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 }
        return i
    }
}
