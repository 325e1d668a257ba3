import Foundation
import Testing
import TrellisCore

/// The chunker's contract: structure first (headings, paragraphs), then sentences (Latin and Chinese), then
/// characters; a size bound in its own weight units; overlap of whole sentences; never a cut inside a
/// grapheme; positions 0…n-1; heading paths.
@Suite struct ChunkerTests {
    func weight(_ s: String) -> Int { Chunker.weight(s[...]) }

    /// Every chunk of `chunks` within `size` (in the chunker's own units).
    func expectBounded(_ chunks: [Chunker.Chunk], size: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        for c in chunks {
            #expect(weight(c.text) <= size, "chunk \(c.position) weighs \(weight(c.text)) > \(size): \(c.text.prefix(80))…", sourceLocation: sourceLocation)
        }
    }

    func expectPositions(_ chunks: [Chunker.Chunk], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(chunks.map(\.position) == Array(0..<chunks.count), sourceLocation: sourceLocation)
    }

    /// Whether `part` occurs in `whole` as a run of whole Characters (grapheme clusters). A chunk that cut
    /// a cluster would hold a Character (a lone combining mark, half a ZWJ family, one regional indicator)
    /// that is not one of the source's.
    func isCharacterRun(_ part: String, of whole: [Character]) -> Bool {
        let p = Array(part)
        guard !p.isEmpty, p.count <= whole.count else { return p.isEmpty }
        var i = 0
        while i + p.count <= whole.count {
            if whole[i] == p[0] && Array(whole[i..<(i + p.count)]) == p { return true }
            i += 1
        }
        return false
    }

    func withoutWhitespace(_ s: String) -> String { String(s.filter { !$0.isWhitespace }) }

    // MARK: Empty and trivial

    @Test func emptyInputMakesNoChunks() {
        let chunker = Chunker()
        #expect(chunker.chunk("").isEmpty)
        #expect(chunker.chunk("   \n\n \t \n").isEmpty)
    }

    @Test func shortTextIsOneChunkAtPositionZero() {
        let chunks = Chunker().chunk("Hello world.")
        #expect(chunks.count == 1)
        #expect(chunks.first?.text == "Hello world.")
        #expect(chunks.first?.position == 0)
        #expect(chunks.first?.headings == [])
        #expect(chunks.first?.headingPath == "")
    }

    // MARK: Structure

    @Test func markdownHeadingsBecomeHeadingPaths() {
        let text = """
            # Guide
            Intro text.

            ## Install
            Run the installer.

            ### Linux
            Use apt.

            ## Usage ##
            Call the API.

            # Appendix
            Notes.
            """
        let chunks = Chunker().chunk(text)
        #expect(chunks.map(\.headings) == [["Guide"], ["Guide", "Install"], ["Guide", "Install", "Linux"], ["Guide", "Usage"], ["Appendix"]])
        #expect(chunks.map(\.text) == ["Intro text.", "Run the installer.", "Use apt.", "Call the API.", "Notes."])
        #expect(chunks.map(\.headingPath)[2] == "Guide › Install › Linux")
        expectPositions(chunks)
    }

    @Test func chineseHeadingsAndSectionsNeverShareAChunk() {
        let text = "# 车险\n\n## 理赔流程\n报案后提交材料。\n\n## 所需材料\n驾驶证和行驶证。"
        let chunks = Chunker().chunk(text)
        #expect(chunks.count == 2, "two small sections are two chunks, not one")
        #expect(chunks.map(\.headings) == [["车险", "理赔流程"], ["车险", "所需材料"]])
        #expect(chunks.map(\.text) == ["报案后提交材料。", "驾驶证和行驶证。"])
    }

    @Test func thingsThatLookLikeHeadingsButAreNot() {
        let text = "#hashtag is text\n####### seven hashes is text\nplain"
        let chunks = Chunker().chunk(text)
        #expect(chunks.count == 1)
        #expect(chunks.first?.headings == [])
        #expect(chunks.first?.text.contains("#hashtag") == true)
        #expect(chunks.first?.text.contains("####### seven") == true)
    }

    @Test func hashLinesInFencedCodeAreNotHeadings() {
        let text = """
            # Setup

            Install the tool:

            ```sh
            # update the package index first
            apt-get update

            ## not a heading either
            ```

            ~~~
            # python comment
            ~~~

            Done.
            """
        let chunks = Chunker().chunk(text)
        #expect(Set(chunks.map(\.headings)) == [["Setup"]], "code comments do not open sections")
        let all = chunks.map(\.text).joined(separator: "\n")
        #expect(all.contains("# update the package index first"))
        #expect(all.contains("## not a heading either"))
        #expect(all.contains("# python comment"))
        #expect(all.contains("Done."))
    }

