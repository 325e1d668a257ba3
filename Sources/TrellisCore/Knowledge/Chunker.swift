import Foundation

/// Splits a document into chunks for retrieval, structure first: Markdown headings and blank-line paragraphs,
/// then sentences (English `.!?` and Chinese `。！？；` and full-width `！？；`), then characters. Sizes are
/// measured in estimated tokens (about four ASCII characters, or one CJK character, per token), so one
/// setting suits Chinese and English text alike. Text is cut only between Characters (grapheme clusters),
/// so a UTF-8 sequence, a combining mark or an emoji sequence is never split. Consecutive chunks of one
/// section overlap by about `overlap` tokens of whole sentences.
public struct Chunker: Sendable {
    public struct Chunk: Sendable, Equatable {
        /// 0, 1, 2… in document order.
        public var position: Int
        /// The headings above the chunk, outermost first.
        public var headings: [String]
        public var text: String

        public var headingPath: String { headings.joined(separator: " › ") }
    }

    public var size: Int
    public var overlap: Int

    public static let defaultSize = 256
    public static let defaultOverlap = 32

    public init(size: Int = defaultSize, overlap: Int = defaultOverlap) {
        self.size = max(16, size)
        self.overlap = max(0, min(overlap, self.size / 2))
    }

    /// Estimated tokens in a piece of text.
    public static func weight(_ text: Substring) -> Int {
        let (ascii, other) = counts(text.unicodeScalars)
        return weight(ascii: ascii, other: other)
    }

    static func weight(ascii: Int, other: Int) -> Int { (ascii + 3) / 4 + other }

    /// ASCII scalars, and other scalars that are not nonspacing marks: what `weight` is made of.
    static func counts(_ scalars: some Sequence<Unicode.Scalar>) -> (ascii: Int, other: Int) {
        var ascii = 0
        var other = 0
        for scalar in scalars {
            if scalar.isASCII { ascii += 1 } else if scalar.properties.generalCategory != .nonspacingMark { other += 1 }
        }
        return (ascii, other)
    }

    /// Chunks of `text`, which may be Markdown (headings `#`…`######` set the heading path).
    public func chunk(_ text: String) -> [Chunk] {
        // "\r\n" is one Character, so CRLF (or CR) text would otherwise be a single line without structure.
        let text = text.utf8.contains(13) ? text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n") : text
        var chunks: [Chunk] = []
        var headings: [(level: Int, title: String)] = []
        var paragraph: [Substring] = []
        var section: [String] = []  // paragraphs of the current section

        func flushParagraph() {
            let joined = paragraph.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "\n")
            if !joined.isEmpty { section.append(joined) }
            paragraph.removeAll()
        }
        func flushSection() {
            flushParagraph()
            guard !section.isEmpty else { return }
            let path = headings.map(\.title)
            for piece in pack(section) {
                chunks.append(Chunk(position: chunks.count, headings: path, text: piece))
            }
            section.removeAll()
        }

