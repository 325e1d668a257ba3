import OpenAIWire

// Putting originals back in place of placeholders.

extension PIIMasker {
    /// `text` with each placeholder in `mapping` replaced by its original; `longest` is the longest placeholder in bytes.
    static func restore(_ text: String, mapping: [String: String], longest: Int) -> String {
        guard !mapping.isEmpty else { return text }
        var contiguous = text
        let restored: String? = contiguous.withUTF8 { b in
            var out: [UInt8] = []
            var copied = 0
            var i = 0
            while i < b.count {
                if b[i] == PIIByte.openBracket {
                    var j = i + 1
                    let limit = min(b.count, i + longest)
                    while j < limit && b[j] != PIIByte.closeBracket && b[j] != PIIByte.openBracket { j += 1 }
                    if j < limit, b[j] == PIIByte.closeBracket,
                        let original = mapping[String(decoding: UnsafeBufferPointer(rebasing: b[i...j]), as: UTF8.self)]
                    {
                        if out.isEmpty { out.reserveCapacity(b.count + 64) }
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: b[copied..<i]))
                        out.append(contentsOf: original.utf8)
                        i = j + 1
                        copied = i
                        continue
                    }
                }
                i += 1
            }
            if copied == 0 { return nil }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[copied...]))
            return String(decoding: out, as: UTF8.self)
        }
        return restored ?? text
    }

    /// `mapping` with each original written as the inside of a JSON string.
    static func jsonEscaped(_ mapping: [String: String]) -> [String: String] {
        mapping.mapValues { original in
            guard original.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return original }
            let quoted = JSONWriter.string(.string(original))
            return String(quoted.dropFirst().dropLast())
        }
    }
}
