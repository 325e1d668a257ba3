import Testing
import TrellisCore

/// Answers that differ only in width, case, spacing or punctuation style compare equal once normalised.
@Suite struct EvalTextTests {
    private func same(_ a: String, _ b: String, _ comment: Comment? = nil) {
        #expect(EvalText.normalize(a) == EvalText.normalize(b), comment)
    }

    @Test func fullWidthLettersAndDigitsBecomeHalfWidth() {
        #expect(EvalText.normalize("ＡＢＣ１２３") == "abc123")
        #expect(EvalText.normalize("ｉＰｈｏｎｅ　１５") == "iphone 15", "the ideographic space is a space")
        same("ＧＰＴ－４", "gpt-4")
    }

    @Test func chinesePunctuationBecomesASCII() {
        #expect(EvalText.normalize("你好，世界！") == "你好,世界")
        same("你好，世界！", "你好,世界!")
        same("你好，世界！", "你好, 世界", "a space after a comma before Chinese text is dropped")
        #expect(EvalText.normalize("甲、乙；丙：丁？") == "甲,乙;丙:丁")
        #expect(EvalText.normalize("他说“合同”与‘期限’") == "他说\"合同\"与'期限", "a quote at the end goes")
        same("「合同」", "“合同”")
        same("『合同』", "‘合同’")
        #expect(EvalText.normalize("见【附件】（一）") == "见[附件](一)")
        #expect(EvalText.normalize("他说——好") == "他说--好")
        #expect(EvalText.normalize("等等……然后") == "等等......然后")
        #expect(EvalText.normalize("等等⋯然后") == "等等...然后")
    }

    @Test func caseIsFoldedAndWhitespaceCollapsed() {
        #expect(EvalText.normalize("  Hello \t\n  WORLD  ") == "hello world")
        same("Paris.", "paris")
        same("The Answer Is 42", "the answer is 42")
        #expect(EvalText.normalize("a\u{200B}b\u{FEFF}") == "ab", "zero-width characters are dropped")
    }

    @Test func spacesNextToChineseAreRemoved() {
        same("合同 期限", "合同期限")
        same("合 同 期 限", "合同期限")
        #expect(EvalText.normalize("合同\u{3000}期限") == "合同期限")
        // The space between Latin and Chinese text is typographic, not meaning: it goes too.
        #expect(EvalText.normalize("GPT-4 模型") == "gpt-4模型")
        same("使用 Python 编写", "使用Python编写")
        // Between Latin words it stays.
        #expect(EvalText.normalize("New  York") == "new york")
        #expect(EvalText.normalize("New York") != EvalText.normalize("NewYork"))
        // Korean separates words with spaces: kept.
        #expect(EvalText.normalize("감사 합니다") == "감사 합니다")
    }

    @Test func sentencePunctuationAtTheEndsIsStripped() {
        same("北京。", "北京")
        same("北京！！", "北京")
        same("\"Paris\"", "paris")
        same("“北京。”", "北京")
        same("《红楼梦》", "红楼梦")
        same("(a)", "a")
        same("Paris .", "paris", "the space left after stripping goes too")
        #expect(EvalText.normalize("。！？") == "")
        #expect(EvalText.normalize("") == "")
        #expect(EvalText.normalize("   ") == "")
    }

    @Test func meaningfulPunctuationStays() {
        #expect(EvalText.normalize("-5") == "-5")
        #expect(EvalText.normalize("C#") == "c#")
        #expect(EvalText.normalize(".NET") == ".net")
        #expect(EvalText.normalize("f(x)") == "f(x)")
        #expect(EvalText.normalize("(a) and (b)") == "(a) and (b)", "brackets that do not wrap the whole text stay")
        #expect(EvalText.normalize("3.14") == "3.14")
        #expect(EvalText.normalize("50%") == "50%")
        #expect(EvalText.normalize("北京。上海") == "北京.上海", "inner punctuation is only mapped")
    }

    @Test func linearOnLongText() {
        // Nested brackets and long space runs are where a naive strip would go quadratic.
        let nested = String(repeating: "(", count: 50_000) + "x" + String(repeating: ")", count: 50_000)
        #expect(EvalText.normalize(nested) == "x")
        let spaced = String(repeating: "合 ", count: 100_000)
        #expect(EvalText.normalize(spaced) == String(repeating: "合", count: 100_000))
    }
}
