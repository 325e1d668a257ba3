import Foundation

/// Text normalisation for comparing a model's answer with an expected one, in Chinese as well as English. Two
/// answers that differ only in width, case, spacing or the punctuation style of their script compare equal:
///
/// 1. Unicode NFKC: full-width letters, digits and ASCII punctuation become half-width (`ＡＢＣ１２３` → `ABC123`,
///    `，！？：；（）` → `,!?:;()`), the ideographic space becomes a space, `…` becomes `...`.
/// 2. The Chinese punctuation NFKC leaves alone becomes its ASCII counterpart: `。` → `.`, `、` → `,`, `“”「」` → `"`,
///    `‘’『』` → `'`, `【】〔〕〖〗` → `[]`, `《》〈〉` → `<>`, dashes (`—`, `–`, `―`, `−`…) → `-`, `⋯` → `...`, `〜` → `~`.
/// 3. Lower case.
/// 4. Zero-width spaces and byte-order marks are dropped; every run of whitespace (line breaks included) becomes one
///    space, and a run next to a Han or kana character is removed altogether: Chinese and Japanese are written
///    without spaces, and the optional space between Chinese and Latin text carries no meaning, so `合同 期限`,
///    `GPT-4 模型` and `你好, 世界` read as `合同期限`, `gpt-4模型` and `你好,世界`. Hangul is not included: Korean
///    separates words with spaces.
/// 5. Trimmed, and, since this compares whole answers, stripped of the punctuation that ends or wraps a sentence:
///    trailing `. , ! ? ; :`, quotes at either end, and a bracket pair that encloses the whole text (`《红楼梦》` →
///    `红楼梦`). Other leading punctuation stays, so `-5` does not equal `5`, nor `.NET` `NET`, nor `C#` `C`.
///
/// The work is linear in the length of the text.
public enum EvalText {
    public static func normalize(_ text: String) -> String {
        let folded = text.precomposedStringWithCompatibilityMapping.lowercased()
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(folded.unicodeScalars.count)
        var pendingSpace = false
        for scalar in folded.unicodeScalars {
            if isIgnorable(scalar) { continue }
            if scalar.properties.isWhitespace {
                pendingSpace = !out.isEmpty
                continue
            }
            let mapped = ascii(for: scalar)
            if pendingSpace, let last = out.last, !isSpaceless(last), !isSpaceless(mapped) {
                out.append(" ")
            }
            pendingSpace = false
            out.append(mapped)
            if scalar.value == 0x22EF { out.append(contentsOf: [".", "."]) }  // ⋯ is three dots
        }
        let (start, end) = stripEnds(out)
        var result = String.UnicodeScalarView()
        result.append(contentsOf: out[start..<end])
        return String(result)
    }

    /// Han ideographs and kana: scripts written without spaces between words.
    static func isSpaceless(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0xAC00...0xD7AF, 0x1100...0x11FF, 0x3130...0x318F: false  // Hangul
        default: SearchTokenizer.isCJK(s)
        }
    }

    /// Zero-width space, word joiner and byte-order mark: invisible, and not whitespace to Unicode.
    private static func isIgnorable(_ s: Unicode.Scalar) -> Bool {
        s.value == 0x200B || s.value == 0x2060 || s.value == 0xFEFF
    }

    /// The ASCII counterpart of punctuation that NFKC keeps as it is (the first of three dots for `⋯`); other scalars
    /// map to themselves.
    private static func ascii(for s: Unicode.Scalar) -> Unicode.Scalar {
        switch s.value {
        case 0x3002: "."  // 。
        case 0x3001: ","  // 、
        case 0x201C, 0x201D, 0x201E, 0x300C, 0x300D: "\""  // “ ” „ 「 」
        case 0x2018, 0x2019, 0x300E, 0x300F: "'"  // ‘ ’ 『 』
        case 0x3010, 0x3014, 0x3016: "["  // 【 〔 〖
        case 0x3011, 0x3015, 0x3017: "]"  // 】 〕 〗
        case 0x300A, 0x3008: "<"  // 《 〈
        case 0x300B, 0x3009: ">"  // 》 〉
        case 0x2010, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212: "-"  // hyphen, dashes, minus sign
        case 0x22EF: "."  // ⋯
        case 0x301C: "~"  // 〜
        default: s
        }
    }

    /// The bounds of `scalars` without the trimmed spaces and punctuation described in step 5.
    private static func stripEnds(_ scalars: [Unicode.Scalar]) -> (Int, Int) {
        let partner = closingPartners(scalars)
        var start = 0
        var end = scalars.count
        while start < end {
            let first = scalars[start]
            let last = scalars[end - 1]
            if first == " " || isQuote(first) {
                start += 1
            } else if last == " " || isQuote(last) || isSentenceEnd(last) {
                end -= 1
            } else if partner[start] == end - 1 {
                start += 1
                end -= 1
            } else {
                break
            }
        }
        return (start, end)
    }

    /// For each opening bracket, the index of the closing bracket that balances it (-1 when none does), found with one
    /// stack pass so that checking whether a pair wraps the text takes constant time.
    private static func closingPartners(_ scalars: [Unicode.Scalar]) -> [Int] {
        var partner = [Int](repeating: -1, count: scalars.count)
        var open: [Int] = []
        for (i, s) in scalars.enumerated() {
            if opening(for: s) == nil, closing(for: s) != nil {
                open.append(i)
            } else if let opener = opening(for: s), let top = open.last, scalars[top] == opener {
                open.removeLast()
                partner[top] = i
            }
        }
        return partner
    }

    private static func closing(for s: Unicode.Scalar) -> Unicode.Scalar? {
        switch s {
        case "(": ")"
        case "[": "]"
        case "{": "}"
        case "<": ">"
        default: nil
        }
    }

    private static func opening(for s: Unicode.Scalar) -> Unicode.Scalar? {
        switch s {
        case ")": "("
        case "]": "["
        case "}": "{"
        case ">": "<"
        default: nil
        }
    }

    private static func isQuote(_ s: Unicode.Scalar) -> Bool {
        s == "\"" || s == "'" || s == "`"
    }

    private static func isSentenceEnd(_ s: Unicode.Scalar) -> Bool {
        s == "." || s == "," || s == "!" || s == "?" || s == ";" || s == ":"
    }
}
