extension PIIMasker {
    /// The masking state of one request: placeholders handed out so far and what they stand for.
    public struct Session: Sendable {
        public let masker: PIIMasker
        /// Placeholder → original text, as first seen (`[PHONE_1]` → `138-1234-5678`).
        public private(set) var mapping: [String: String] = [:]
        /// Masked occurrences per kind (a value seen twice counts twice).
        public private(set) var counts: [Kind: Int] = [:]
        private var placeholders: [Key: String] = [:]
        private var next: [Kind: Int] = [:]
        private var longestPlaceholder = 0

        /// The same value of the same kind gets the same placeholder. Phones are keyed by their 11 national digits
        /// (with or without +86 and separators), cards by their digits, ID numbers upper-cased, e-mail addresses
        /// lower-cased, custom matches as matched.
        private struct Key: Hashable {
            let kind: Kind
            let value: String
        }

        public init(masker: PIIMasker) {
            self.masker = masker
        }

        /// `text` with every match replaced by its placeholder.
        ///
        /// Values are found in the normalised copy of the text (``PIINormalizedText``: full-width forms folded,
        /// zero-width characters dropped) and replaced in the text as written: everything outside the matches is
        /// sent exactly as the user typed it, and each placeholder restores to the original characters of its span.
        public mutating func mask(_ text: String) -> String {
            var contiguous = text
            return contiguous.withUTF8 { original -> String? in
                guard let normalized = PIINormalizedText(original) else {
                    return replace(masker.spans(in: original), in: original)
                }
                let spans = normalized.bytes.withUnsafeBufferPointer { masker.spans(in: $0) }
                let mapped = spans.map { span in
                    var span = span
                    let range = normalized.originalRange(span.start, span.end, in: original)
                    span.start = range.lowerBound
                    span.end = range.upperBound
                    return span
                }
                return replace(mapped, in: original)
            } ?? text
        }

        /// `b` with each span (sorted, not overlapping, in `b`'s offsets) replaced by its placeholder; nil when
        /// there is none.
        private mutating func replace(_ spans: [Span], in b: UnsafeBufferPointer<UInt8>) -> String? {
            if spans.isEmpty { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(b.count)
            var position = 0
            for span in spans {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[position..<span.start]))
                let key = Key(kind: span.kind, value: span.key)
                let placeholder: String
                if let known = placeholders[key] {
                    placeholder = known
                } else {
                    let n = next[span.kind, default: 0] + 1
                    next[span.kind] = n
                    placeholder = "[\(span.kind.label)_\(n)]"
                    placeholders[key] = placeholder
                    mapping[placeholder] = String(decoding: UnsafeBufferPointer(rebasing: b[span.start..<span.end]), as: UTF8.self)
                    longestPlaceholder = max(longestPlaceholder, placeholder.utf8.count)
                }
                counts[span.kind, default: 0] += 1
                out.append(contentsOf: placeholder.utf8)
                position = span.end
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[position...]))
            return String(decoding: out, as: UTF8.self)
        }

        /// `text` with every placeholder of this session put back to its original. Unknown placeholders stay.
        public func restore(_ text: String) -> String {
            PIIMasker.restore(text, mapping: mapping, longest: longestPlaceholder)
        }

        /// JSON text (tool-call arguments) with every placeholder of this session put back as JSON string content:
        /// a `"`, `\` or control character in an original is escaped, so the arguments stay valid JSON.
        public func restore(jsonText text: String) -> String {
            PIIMasker.restore(text, mapping: PIIMasker.jsonEscaped(mapping), longest: longestPlaceholder)
        }

        /// A restorer for a streamed answer, knowing the placeholders handed out so far.
        public func restorer() -> PIIRestorer {
            PIIRestorer(mapping: mapping)
        }
    }
}