        var fence: String?  // the marker of the fenced code block the line is in: its `# …` lines are code
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            let marker = trimmed.hasPrefix("```") ? "```" : trimmed.hasPrefix("~~~") ? "~~~" : nil
            if let open = fence {
                if marker == open { fence = nil }
            } else if let marker {
                fence = marker
            } else if let (level, title) = Self.heading(trimmed) {
                flushSection()
                while let last = headings.last, last.level >= level { headings.removeLast() }
                headings.append((level, title))
                continue
            }
            if trimmed.isEmpty {
                flushParagraph()
            } else {
                paragraph.append(line)
            }
        }
        flushSection()
        return chunks
    }

    static func heading(_ line: String) -> (Int, String)? {
        guard line.hasPrefix("#") else { return nil }
        let level = line.prefix(while: { $0 == "#" }).count
        guard level <= 6 else { return nil }
        let rest = line.dropFirst(level)
        guard rest.first == " " || rest.first == "\t" else { return nil }
        let title = rest.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "#")).trimmingCharacters(in: .whitespaces)
        return title.isEmpty ? nil : (level, title)
    }

    /// Packs a section's paragraphs into chunks: whole paragraphs while they fit, long ones by sentence,
    /// overlong sentences by characters; each new chunk starts with the previous one's last sentences up to
    /// `overlap`.
    func pack(_ paragraphs: [String]) -> [String] {
        // Units that each fit in a chunk: paragraphs, or the sentences (and character pieces) of long ones.
        var units: [(text: String, paragraphStart: Bool)] = []
        for p in paragraphs {
            if Self.weight(p[...]) <= size {
                units.append((p, true))
            } else {
                var first = true
                for s in Self.sentences(p) {
                    for piece in split(s) {
                        units.append((piece, first))
                        first = false
                    }
                }
            }
        }
        var out: [String] = []
        var current: [(text: String, paragraphStart: Bool)] = []
        var currentCounts = (ascii: 0, other: 0)  // of `render(current)`, separators included
        var carried = 0  // units at the start of `current` that repeat the previous chunk
        func separator(_ before: String, _ u: (text: String, paragraphStart: Bool)) -> String {
            u.paragraphStart ? "\n\n" : Self.joiner(before, u.text)
        }
        func render(_ units: [(text: String, paragraphStart: Bool)]) -> String {
            var s = ""
            for (i, u) in units.enumerated() {
                if i > 0 { s += separator(s, u) }
                s += u.text
            }
            return s
        }
        func weight(_ units: [(text: String, paragraphStart: Bool)]) -> Int { Self.weight(render(units)[...]) }
        for unit in units {
            let unitCounts = Self.counts(unit.text.unicodeScalars)
            // The separator's own characters count too: the bound is on the chunk as rendered.
            let gap = current.last.map { separator($0.text, unit).utf8.count } ?? 0
            let joined = Self.weight(ascii: currentCounts.ascii + gap + unitCounts.ascii, other: currentCounts.other + unitCounts.other)
            if !current.isEmpty && joined > size && current.count > carried {
                out.append(render(current))
                // Overlap: the last sentences of the chunk just closed, up to `overlap` tokens, as long as the
                // next chunk (overlap and this unit) still fits in `size`.
                var tail: [(text: String, paragraphStart: Bool)] = []
                for u in current.reversed() {
                    let longer = [u] + tail
                    if weight(longer) > overlap || weight(longer + [unit]) > size { break }
                    tail = longer
                }
                current = tail
                currentCounts = Self.counts(render(tail).unicodeScalars)
                carried = tail.count
            }
            currentCounts.ascii += current.last.map { separator($0.text, unit).utf8.count } ?? 0
            currentCounts.ascii += unitCounts.ascii
            currentCounts.other += unitCounts.other
            current.append(unit)
        }
        if current.count > carried || out.isEmpty, !current.isEmpty { out.append(render(current)) }
        return out
    }

    /// A space between pieces of Latin text, nothing between CJK ones.
    static func joiner(_ before: String, _ after: String) -> String {
        guard let a = before.unicodeScalars.last, let b = after.unicodeScalars.first else { return "" }
        if SearchTokenizer.isCJK(a) || SearchTokenizer.isCJK(b) || a.properties.isWhitespace || b.properties.isWhitespace { return "" }
        return " "
    }

    /// Sentences, each keeping its closing punctuation.
    public static func sentences(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            current.append(c)
            let isCJKEnd = "。！？；!?;".contains(c) && !c.isASCII || c == "。" || c == "！" || c == "？" || c == "；"
            let isLatinEnd = (c == "." || c == "!" || c == "?") && (i + 1 == chars.count || chars[i + 1] == " " || chars[i + 1] == "\n")
            if c == "\n" || isCJKEnd || isLatinEnd {
                // Keep closing quotes and brackets with the sentence.
                while i + 1 < chars.count, "”’\"')）】」』".contains(chars[i + 1]) {
                    i += 1
                    current.append(chars[i])
                }
                let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !trimmed.isEmpty { out.append(trimmed) }
                current = ""
            }
            i += 1
        }
        let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmed.isEmpty { out.append(trimmed) }
        return out
    }

    /// A sentence longer than a chunk, cut between Characters: at the last space before the limit when
    /// there is one, else at the limit.
    func split(_ sentence: String) -> [String] {
        if Self.weight(sentence[...]) <= size { return [sentence] }
        var out: [String] = []
        var current = ""
        var counts = (ascii: 0, other: 0)  // of `current`, as `weight` counts (a ZWJ emoji family weighs 7)
        var lastSpace: String.Index?
        for c in sentence {
            let added = Self.counts(c.unicodeScalars)
            // Cut before the Character that would take the piece past `size`.
            while !current.isEmpty && Self.weight(ascii: counts.ascii + added.ascii, other: counts.other + added.other) > size {
                if let cut = lastSpace, cut > current.startIndex {
                    out.append(String(current[..<cut]).trimmingCharacters(in: .whitespaces))
                    current = String(current[current.index(after: cut)...])
                } else {
                    out.append(current)
                    current = ""
                }
                counts = Self.counts(current.unicodeScalars)
                lastSpace = nil
            }
            current.append(c)
            counts.ascii += added.ascii
            counts.other += added.other
            if c == " " { lastSpace = current.index(before: current.endIndex) }
        }
        if !current.trimmingCharacters(in: .whitespaces).isEmpty { out.append(current.trimmingCharacters(in: .whitespaces)) }
        return out.filter { !$0.isEmpty }
    }
}