    @Test func windowsLineEndingsKeepTheStructure() {
        let lf = "# Guide\n\nFirst paragraph.\n\n## Part\n\nSecond paragraph."
        let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
        let expected = Chunker().chunk(lf)
        #expect(expected.map(\.headings) == [["Guide"], ["Guide", "Part"]])
        let chunks = Chunker().chunk(crlf)
        #expect(chunks.map(\.headings) == expected.map(\.headings), "CRLF Markdown has the same headings")
        #expect(chunks.map(\.text) == expected.map(\.text))
    }

    @Test func smallParagraphsArePackedTogether() {
        let paragraphs = ["First paragraph about claims.", "Second paragraph about policies.", "Third paragraph about premiums."]
        let chunks = Chunker(size: 256, overlap: 0).chunk(paragraphs.joined(separator: "\n\n"))
        #expect(chunks.count == 1)
        let text = chunks.first?.text ?? ""
        let ranges = paragraphs.compactMap { text.range(of: $0) }
        #expect(ranges.count == 3, "every paragraph is in the chunk, whole")
        #expect(ranges.map(\.lowerBound) == ranges.map(\.lowerBound).sorted(), "in document order")
        #expect(text.contains("\n"), "paragraphs stay apart")
    }

    @Test func paragraphsThatFitAreNotSplitAcrossChunks() {
        // Each paragraph weighs about 12; size 32 holds two of them, never three.
        let paragraphs = (0..<7).map { "Paragraph \($0) has some words in it." }
        let size = 32
        let chunks = Chunker(size: size, overlap: 0).chunk(paragraphs.joined(separator: "\n\n"))
        #expect(chunks.count > 1)
        expectBounded(chunks, size: size)
        expectPositions(chunks)
        for p in paragraphs {
            let holders = chunks.filter { $0.text.contains(p) }
            #expect(holders.count == 1, "'\(p)' is whole in exactly one chunk")
        }
        #expect(withoutWhitespace(chunks.map(\.text).joined()) == withoutWhitespace(paragraphs.joined()))
    }

    // MARK: Sentences

    @Test func sentencesEndAtLatinAndChinesePunctuation() {
        #expect(Chunker.sentences("Hello world. How are you? Fine!") == ["Hello world.", "How are you?", "Fine!"])
        #expect(Chunker.sentences("Pi is 3.14 today. Yes.") == ["Pi is 3.14 today.", "Yes."], "a decimal point ends nothing")
        #expect(Chunker.sentences("第一句。第二句！第三句？第四句；第五") == ["第一句。", "第二句！", "第三句？", "第四句；", "第五"])
        #expect(Chunker.sentences("他说：“好的。”然后走了。") == ["他说：“好的。”", "然后走了。"], "a closing quote stays with its sentence")
        #expect(Chunker.sentences("（注：见附件。）下一句。") == ["（注：见附件。）", "下一句。"])
    }

    @Test func longChineseParagraphIsCutAtSentenceEnds() {
        let sentences = (0..<30).map { i in "第\(i)条规定被保险人应当在事故发生后及时报案" + ["。", "！", "？", "；"][i % 4] }
        let paragraph = sentences.joined()
        let size = 64
        let chunks = Chunker(size: size, overlap: 0).chunk(paragraph)
        #expect(chunks.count > 1)
        expectBounded(chunks, size: size)
        expectPositions(chunks)
        for c in chunks {
            #expect(c.text.last.map { "。！？；".contains($0) } == true, "chunk \(c.position) ends at a sentence end: …\(c.text.suffix(8))")
        }
        #expect(chunks.map(\.text).joined() == paragraph, "without overlap the chunks are the paragraph, in order, nothing lost")
    }

    @Test func fullWidthPunctuationEndsSentences() {
        // Full-width ！？； (U+FF01, U+FF1F, U+FF1B) between runs of 20 Han characters.
        let run = String(repeating: "保", count: 20)
        let paragraph = run + "\u{FF01}" + run + "\u{FF1F}" + run + "\u{FF1B}" + run
        let chunks = Chunker(size: 24, overlap: 0).chunk(paragraph)
        #expect(chunks.map(\.text) == [run + "！", run + "？", run + "；", run])
    }

