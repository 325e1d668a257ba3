import Testing
import TrellisCore

/// Keyword terms that make Chinese searchable with a word index: CJK unigrams and bigrams for the index,
/// unigram or bigrams for a query, NFKC and lower case for everything.
@Suite struct SearchTokenizerTests {
    @Test func indexHasEveryUnigramAndBigramOfACJKRun() {
        let terms = SearchTokenizer.indexTerms("保险理赔")
        #expect(terms.count == 7)
        #expect(Set(terms) == ["保", "险", "理", "赔", "保险", "险理", "理赔"])
        #expect(SearchTokenizer.indexTerms("赔") == ["赔"])
    }

    @Test func oneCharacterQueryIsItsUnigramAndLongerOnesAreBigrams() {
        #expect(SearchTokenizer.queryTerms("保") == ["保"])
        #expect(SearchTokenizer.queryTerms("理赔") == ["理赔"])
        #expect(SearchTokenizer.queryTerms("保险理赔") == ["保险", "险理", "理赔"])
        // Every query term is an index term of the text it came from, so the text matches its own query.
        for text in ["保", "理赔", "保险理赔流程", "车险 claim 2024年"] {
            let index = Set(SearchTokenizer.indexTerms(text))
            #expect(SearchTokenizer.queryTerms(text).allSatisfy(index.contains), "\(text)")
        }
    }

    @Test func mixedChineseAndEnglish() {
        #expect(SearchTokenizer.queryTerms("保险 claim 理赔") == ["保险", "claim", "理赔"])
        #expect(SearchTokenizer.queryTerms("保险claim理赔") == ["保险", "claim", "理赔"], "script changes split terms without spaces")
        #expect(SearchTokenizer.queryTerms("如何 File a Claim?") == ["如何", "file", "a", "claim"])
        #expect(Set(SearchTokenizer.indexTerms("车险claim")) == ["车", "险", "车险", "claim"])
    }

    @Test func punctuationSeparatesRuns() {
        #expect(SearchTokenizer.queryTerms("理赔。保险") == ["理赔", "保险"], "no bigram across a full stop")
        #expect(SearchTokenizer.queryTerms("理赔，保") == ["理赔", "保"])
        #expect(!SearchTokenizer.indexTerms("理赔、保险").contains("赔保"))
        #expect(SearchTokenizer.queryTerms("!!! ... ？？").isEmpty)
        #expect(SearchTokenizer.queryTerms("").isEmpty)
    }

    @Test func fullWidthLatinAndDigitsAreNormalised() {
        #expect(SearchTokenizer.queryTerms("ＣＬＡＩＭ") == ["claim"])
        #expect(SearchTokenizer.queryTerms("１２３４５") == ["12345"])
        #expect(SearchTokenizer.queryTerms("ＡＢＣ\u{3000}１２３") == ["abc", "123"], "an ideographic space separates")
        #expect(SearchTokenizer.queryTerms("保单号ＡＢ１２") == ["保单", "单号", "ab12"])
        #expect(SearchTokenizer.indexTerms("iPhone 15") == SearchTokenizer.indexTerms("ｉＰｈｏｎｅ　１５"))
    }

    @Test func caseAndCompositionAreFolded() {
        #expect(SearchTokenizer.queryTerms("Claim CLAIM claim") == ["claim", "claim", "claim"])
        #expect(SearchTokenizer.queryTerms("Cafe\u{301}") == SearchTokenizer.queryTerms("café"), "decomposed and composed forms match")
        #expect(SearchTokenizer.queryTerms("café") == ["café"])
    }

    @Test func japaneseKanaAndKoreanAreCJK() {
        #expect(SearchTokenizer.queryTerms("カタカナ") == ["カタ", "タカ", "カナ"])
        #expect(SearchTokenizer.queryTerms("ひらがな") == ["ひら", "らが", "がな"])
        #expect(SearchTokenizer.queryTerms("ｶﾀｶﾅ") == ["カタ", "タカ", "カナ"], "half-width katakana is normalised")
        #expect(Set(SearchTokenizer.indexTerms("東京タワー")).isSuperset(of: ["東京", "京タ", "タワ", "ワー", "ー"]))
        #expect(SearchTokenizer.queryTerms("보") == ["보"])
        #expect(SearchTokenizer.queryTerms("보험") == ["보험"])
        #expect(SearchTokenizer.queryTerms("보험금 청구") == ["보험", "험금", "청구"])
        for scalar: Unicode.Scalar in ["中", "あ", "ア", "ㇰ", "한", "\u{3400}", "\u{20000}", "\u{F900}"] {
            #expect(SearchTokenizer.isCJK(scalar), "U+\(String(scalar.value, radix: 16))")
        }
        for scalar: Unicode.Scalar in ["a", "é", "。", "，", "！", "1", " ", "😀"] {
            #expect(!SearchTokenizer.isCJK(scalar), "U+\(String(scalar.value, radix: 16))")
        }
    }

