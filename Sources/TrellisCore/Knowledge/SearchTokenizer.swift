import Foundation

/// Turns text into the terms the keyword index stores and queries match, so that Chinese works as well as
/// English: SQLite's unicode61 tokenizer would make a whole run of Han characters one token, and trigram
/// indexes cannot match one- or two-character queries. Text is NFKC-normalised (full-width letters and
/// digits become ASCII) and lower-cased; runs of CJK characters become overlapping bigrams plus a unigram
/// per character; other letters and digits become words.
public enum SearchTokenizer {
    /// Terms for indexing: every CJK character as a unigram and every adjacent pair as a bigram, and words.
    public static func indexTerms(_ text: String) -> [String] {
        terms(text, forQuery: false)
    }

    /// Terms for a query: a CJK run of one character is its unigram; a longer run is its bigrams (more
    /// precise than unigrams, and each is in the index); words as for indexing.
    public static func queryTerms(_ text: String) -> [String] {
        terms(text, forQuery: true)
    }

    static func terms(_ text: String, forQuery: Bool) -> [String] {
        let normalized = text.precomposedStringWithCompatibilityMapping.lowercased()
        var out: [String] = []
        var word: [Unicode.Scalar] = []
        var cjk: [Unicode.Scalar] = []
        func flushWord() {
            if !word.isEmpty {
                var s = String.UnicodeScalarView()
                s.append(contentsOf: word)
                out.append(String(s))
                word.removeAll(keepingCapacity: true)
            }
        }
        func flushCJK() {
            guard !cjk.isEmpty else { return }
            if cjk.count == 1 || !forQuery {
                for c in cjk { out.append(String(Character(c))) }
            }
            if cjk.count >= 2 {
                for i in 0..<(cjk.count - 1) {
                    var s = String.UnicodeScalarView()
                    s.append(cjk[i])
                    s.append(cjk[i + 1])
                    out.append(String(s))
                }
            }
            cjk.removeAll(keepingCapacity: true)
        }
        for scalar in normalized.unicodeScalars {
            if isCJK(scalar) {
                flushWord()
                cjk.append(scalar)
            } else if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                flushCJK()
                if scalar.properties.generalCategory == .nonspacingMark { continue }
                word.append(scalar)
                if word.count >= 64 { flushWord() }
            } else {
                flushWord()
                flushCJK()
            }
        }
        flushWord()
        flushCJK()
        return out
    }

    /// Han ideographs (with extensions and compatibility forms), kana and Hangul: scripts written without
    /// spaces between words.
    public static func isCJK(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x2FA1F,  // Han
            0x3040...0x309F, 0x30A0...0x30FF, 0x31F0...0x31FF,  // kana
            0xAC00...0xD7AF, 0x1100...0x11FF, 0x3130...0x318F:  // Hangul
            return true
        default:
            return false
        }
    }
}

/// Reciprocal-rank fusion: each list contributes 1 / (k + rank) for every item it holds (rank from 1), and
/// items are ordered by the sum. k = 60 as in Cormack et al.; ties keep the order of first appearance.
public enum RankFusion {
    public static func reciprocalRank<ID: Hashable>(_ rankings: [[ID]], k: Double = 60) -> [(id: ID, score: Double)] {
        var scores: [ID: Double] = [:]
        var order: [ID] = []
        for ranking in rankings {
            for (i, id) in ranking.enumerated() {
                if scores[id] == nil { order.append(id) }
                scores[id, default: 0] += 1 / (k + Double(i + 1))
            }
        }
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        return order.map { ($0, scores[$0] ?? 0) }.sorted {
            $0.score != $1.score ? $0.score > $1.score : (position[$0.id] ?? 0) < (position[$1.id] ?? 0)
        }
    }
}
