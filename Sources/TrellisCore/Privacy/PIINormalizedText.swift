/// The copy of a text the PII detectors read: what people type folded into the ASCII forms the detectors know.
///
/// - Full-width ASCII (U+FF01–U+FF5E: `１３８`, `＠`, `．`, `（`, `－`) becomes its ASCII character, except the
///   full-width grave accent U+FF40, which stays as it is: it takes no part in any value, and turning it into a
///   backtick would let `｀…｀` open a code span and hide what is inside from the masker.
/// - Spaces (U+3000 ideographic space, U+00A0 no-break space, U+2000–U+200A, U+202F, U+205F) become a space.
/// - Dashes (U+2010–U+2015, U+2212 minus, U+FE63) become `-`.
/// - Invisible format characters are removed: zero-width space, non-joiner and joiner (U+200B–U+200D), the
///   direction marks and embeddings (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), the word joiner and invisible
///   operators (U+2060–U+2064), the byte order mark U+FEFF, the soft hyphen U+00AD and U+180E.
///
/// Detection runs on this copy; masking replaces spans of the ORIGINAL text (see ``originalRange(_:_:in:)``).
/// A gateway must not rewrite what it was not asked to protect: Chinese text is full of full-width punctuation
/// (`，`, `（`, `：`), and emoji sequences are held together by zero-width joiners, so sending the normalised copy
/// would change every such message. Only the detected values are replaced by placeholders; each placeholder
/// stands for the original characters of its span (full-width digits, a zero-width space inside a number and
/// all), so restoring an answer gives back exactly what the user typed.
struct PIINormalizedText {
    /// The normalised UTF-8 bytes.
    let bytes: [UInt8]
    /// For each normalised byte, the offset in the original text of the byte it was copied from, or of the first
    /// byte of the character it was folded from.
    let origin: [Int]

    /// The normalised copy of `b`, or nil when normalising changes nothing (the detectors then read `b` itself).
    init?(_ b: UnsafeBufferPointer<UInt8>) {
        guard let first = Self.firstChange(b) else { return nil }
        var bytes: [UInt8] = []
        var origin: [Int] = []
        bytes.reserveCapacity(b.count)
        origin.reserveCapacity(b.count)
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: b[..<first]))
        origin.append(contentsOf: 0..<first)
        var i = first
        while i < b.count {
            switch Self.fold(b, at: i) {
            case .keep:
                bytes.append(b[i])
                origin.append(i)
                i += 1
            case .remove(let length):
                i += length
            case .replace(let ascii, let length):
                bytes.append(ascii)
                origin.append(i)
                i += length
            }
        }
        self.bytes = bytes
        self.origin = origin
    }

    /// The original bytes behind normalised bytes `start..<end` (a non-empty range on character boundaries):
    /// from the first character's first byte to the last character's last byte. Characters removed from the copy
    /// that lie inside the range are part of it; those before or after it are not.
    func originalRange(_ start: Int, _ end: Int, in original: UnsafeBufferPointer<UInt8>) -> Range<Int> {
        let last = origin[end - 1]
        return origin[start]..<(last + Self.sequenceLength(original[last]))
    }

    /// Bytes of the UTF-8 sequence a byte starts (1 for ASCII and for a continuation byte: copied bytes map one
    /// to one, so the last byte of a copied character is a continuation byte of its own).
    static func sequenceLength(_ lead: UInt8) -> Int {
        switch lead {
        case 0xF0...: 4
        case 0xE0...: 3
        case 0xC0...: 2
        default: 1
        }
    }

    enum Fold {
        case keep
        case remove(length: Int)
        case replace(UInt8, length: Int)
    }

    /// What happens to the character starting at `i`.
    static func fold(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> Fold {
        let lead = b[i]
        guard lead == 0xC2 || lead == 0xE1 || lead == 0xE2 || lead == 0xE3 || lead == 0xEF else { return .keep }
        guard i + 1 < b.count else { return .keep }
        let second = b[i + 1]
        if lead == 0xC2 {
            switch second {
            case 0xA0: return .replace(0x20, length: 2)  // U+00A0 no-break space
            case 0xAD: return .remove(length: 2)  // U+00AD soft hyphen
            default: return .keep
            }
        }
        guard i + 2 < b.count else { return .keep }
        let third = b[i + 2]
        switch (lead, second) {
        case (0xE1, 0xA0):
            return third == 0x8E ? .remove(length: 3) : .keep  // U+180E
        case (0xE2, 0x80):
            switch third {
            case 0x80...0x8A, 0xAF: return .replace(0x20, length: 3)  // U+2000–U+200A, U+202F
            case 0x8B...0x8F, 0xAA...0xAE: return .remove(length: 3)  // U+200B–U+200F, U+202A–U+202E
            case 0x90...0x95: return .replace(UInt8(ascii: "-"), length: 3)  // U+2010–U+2015
            default: return .keep
            }
        case (0xE2, 0x81):
            switch third {
            case 0x9F: return .replace(0x20, length: 3)  // U+205F
            case 0xA0...0xA4, 0xA6...0xA9: return .remove(length: 3)  // U+2060–U+2064, U+2066–U+2069
            default: return .keep
            }
        case (0xE2, 0x88):
            return third == 0x92 ? .replace(UInt8(ascii: "-"), length: 3) : .keep  // U+2212
        case (0xE3, 0x80):
            return third == 0x80 ? .replace(0x20, length: 3) : .keep  // U+3000
        case (0xEF, 0xB9):
            return third == 0xA3 ? .replace(UInt8(ascii: "-"), length: 3) : .keep  // U+FE63
        case (0xEF, 0xBB):
            return third == 0xBF ? .remove(length: 3) : .keep  // U+FEFF
        case (0xEF, 0xBC):
            // U+FF01–U+FF3F → 0x21–0x5F
            return third >= 0x81 && third <= 0xBF ? .replace(third - 0x60, length: 3) : .keep
        case (0xEF, 0xBD):
            // U+FF41–U+FF5E → 0x61–0x7E (U+FF40, the full-width grave accent, is kept: see above)
            return third >= 0x81 && third <= 0x9E ? .replace(third - 0x20, length: 3) : .keep
        default:
            return .keep
        }
    }

    /// The offset of the first character normalising changes, if any.
    static func firstChange(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = 0
        while i < b.count {
            let c = b[i]
            if c >= 0xC2 {
                if case .keep = fold(b, at: i) {} else { return i }
            }
            i += 1
        }
        return nil
    }
}
