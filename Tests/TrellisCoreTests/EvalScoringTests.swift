import OpenAIWire
import Testing
import TrellisCore

/// The local scorers, the similarity score from embeddings, and the reading of an item's expected answer.
@Suite struct EvalScoringTests {
    @Test func expectedAlternatives() {
        #expect(EvalScoring.expectedAlternatives("北京") == ["北京"])
        #expect(EvalScoring.expectedAlternatives(["北京", "Beijing"]) == ["北京", "Beijing"])
        #expect(EvalScoring.expectedAlternatives(42) == ["42"])
        #expect(EvalScoring.expectedAlternatives(true) == ["true"])
        #expect(EvalScoring.expectedAlternatives(["a", 1, ["nested"], ["k": "v"], "  "]) == ["a", "1"])
        #expect(EvalScoring.expectedAlternatives(nil).isEmpty)
        #expect(EvalScoring.expectedAlternatives(.null).isEmpty)
        #expect(EvalScoring.expectedAlternatives("").isEmpty)
        #expect(EvalScoring.expectedAlternatives(["k": "v"]).isEmpty)
    }

    @Test func exactComparesNormalisedText() {
        let hit = EvalScoring.exact(answer: "北京。", expected: "北京")
        #expect(hit == EvalScore(scorer: "exact", score: 1, passed: true, reason: "equals \"北京\""))
        #expect(EvalScoring.exact(answer: "ＡＢＣ１２３", expected: "abc123").passed)
        #expect(EvalScoring.exact(answer: "合同 期限", expected: "合同期限").passed)
        #expect(EvalScoring.exact(answer: "Paris.", expected: "paris").passed)
        let miss = EvalScoring.exact(answer: "上海", expected: "北京")
        #expect(!miss.passed && miss.score == 0)
        #expect(miss.reason == "does not equal \"北京\"")
        #expect(EvalScoring.exact(answer: "Beijing", expected: ["北京", "beijing"]).passed, "any alternative")
        #expect(EvalScoring.exact(answer: "首都是北京", expected: "北京").passed == false)
    }

    @Test func containsLooksForAnyAlternative() {
        let hit = EvalScoring.contains(answer: "中国的首都是北京。", expected: "北京")
        #expect(hit.passed && hit.score == 1)
        #expect(hit.reason == "expected \"北京\" found")
        #expect(EvalScoring.contains(answer: "The capital is BEIJING!", expected: ["北京", "Beijing"]).passed)
        #expect(EvalScoring.contains(answer: "答案：合同 期限为三年", expected: "合同期限").passed)
        let miss = EvalScoring.contains(answer: "上海", expected: ["北京", "Beijing", "Peking", "燕京"])
        #expect(!miss.passed)
        #expect(miss.reason == "expected \"北京\" or \"Beijing\" or \"Peking\" or 1 more not found")
        // An alternative that is only punctuation would be found anywhere; it must equal the answer instead.
        #expect(!EvalScoring.contains(answer: "anything", expected: "。").passed)
        #expect(EvalScoring.contains(answer: "!", expected: "。").passed)
    }

    @Test func missingExpectedAnswerFails() {
        for score in [
            EvalScoring.exact(answer: "x", expected: []), EvalScoring.contains(answer: "x", expected: []),
            EvalScoring.regex(answer: "x", patterns: []), EvalScoring.similarity(answerVector: [1], expectedVectors: [], threshold: 0.8),
        ] {
            #expect(!score.passed && score.score == 0)
            #expect(score.reason == "the item has no expected answer")
        }
        #expect(EvalScore.missingExpected(scorer: "exact").scorer == "exact")
    }

    @Test func regexSearchesTheAnswerAsWritten() throws {
        let digits = try SafePattern("\\d{3}-\\d{4}", path: "p")
        let hit = EvalScoring.regex(answer: "电话 555-1234", pattern: digits)
        #expect(hit.passed && hit.reason == "matches /\\d{3}-\\d{4}/")
        let miss = EvalScoring.regex(answer: "no number", pattern: digits)
        #expect(!miss.passed && miss.reason == "no match for /\\d{3}-\\d{4}/")
        let cased = try SafePattern("(?i)^paris", path: "p")
        #expect(EvalScoring.regex(answer: "PARIS is", pattern: cased).passed)
    }

    @Test func regexThatRunsOutOfTimeFails() throws {
        let catastrophic = try SafePattern("(a+)+$", path: "p")
        let score = EvalScoring.regex(answer: String(repeating: "a", count: 40) + "b", pattern: catastrophic)
        #expect(!score.passed)
        #expect(score.score == 0)
        #expect(score.reason.contains("ran out of time"))
    }

