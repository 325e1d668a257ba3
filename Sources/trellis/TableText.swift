/// Text measured the way a terminal lays it out, for aligned tables with Chinese, Japanese or Korean text in them.
///
/// A terminal gives East Asian wide and fullwidth characters two columns, combining marks none, and everything else
/// one; `String.count` counts characters, so padding by it misaligns every row holding Chinese. The ranges follow
/// Markus Kuhn's `wcwidth` (East Asian Width W and F), with the emoji blocks terminals draw two columns wide.
enum TableText {
    /// The columns `text` takes on a terminal.
    static func displayWidth(_ text: some StringProtocol) -> Int {
        text.reduce(0) { $0 + width(of: $1) }
    }

    /// The columns one character takes: its base scalar's width (the marks and joiners after it take none).
    static func width(of character: Character) -> Int {
        guard let first = character.unicodeScalars.first else { return 0 }
        return width(of: first)
    }

    /// The columns one scalar takes: 0 for combining marks, format characters and controls, 2 for wide and fullwidth
    /// ones, 1 for the rest.
    static func width(of scalar: Unicode.Scalar) -> Int {
        let v = scalar.value
        if v == 0 { return 0 }
        if v < 0x7F { return v < 0x20 ? 0 : 1 }
        switch scalar.properties.generalCategory {
        case .control, .nonspacingMark, .enclosingMark: return 0
        case .format where v != 0x00AD: return 0
        default: break
        }
        if (0x1160...0x11FF).contains(v) { return 0 }  // Hangul medial vowels and final consonants join the syllable
        return isWide(v) ? 2 : 1
    }

    /// East Asian Wide and Fullwidth code points.
    static func isWide(_ v: UInt32) -> Bool {
        guard v >= 0x1100 else { return false }
        for range in wideRanges where range.contains(v) { return true }
        return false
    }

    static let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F,  // Hangul Jamo initial consonants
        0x231A...0x231B,  // watch, hourglass
        0x2329...0x232A,  // angle brackets
        0x23E9...0x23EC, 0x23F0...0x23F0, 0x23F3...0x23F3,
        0x25FD...0x25FE, 0x2614...0x2615, 0x2648...0x2653, 0x267F...0x267F, 0x2693...0x2693, 0x26A1...0x26A1,
        0x26AA...0x26AB, 0x26BD...0x26BE, 0x26C4...0x26C5, 0x26CE...0x26CE, 0x26D4...0x26D4, 0x26EA...0x26EA,
        0x26F2...0x26F3, 0x26F5...0x26F5, 0x26FA...0x26FA, 0x26FD...0x26FD, 0x2705...0x2705, 0x270A...0x270B,
        0x2728...0x2728, 0x274C...0x274C, 0x274E...0x274E, 0x2753...0x2755, 0x2757...0x2757, 0x2795...0x2797,
        0x27B0...0x27B0, 0x27BF...0x27BF, 0x2B1B...0x2B1C, 0x2B50...0x2B50, 0x2B55...0x2B55,
        0x2E80...0x303E,  // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation (not U+303F)
        0x3041...0x33FF,  // Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo, Kanbun, CJK strokes, enclosed CJK
        0x3400...0x4DBF,  // CJK Extension A
        0x4E00...0x9FFF,  // CJK Unified Ideographs
        0xA000...0xA4CF,  // Yi
        0xA960...0xA97F,  // Hangul Jamo Extended-A
        0xAC00...0xD7A3,  // Hangul syllables
        0xF900...0xFAFF,  // CJK compatibility ideographs
        0xFE10...0xFE19,  // vertical forms
        0xFE30...0xFE6F,  // CJK compatibility forms, small form variants
        0xFF00...0xFF60,  // fullwidth forms
        0xFFE0...0xFFE6,  // fullwidth signs
        0x16FE0...0x16FE4, 0x17000...0x18CFF,  // Tangut
        0x1B000...0x1B2FF,  // Kana supplement and extensions, Nushu
        0x1F004...0x1F004, 0x1F0CF...0x1F0CF, 0x1F18E...0x1F18E, 0x1F191...0x1F19A,
        0x1F200...0x1F2FF,  // enclosed ideographic supplement
        0x1F300...0x1F64F,  // pictographs, emoticons (terminals draw them wide)
        0x1F680...0x1F6FF,  // transport and map symbols
        0x1F7E0...0x1F7EB, 0x1F90C...0x1F9FF, 0x1FA70...0x1FAFF,
        0x20000...0x2FFFD,  // CJK Extensions B–F, compatibility supplement
        0x30000...0x3FFFD,  // CJK Extension G and later
    ]

    /// `text` padded with spaces on the right to `width` columns (unchanged when already as wide).
    static func pad(_ text: String, to width: Int) -> String {
        let missing = width - displayWidth(text)
        return missing > 0 ? text + String(repeating: " ", count: missing) : text
    }

    /// `text` cut to at most `width` columns, ending in "…" when cut. Never splits a character, so a cut before a
    /// wide character may leave the result one column short.
    static func truncate(_ text: String, toWidth width: Int) -> String {
        guard displayWidth(text) > width else { return text }
        guard width > 0 else { return "" }
        var out = ""
        var used = 0
        for character in text {
            let w = self.width(of: character)
            if used + w > width - 1 { break }
            out.append(character)
            used += w
        }
        return out + "…"
    }

    /// A table cell on one line: line breaks, tabs and other line separators become a space (a CR LF one space),
    /// other control characters (escape sequences included) are dropped.
    static func cell(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var afterCR = false
        for scalar in text.unicodeScalars {
            defer { afterCR = scalar == "\r" }
            switch scalar {
            case "\n" where afterCR: continue
            case "\n", "\r", "\t", "\u{0B}", "\u{0C}", "\u{85}", "\u{2028}", "\u{2029}": out.append(" ")
            default:
                if scalar.properties.generalCategory == .control { continue }
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Rows laid out in columns two spaces apart, each column as wide as its widest cell (by display width) or
    /// `maxWidths[i]` when given, longer cells cut with "…" (never the first row, the header). The last column is
    /// not padded.
    static func layout(_ rows: [[String]], maxWidths: [Int?] = []) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        let cleaned = rows.enumerated().map { index, row in
            (0..<columns).map { i -> String in
                let text = cell(i < row.count ? row[i] : "")
                guard index > 0, i < maxWidths.count, let limit = maxWidths[i] else { return text }
                return truncate(text, toWidth: limit)
            }
        }
        var widths = Array(repeating: 0, count: columns)
        for row in cleaned {
            for (i, text) in row.enumerated() { widths[i] = max(widths[i], displayWidth(text)) }
        }
        return cleaned.map { row in
            row.enumerated().map { i, text in i == columns - 1 ? text : pad(text, to: widths[i]) }.joined(separator: "  ")
        }
    }
}
