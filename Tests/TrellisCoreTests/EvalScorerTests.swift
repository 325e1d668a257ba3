import OpenAIWire
import Testing
import TrellisCore

/// The `scorers` of an evaluation run: parsed strictly, defaults filled in, stored and reloaded unchanged.
@Suite struct EvalScorerTests {
    private func error(_ json: JSONValue?) -> TrellisError? {
        do {
            _ = try EvalScorer.parseList(json)
            return nil
        } catch {
            return error
        }
    }

    @Test func everyTypeWithItsDefaults() throws {
        let scorers = try EvalScorer.parseList([
            ["type": "exact"], ["type": "contains"], ["type": "regex", "pattern": "^\\d+$"],
            ["type": "similarity", "model": "bge-m3"], ["type": "judge", "model": "grader@2", "rubric": "准确、简洁"],
        ])
        #expect(scorers.map(\.name) == ["exact", "contains", "regex", "similarity", "judge"])
        #expect(scorers.map(\.threshold) == [1, 1, 1, 0.8, 0.6])
        #expect(scorers[2].pattern?.pattern == "^\\d+$")
        #expect(scorers[3].model == "bge-m3" && scorers[3].callsModel)
        #expect(scorers[4].model == "grader@2" && scorers[4].rubric == "准确、简洁")
        #expect(!scorers[0].callsModel && scorers[0].model == nil)
        #expect(scorers[4].json == ["type": "judge", "model": "grader@2", "threshold": 0.6, "rubric": "准确、简洁"])
        #expect(scorers[0].json == ["type": "exact"])
        #expect(scorers[2].json == ["type": "regex", "pattern": "^\\d+$"])
    }

    @Test func storedJSONReloadsTheSameScorer() throws {
        let scorers = try EvalScorer.parseList([
            ["type": "regex"], ["type": "similarity", "model": "emb", "threshold": 0.75], ["type": "judge", "model": "j", "threshold": 1],
        ])
        for scorer in scorers {
            #expect(EvalScorer(json: scorer.json) == scorer, "\(scorer.name)")
        }
        #expect(scorers[1].threshold == 0.75)
        #expect(scorers[0].pattern == nil, "without a pattern the expected answer is the pattern")
        #expect(EvalScorer(json: ["type": "nope"]) == nil)
        #expect(EvalScorer(json: "exact") == nil)
    }

    @Test func unknownFieldsNameTheirPath() {
        let e = error([["type": "exact"], ["type": "contains", "foo": 1]])
        #expect(e?.code == "unknown_parameter")
        #expect(e?.param == "scorers[1].foo")
        #expect(e?.status == 400)
    }

    @Test func typeIsRequiredAndKnown() {
        #expect(error([["model": "m"]])?.param == "scorers[0].type")
        #expect(error([["model": "m"]])?.code == "missing_required_parameter")
        #expect(error([["type": "fuzzy"]])?.param == "scorers[0].type")
        #expect(error([["type": 3]])?.code == "invalid_value")
        #expect(error(["exact"])?.param == "scorers[0]")
    }

    @Test func modelIsRequiredForSimilarityAndJudgeOnly() {
        #expect(error([["type": "similarity"]])?.param == "scorers[0].model")
        #expect(error([["type": "exact"], ["type": "judge"]])?.param == "scorers[1].model")
        #expect(error([["type": "exact", "model": "m"]])?.param == "scorers[0].model")
        #expect(error([["type": "judge", "model": 5]])?.param == "scorers[0].model")
        #expect(error([["type": "judge", "model": ""]])?.param == "scorers[0].model")
        #expect(error([["type": "judge", "model": "two words"]])?.param == "scorers[0].model")
    }

    @Test func thresholdIsANumberFrom0To1ForModelScorers() {
        #expect(error([["type": "judge", "model": "m", "threshold": 1.5]])?.param == "scorers[0].threshold")
        #expect(error([["type": "judge", "model": "m", "threshold": -0.1]])?.param == "scorers[0].threshold")
        #expect(error([["type": "judge", "model": "m", "threshold": "0.5"]])?.param == "scorers[0].threshold")
        #expect(error([["type": "exact", "threshold": 0.5]])?.param == "scorers[0].threshold", "0-or-1 scorers take no threshold")
        #expect(error([["type": "similarity", "model": "m", "threshold": 0]]) == nil)
    }

    @Test func rubricIsForJudgeAndBounded() {
        #expect(error([["type": "similarity", "model": "m", "rubric": "x"]])?.param == "scorers[0].rubric")
        #expect(error([["type": "judge", "model": "m", "rubric": 1]])?.param == "scorers[0].rubric")
        let long = String(repeating: "准", count: 1_334)  // 4,002 bytes
        #expect(error([["type": "judge", "model": "m", "rubric": .string(long)]])?.param == "scorers[0].rubric")
        #expect(error([["type": "judge", "model": "m", "rubric": .string(String(long.dropLast()))]]) == nil)
    }

    @Test func patternIsForRegexAndCompiledAtParse() {
        #expect(error([["type": "contains", "pattern": "a"]])?.param == "scorers[0].pattern")
        let bad = error([["type": "exact"], ["type": "regex", "pattern": "(unclosed"]])
        #expect(bad?.param == "scorers[1].pattern")
        #expect(bad?.status == 400)
        #expect(error([["type": "regex", "pattern": ""]])?.param == "scorers[0].pattern")
        #expect(error([["type": "regex", "pattern": 7]])?.param == "scorers[0].pattern")
    }

    @Test func listHas1To8ScorersEachTypeOnce() {
        #expect(error(nil)?.code == "missing_required_parameter")
        #expect(error(nil)?.param == "scorers")
        #expect(error([])?.param == "scorers")
        #expect(error(["type": "exact"])?.param == "scorers", "an object is not a list")
        let nine: JSONValue = .array(Array(repeating: ["type": "exact"], count: 9))
        #expect(error(nine)?.param == "scorers")
        let repeated = error([["type": "judge", "model": "a"], ["type": "exact"], ["type": "judge", "model": "b"]])
        #expect(repeated?.param == "scorers[2].type")
        #expect(repeated?.message.contains("once") == true)
    }

    @Test func customPathIsUsed() {
        do {
            _ = try EvalScorer.parseList([["type": "exact", "x": 1]], path: "run.scorers")
            Issue.record("expected an error")
        } catch {
            #expect(error.param == "run.scorers[0].x")
        }
    }
}
