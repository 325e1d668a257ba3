import Foundation

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
        public mutating func mask(_ text: String) -> String {
            var contiguous = text
            let masked: String? = contiguous.withUTF8 { b in
                let spans = masker.spans(in: b)
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
            return masked ?? text
        }

        /// `text` with every placeholder of this session put back to its original. Unknown placeholders stay.
        public func restore(_ text: String) -> String {
            PIIMasker.restore(text, mapping: mapping, longest: longestPlaceholder)
        }

        /// A restorer for a streamed answer, knowing the placeholders handed out so far.
        public func restorer() -> PIIRestorer {
            PIIRestorer(mapping: mapping)
        }
    }
}