    @Test func regexWithExpectedAnswersAsPatterns() {
        #expect(EvalScoring.regex(answer: "共 42 项", patterns: ["^\\d+$", "\\d+\\s*项"]).passed)
        let bad = EvalScoring.regex(answer: "x", patterns: ["(oops"])
        #expect(!bad.passed && bad.reason.contains("not a valid regular expression"))
        #expect(EvalScoring.regex(answer: "x", patterns: ["(oops", "x"]).passed, "a bad alternative does not stop a good one")
    }

    @Test func similarityIsTheClampedCosine() {
        let same = EvalScoring.similarity(answerVector: [1, 2, 3], expectedVector: [2, 4, 6], threshold: 0.8)
        #expect(abs(same.score - 1) < 1e-12 && same.passed)
        #expect(same.reason == "cosine 1.000, at least 0.800")
        // cos 45° = 0.7071.
        let diagonal = EvalScoring.similarity(answerVector: [1, 0], expectedVector: [1, 1], threshold: 0.8)
        #expect(abs(diagonal.score - 0.5.squareRoot()) < 1e-12)
        #expect(!diagonal.passed && diagonal.reason == "cosine 0.707, below 0.800")
        #expect(EvalScoring.similarity(answerVector: [1, 0], expectedVector: [1, 1], threshold: 0.7).passed)
        let opposite = EvalScoring.similarity(answerVector: [1, 0], expectedVector: [-1, 0], threshold: 0)
        #expect(opposite.score == 0 && opposite.passed, "negative cosine is clamped to 0, which reaches a 0 threshold")
        for (a, b): ([Double], [Double]) in [([1, 2], [1, 2, 3]), ([], []), ([0, 0], [1, 1]), ([.nan, 1], [1, 1])] {
            let bad = EvalScoring.similarity(answerVector: a, expectedVector: b, threshold: 0.5)
            #expect(!bad.passed && bad.score == 0 && bad.reason.contains("cannot be compared"))
        }
        let best = EvalScoring.similarity(answerVector: [1, 0], expectedVectors: [[0, 1], [1, 0.1]], threshold: 0.8)
        #expect(best.passed && best.score > 0.99, "the best alternative counts")
    }

    @Test func judgeScoresFromTheReply() {
        let pass = EvalScoring.judge(reply: #"{"score": 6, "reason": "基本正确"}"#, threshold: 0.6)
        #expect(pass == EvalScore(scorer: "judge", score: 0.6, passed: true, reason: "基本正确"), "6/10 reaches 0.6 despite rounding")
        #expect(!EvalScoring.judge(reply: #"{"score": 5, "reason": "部分正确"}"#, threshold: 0.6).passed)
        let none = EvalScoring.judge(reply: "I cannot grade this.", threshold: 0.6)
        #expect(!none.passed && none.score == 0)
        #expect(none.reason == "the judge's reply has no score: \"I cannot grade this.\"")
    }

    @Test func configuredScorerDispatches() throws {
        let scorers = try EvalScorer.parseList([
            ["type": "exact"], ["type": "contains"], ["type": "regex"], ["type": "similarity", "model": "e"], ["type": "judge", "model": "j"],
        ])
        #expect(scorers[0].score(answer: "北京。", expected: ["北京"])?.passed == true)
        #expect(scorers[1].score(answer: "是北京", expected: ["北京"])?.passed == true)
        #expect(scorers[2].score(answer: "2024年", expected: ["^\\d{4}"])?.passed == true)
        #expect(scorers[3].score(answer: "x", expected: ["x"]) == nil, "similarity needs embeddings")
        #expect(scorers[4].score(answer: "x", expected: ["x"]) == nil, "judge needs a reply")
        #expect(scorers[3].score(answerVector: [1, 0], expectedVectors: [[1, 0]]).passed)
        #expect(scorers[4].score(judgeReply: "Score: 7").score == 0.7)
        let withPattern = try EvalScorer.parse(["type": "regex", "pattern": "^ok$"], path: "s")
        #expect(withPattern.score(answer: "ok", expected: [])?.passed == true, "a configured pattern needs no expected answer")
    }

    @Test func scoreJSONRoundTrips() {
        let score = EvalScore(scorer: "similarity", score: 0.876_54, passed: true, reason: "cosine 0.877, at least 0.800")
        #expect(score.json == ["scorer": "similarity", "score": 0.8765, "passed": true, "reason": "cosine 0.877, at least 0.800"])
        #expect(EvalScore(json: score.json)?.score == 0.8765)
        #expect(EvalScore(json: ["scorer": "x"]) == nil)
        #expect(EvalScore(scorer: "x", score: 1.5, passed: true, reason: "").score == 1, "clamped")
        #expect(EvalScore(scorer: "x", score: .nan, passed: false, reason: "").score == 0)
    }
}
