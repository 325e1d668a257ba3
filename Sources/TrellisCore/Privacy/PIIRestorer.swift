/// Restores placeholders in an answer that arrives in pieces (a streamed reply). Text is passed on as soon as it
/// cannot be part of a placeholder; a trailing piece that could still become one (`[PHO`) is held until the next
/// chunk decides it. The concatenated output equals ``PIIMasker/Session/restore(_:)`` of the whole answer.
public struct PIIRestorer: Sendable {
    private let mapping: [String: String]
    /// Every proper prefix of every placeholder (`[`, `[P`, … `[PHONE_1`).
    private let prefixes: Set<String>
    private let longest: Int
    private var held: String = ""

    /// A restorer for the placeholders in `mapping` (placeholder → original), as ``PIIMasker/Session/mapping`` holds them.
    public init(mapping: [String: String]) {
        self.mapping = mapping
        var prefixes: Set<String> = []
        var longest = 0
        for placeholder in mapping.keys {
            let bytes = Array(placeholder.utf8)
            longest = max(longest, bytes.count)
            for length in stride(from: 1, to: bytes.count, by: 1) {
                prefixes.insert(String(decoding: bytes[..<length], as: UTF8.self))
            }
        }
        self.prefixes = prefixes
        self.longest = longest
    }

    /// A fresh restorer for the same placeholders that puts each original back as the inside of a JSON string
    /// (for streamed tool-call arguments, which must stay valid JSON).
    public func jsonEscaped() -> PIIRestorer {
        PIIRestorer(mapping: PIIMasker.jsonEscaped(mapping))
    }

    /// The restored text that is now certain, for the next `chunk` of the answer.
    public mutating func feed(_ chunk: String) -> String {
        var text = held.isEmpty ? chunk : held + chunk
        held = ""
        guard !mapping.isEmpty else { return text }
        let (ready, hold) = text.withUTF8 { b -> (String, String) in
            // Only the last `[` can open a placeholder still incomplete: a placeholder holds no other `[`.
            var i = b.count
            let floor = max(0, b.count - (longest - 1))
            while i > floor {
                i -= 1
                if b[i] == PIIByte.openBracket {
                    let tail = String(decoding: UnsafeBufferPointer(rebasing: b[i...]), as: UTF8.self)
                    if prefixes.contains(tail) {
                        return (String(decoding: UnsafeBufferPointer(rebasing: b[..<i]), as: UTF8.self), tail)
                    }
                    break
                }
            }
            return (String(decoding: b, as: UTF8.self), "")
        }
        held = hold
        return PIIMasker.restore(ready, mapping: mapping, longest: longest)
    }

    /// What `finish()` gives, for a restorer that is not used again.
    func finishing() -> String {
        var copy = self
        return copy.finish()
    }

    /// The text still held back at the end of the answer (an incomplete placeholder stays as it was).
    public mutating func finish() -> String {
        let rest = held
        held = ""
        return PIIMasker.restore(rest, mapping: mapping, longest: longest)
    }
}