    @Test func wordsKeepLettersAndDigitsTogether() {
        #expect(SearchTokenizer.queryTerms("policy-2024 v2.1") == ["policy", "2024", "v2", "1"])
        #expect(SearchTokenizer.queryTerms("2024年") == ["2024", "年"])
    }
}

/// Reciprocal-rank fusion with k = 60: score(d) = Σ 1 / (k + rank), rank from 1.
@Suite struct RankFusionTests {
    func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-12 }

    @Test func oneListKeepsItsOrderWithReciprocalScores() {
        let fused = RankFusion.reciprocalRank([["a", "b", "c"]])
        #expect(fused.map(\.id) == ["a", "b", "c"])
        #expect(close(fused[0].score, 1.0 / 61))
        #expect(close(fused[1].score, 1.0 / 62))
        #expect(close(fused[2].score, 1.0 / 63))
    }

    @Test func scoresAddAcrossLists() {
        // a: 1/61 + 1/62; c: 1/63 + 1/61; b: 1/62.
        let fused = RankFusion.reciprocalRank([["a", "b", "c"], ["c", "a"]])
        #expect(fused.map(\.id) == ["a", "c", "b"])
        let scores = Dictionary(uniqueKeysWithValues: fused.map { ($0.id, $0.score) })
        #expect(close(scores["a"] ?? 0, 1.0 / 61 + 1.0 / 62))
        #expect(close(scores["c"] ?? 0, 1.0 / 63 + 1.0 / 61))
        #expect(close(scores["b"] ?? 0, 1.0 / 62))
    }

    @Test func anItemInBothListsBeatsOneInASingleListAtTheSameRank() {
        // x is first in one list only; y is second in both: 2/62 > 1/61.
        let fused = RankFusion.reciprocalRank([["x", "y"], ["z", "y"]])
        #expect(fused.first?.id == "y")
        #expect(close(fused.first?.score ?? 0, 2.0 / 62))
        let bothAtOne = RankFusion.reciprocalRank([["p", "q"], ["q", "p"], ["r"]])
        #expect(bothAtOne.last?.id == "r")
    }

    @Test func tiesKeepTheOrderOfFirstAppearance() {
        #expect(RankFusion.reciprocalRank([["a"], ["b"]]).map(\.id) == ["a", "b"])
        #expect(RankFusion.reciprocalRank([["b"], ["a"]]).map(\.id) == ["b", "a"])
        // a: 1/61 + 1/62 and b: 1/62 + 1/61 tie exactly.
        #expect(RankFusion.reciprocalRank([["a", "b"], ["b", "a"]]).map(\.id) == ["a", "b"])
        #expect(RankFusion.reciprocalRank([["b", "a"], ["a", "b"]]).map(\.id) == ["b", "a"])
    }

    @Test func otherKAndEmptyInputs() {
        let fused = RankFusion.reciprocalRank([[1, 2]], k: 1)
        #expect(close(fused[0].score, 0.5) && close(fused[1].score, 1.0 / 3))
        #expect(RankFusion.reciprocalRank([[Int]]()).isEmpty)
        #expect(RankFusion.reciprocalRank([[Int](), []]).isEmpty)
        let oneEmpty = RankFusion.reciprocalRank([[], [7, 8]])
        #expect(oneEmpty.map(\.id) == [7, 8])
        #expect(close(oneEmpty[0].score, 1.0 / 61))
    }

    @Test func deepRanksStillCount() {
        // Rank 100 in one list and rank 100 in another (2/160) beat rank 1 in one list (1/61)? No: 0.0125 < 0.0164.
        let filler = (0..<99).map { "f\($0)" }
        let a = filler + ["deep"]
        let b = filler.map { $0 + "'" } + ["deep"]
        let fused = RankFusion.reciprocalRank([a, b])
        let deep = fused.first { $0.id == "deep" }
        #expect(close(deep?.score ?? 0, 2.0 / 160))
        #expect(fused.first?.id == "f0" || fused.first?.id == "f0'")
        #expect(fused.count == 199)
    }
}