    @Test func mixedChineseAndEnglishKeepsEverythingInOrder() {
        let paragraph = (0..<12).map { i in
            "保险理赔第\(i)步需要提交材料。Step \(i) of the claim needs the signed form and a copy of the policy. 请在三十天内提交！"
        }.joined(separator: " ")
        let size = 40
        let chunks = Chunker(size: size, overlap: 0).chunk(paragraph)
        #expect(chunks.count > 3)
        expectBounded(chunks, size: size)
        expectPositions(chunks)
        #expect(withoutWhitespace(chunks.map(\.text).joined()) == withoutWhitespace(paragraph))
        for c in chunks {
            #expect(!c.text.hasPrefix(" ") && !c.text.hasSuffix(" "))
        }
    }

    // MARK: Size and overlap

    @Test func sizeBoundHoldsForManyShortSentences() {
        // Sentences of 4 ASCII characters weigh 1 each; the spaces between them cost too.
        let paragraph = (0..<400).map { _ in "abc." }.joined(separator: " ")
        for size in [16, 33, 64] {
            let chunks = Chunker(size: size, overlap: size / 4).chunk(paragraph)
            #expect(chunks.count > 1)
            expectBounded(chunks, size: size)
        }
    }

    @Test func sizeBoundHoldsWithOverlapBeforeALongSentence() {
        // Short sentences, then one that nearly fills a chunk on its own: the overlap carried into the next
        // chunk must still leave the chunk within its size.
        let short = (0..<5).map { "Tiny \($0) ok." }  // weight 4 each
        let long = "This sentence is long enough to take up almost all of a chunk by itself here."  // weight 20
        let paragraph = (short + [long] + short + [long]).joined(separator: " ")
        let size = 24
        let chunks = Chunker(size: size, overlap: 12).chunk(paragraph)
        #expect(chunks.count > 1)
        expectBounded(chunks, size: size)
        #expect(chunks.contains { $0.text.contains(long) }, "the long sentence is whole in a chunk")
    }

    /// The sentences shared by the end of `a` and the start of `b`.
    func sharedSentences(_ a: String, _ b: String) -> [String] {
        let sa = Chunker.sentences(a)
        let sb = Chunker.sentences(b)
        var m = min(sa.count, sb.count)
        while m > 0 && Array(sa.suffix(m)) != Array(sb.prefix(m)) { m -= 1 }
        return Array(sb.prefix(m))
    }

