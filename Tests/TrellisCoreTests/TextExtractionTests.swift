import Foundation
import Testing
import TrellisCore

/// HTML to text that keeps structure: no scripts, styles, comments or tags; headings as Markdown headings;
/// entities decoded.
@Suite struct TextExtractionTests {
    func lines(_ s: String) -> [String] { s.split(separator: "\n").map(String.init) }

    @Test func scriptsStylesHeadAndCommentsAreRemoved() {
        let html = """
            <!DOCTYPE html>
            <html><head><title>Page title</title><style>p { color: red; }</style>
            <script>var leaked = "<p>not text</p>"; if (a < b && c > d) {}</script></head>
            <body>
            <SCRIPT type="text/javascript">alert("upper-case script")</SCRIPT>
            <!-- a comment with <p>markup</p> inside -->
            <noscript>enable javascript</noscript>
            <p>Visible text.</p>
            <style>.x{}</style>
            <p>More visible.</p>
            </body></html>
            """
        let text = TextExtraction.fromHTML(html)
        for hidden in ["Page title", "color", "leaked", "not text", "alert", "comment", "markup", "enable javascript", ".x{}", "<", ">", "DOCTYPE"] {
            #expect(!text.contains(hidden), "'\(hidden)' leaked into: \(text)")
        }
        #expect(lines(text) == ["Visible text.", "More visible."])
    }

    @Test func headingsBecomeMarkdownHeadings() {
        let html = "<h1>Claims guide</h1><p>Intro.</p><h2 class=\"sub\">Filing</h2><p>Steps.</p><H3>Deadlines</H3><p>Thirty days.</p>"
        let text = TextExtraction.fromHTML(html)
        #expect(lines(text) == ["# Claims guide", "Intro.", "## Filing", "Steps.", "### Deadlines", "Thirty days."])
        let chunks = Chunker().chunk(text)
        #expect(chunks.map(\.headings) == [["Claims guide"], ["Claims guide", "Filing"], ["Claims guide", "Filing", "Deadlines"]])
        #expect(chunks.map(\.text) == ["Intro.", "Steps.", "Thirty days."])
    }

    @Test func entitiesAreDecodedNamedAndNumeric() {
        let html = "<p>A &amp; B &lt;tag&gt; &quot;q&quot; &apos;s&#39; &#x27;h&#X27; &#20013;&#x6587; &#x1F600; &copy; caf&#233; a&nbsp;b</p>"
        let text = TextExtraction.fromHTML(html)
        #expect(text == "A & B <tag> \"q\" 's' 'h' 中文 😀 © café a b")
    }

    @Test func unknownOrBrokenEntitiesStayAsWritten() {
        #expect(TextExtraction.fromHTML("<p>AT&T &unknown; &#0; &#xZZ; 5 & 6</p>") == "AT&T &unknown; &#0; &#xZZ; 5 & 6")
    }

    @Test func nestedTagsLeaveTheirTextInOrder() {
        let html = """
            <div><p>One <b>bold <i>and italic</i></b> text</p>
            <ul><li>first</li><li>second <a href="https://example.com/x?a=1&amp;b=2">link</a></li></ul>
            <table><tr><td>cell 1</td><td>cell 2</td></tr></table>
            line<br>break<br/>again</div>
            """
        let text = TextExtraction.fromHTML(html)
        let l = lines(text)
        #expect(l.contains("One bold and italic text"))
        #expect(l.contains("- first"))
        #expect(l.contains("- second link"))
        #expect(l.contains("cell 1 cell 2"))
        #expect(l.contains("line") && l.contains("break") && l.contains("again"))
        #expect(!text.contains("href") && !text.contains("example.com"))
    }

    @Test func chineseHTML() {
        let html = "<html><body><h2>理赔须知</h2><p>被保险人应在事故发生后&nbsp;48&nbsp;小时内报案。</p><p>需要提交：<br>身份证、保单。</p></body></html>"
        let text = TextExtraction.fromHTML(html)
        #expect(lines(text) == ["## 理赔须知", "被保险人应在事故发生后 48 小时内报案。", "需要提交：", "身份证、保单。"])
        #expect(Chunker().chunk(text).first?.headings == ["理赔须知"])
    }

    @Test func anOmittedHeadEndTagDoesNotHideTheBody() {
        // HTML lets </head> (and </body>, </html>) be left out; the body starts at <body> all the same.
        let html = "<html><head><title>Hidden title</title><meta charset=utf-8><body><h1>Guide</h1><p>Body text.</p>"
        let text = TextExtraction.fromHTML(html)
        #expect(lines(text) == ["# Guide", "Body text."])
    }

    @Test func headingsWrittenOverSeveralLinesStayHeadings() {
        let html = """
            <h2>
              Water damage
            </h2>
            <p>Burst pipes are covered.</p>
            <h3>Leaks<br>and drips</h3>
            <p>Gradual leaks are not.</p>
            """
        let text = TextExtraction.fromHTML(html)
        #expect(lines(text) == ["## Water damage", "Burst pipes are covered.", "### Leaks and drips", "Gradual leaks are not."])
        #expect(Chunker().chunk(text).map(\.headings) == [["Water damage"], ["Water damage", "Leaks and drips"]])
    }

    @Test func whitespaceIsTidied() {
        let text = TextExtraction.fromHTML("<p>  many     spaces \t here  </p>\n\n\n\n<p>next</p>")
        #expect(text == "many spaces here\n\nnext")
        #expect(TextExtraction.tidy("a\n\n\n\nb\n\n") == "a\n\nb")
    }
}