    @Test func consecutiveChunksOverlapByWholeSentencesWithinTheBound() {
        let paragraph = (0..<60).map { "Sentence number \($0) is here." }.joined(separator: " ")  // weight 7 each
        let size = 48
        let overlap = 12
        let chunks = Chunker(size: size, overlap: overlap).chunk(paragraph)
        #expect(chunks.count > 3)
        expectBounded(chunks, size: size)
        expectPositions(chunks)
        for (a, b) in zip(chunks, chunks.dropFirst()) {
            let shared = sharedSentences(a.text, b.text)
            #expect(!shared.isEmpty, "chunk \(b.position) starts with the end of chunk \(a.position)")
            #expect(weight(shared.joined(separator: " ")) <= overlap, "overlap \(shared) is within \(overlap)")
            #expect(shared.count < Chunker.sentences(b.text).count, "each chunk adds something new")
        }
        // Every sentence is somewhere, and the last one is in the last chunk.
        for i in 0..<60 { #expect(chunks.contains { $0.text.contains("Sentence number \(i) is here.") }) }
        #expect(chunks.last?.text.hasSuffix("Sentence number 59 is here.") == true)
    }

    @Test func chineseChunksOverlapToo() {
        let paragraph = (0..<40).map { "第\($0 < 10 ? "0" : "")\($0)句话说明理赔的要求。" }.joined()  // weight 12 each
        let size = 48
        let overlap = 12
        let chunks = Chunker(size: size, overlap: overlap).chunk(paragraph)
        #expect(chunks.count > 3)
        expectBounded(chunks, size: size)
        for (a, b) in zip(chunks, chunks.dropFirst()) {
            let shared = sharedSentences(a.text, b.text)
            #expect(shared.count == 1, "one 12-token sentence fits in an overlap of 12, two do not")
            #expect(weight(shared.joined()) <= overlap)
        }
    }

    @Test func zeroOverlapRepeatsNothing() {
        let paragraph = (0..<60).map { "Sentence number \($0) is here." }.joined(separator: " ")
        let chunks = Chunker(size: 48, overlap: 0).chunk(paragraph)
        for (a, b) in zip(chunks, chunks.dropFirst()) {
            #expect(sharedSentences(a.text, b.text).isEmpty)
        }
        #expect(chunks.map(\.text).joined(separator: " ") == paragraph)
    }

    @Test func overlapNeverCrossesSections() {
        let body = (0..<20).map { "Sentence \($0) here." }.joined(separator: " ")
        let chunks = Chunker(size: 32, overlap: 16).chunk("# One\n" + body + "\n# Two\nOther text.")
        let second = chunks.filter { $0.headings == ["Two"] }
        #expect(second.map(\.text) == ["Other text."], "a new section starts clean")
    }

    // MARK: Characters

    @Test func longChineseParagraphWithoutPunctuationIsCutBetweenCharacters() {
        var generator = SeededGenerator(seed: 7)
        let han = Array("天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏闰余成岁律吕调阳云腾致雨露结为霜金生丽水玉出昆冈")
        let source = String((0..<5000).map { _ in han[Int(generator.next() % UInt64(han.count))] })
        #expect(source.count == 5000)
        let plain = Chunker(overlap: 0).chunk(source)
        #expect(plain.count >= 5000 / Chunker.defaultSize)
        expectBounded(plain, size: Chunker.defaultSize)
        expectPositions(plain)
        #expect(plain.map(\.text).joined() == source, "cut between characters, nothing lost or repeated")
        let overlapping = Chunker().chunk(source)
        expectBounded(overlapping, size: Chunker.defaultSize)
        let characters = Array(source)
        for c in overlapping { #expect(isCharacterRun(c.text, of: characters)) }
        #expect(overlapping.first.map { source.hasPrefix($0.text) } == true)
        #expect(overlapping.last.map { source.hasSuffix($0.text) } == true)
    }

    @Test func graphemeClustersAreNeverSplit() {
        let clusters = [
            "👨‍👩‍👧‍👦",  // ZWJ family: 7 scalars
            "👩🏽‍💻",  // skin tone + ZWJ
            "🇨🇳", "🇯🇵",  // flags: regional indicator pairs
            "e\u{301}", "n\u{303}", "a\u{308}\u{323}",  // combining marks
            "1\u{FE0F}\u{20E3}",  // keycap
            "\u{1112}\u{1161}\u{11AB}",  // Hangul jamo forming one syllable
            "中", "文", "字",
        ]
        var generator = SeededGenerator(seed: 42)
        let source = (0..<3000).map { _ in clusters[Int(generator.next() % UInt64(clusters.count))] }.joined()
        let characters = Array(source)
        #expect(characters.count == 3000)
        for (size, overlap) in [(16, 0), (32, 8), (64, 16)] {
            let chunks = Chunker(size: size, overlap: overlap).chunk(source)
            #expect(chunks.count > 1)
            expectPositions(chunks)
            expectBounded(chunks, size: size)
            for c in chunks {
                #expect(isCharacterRun(c.text, of: characters), "chunk \(c.position) is a run of whole source Characters")
                #expect(Set(c.text).isSubset(of: Set(clusters.map { Character($0) })))
            }
            if overlap == 0 { #expect(chunks.map(\.text).joined() == source) }
        }
    }

    @Test func longWordsAreCutAtSpacesWhenThereAreSome() {
        // One sentence with no sentence end, far longer than a chunk.
        let words = (0..<200).map { "word\($0)" }
        let sentence = words.joined(separator: " ")
        let size = 20
        let chunks = Chunker(size: size, overlap: 0).chunk(sentence)
        #expect(chunks.count > 5)
        expectBounded(chunks, size: size)
        let all = Set(words)
        for c in chunks {
            for w in c.text.split(separator: " ") { #expect(all.contains(String(w)), "'\(w)' is a whole word") }
        }
        #expect(chunks.flatMap { $0.text.split(separator: " ").map(String.init) } == words)
    }

    @Test func sizeAndOverlapAreClamped() {
        let tiny = Chunker(size: 1, overlap: 100)
        #expect(tiny.size == 16)
        #expect(tiny.overlap <= tiny.size / 2)
        #expect(Chunker(size: 100, overlap: -5).overlap == 0)
    }

    @Test func weightCountsCJKAsOneAndASCIIAsAQuarter() {
        #expect(weight("") == 0)
        #expect(weight("abcd") == 1)
        #expect(weight("abcde") == 2)
        #expect(weight("保险理赔") == 4)
        #expect(weight("e\u{301}") == 1, "a combining mark adds nothing")
    }
}
