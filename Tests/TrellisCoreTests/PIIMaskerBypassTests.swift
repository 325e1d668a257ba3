import Foundation
import OpenAIWire
import Testing
import TrellisCore

/// Masks `text` in a fresh session; returns the masked text and the session.
private func masked(_ text: String) throws -> (String, PIIMasker.Session) {
    var session = try PIIMasker().session()
    let out = session.mask(text)
    return (out, session)
}

/// The values the bypass texts carry, in every form they take: none may appear in masked text.
private let phoneForms = ["13812345678", "１３８１２３４５６７８", "1234", "5678", "１２３４", "５６７８"]
private let idForms = ["110101199003074514", "110101", "19900307", "4514", "0119", "9003", "0745"]

/// Whether `text` still holds any of `values`.
private func leaks(_ text: String, _ values: [String]) -> [String] {
    values.filter { text.contains($0) }
}

/// The ways personal data got past the masker (issue 13, item 5): each is masked now, and restores to exactly what
/// the user typed.
@Suite("PIIMasker: what people actually type")
struct PIIMaskerBypassTests {
    @Test("full-width digits are masked, and restore to the full-width original")
    func fullWidthDigits() throws {
        let text = "我的电话是１３８１２３４５６７８，谢谢。"
        let (out, session) = try masked(text)
        #expect(out == "我的电话是[PHONE_1]，谢谢。", "the full-width punctuation around it is kept as written")
        #expect(leaks(out, phoneForms).isEmpty)
        #expect(session.mapping["[PHONE_1]"] == "１３８１２３４５６７８")
        #expect(session.restore(out) == text)
    }

    @Test(
        "the international prefix 0086 in front of a mobile number is masked with it",
        arguments: ["0086 138 1234 5678", "0086-138-1234-5678", "008613812345678", "0086 13812345678"])
    func internationalPrefix(_ written: String) throws {
        let text = "致电\(written)。"
        let (out, session) = try masked(text)
        #expect(out == "致电[PHONE_1]。", "\(out)")
        #expect(session.restore(out) == text)
    }

    @Test("a zero-width character inside a number does not hide it", arguments: ["\u{200B}", "\u{200C}", "\u{200D}", "\u{2060}", "\u{FEFF}", "\u{00AD}"])
    func zeroWidth(_ invisible: String) throws {
        let text = "电话138\(invisible)1234\(invisible)5678。"
        let (out, session) = try masked(text)
        #expect(out == "电话[PHONE_1]。")
        #expect(!out.contains("1234") && !out.contains("5678") && !out.contains("138"))
        #expect(session.restore(out) == text, "the invisible characters come back too")
        let id = "身份证110101\(invisible)199003074514"
        let (idOut, idSession) = try masked(id)
        #expect(idOut == "身份证[ID_CARD_1]")
        #expect(idSession.restore(idOut) == id)
    }

    @Test(
        "phones written with dots, parentheses, dashes and spaces",
        arguments: [
            "138.1234.5678", "(138)1234-5678", "(138) 1234 5678", "(138)12345678", "(138)-1234-5678", "138 12345678", "138-12345678",
            "+86 (138) 1234-5678", "(+86)13812345678", "(+86) 138 1234 5678", "(86)138-1234-5678", "+86(138)1234 5678",
            "１３８－１２３４－５６７８", "（１３８）１２３４　５６７８", "138–1234–5678", "138\u{00A0}1234\u{00A0}5678", "138\u{3000}1234\u{3000}5678",
        ])
    func phoneSeparators(_ phone: String) throws {
        let text = "请拨打\(phone)联系我"
        let (out, session) = try masked(text)
        #expect(out == "请拨打[PHONE_1]联系我", "\(phone)")
        #expect(leaks(out, phoneForms).isEmpty)
        #expect(session.restore(out) == text)
    }

    @Test(
        "an ID number split into groups",
        arguments: [
            "110101 19900307 4514", "1101 0119 9003 0745 14", "110101 199003 074514", "110101-19900307-4514", "110 101 1990 0307 4514",
            "１１０１０１　１９９００３０７　４５１４",
        ])
    func idCardGroups(_ id: String) throws {
        let text = "身份证号：\(id)。"
        let (out, session) = try masked(text)
        #expect(out == "身份证号：[ID_CARD_1]。", "\(id)")
        #expect(leaks(out, idForms).isEmpty)
        #expect(session.restore(out) == text)
        // The same number, ungrouped, has the same placeholder.
        var again = session
        #expect(again.mask("110101199003074514") == "[ID_CARD_1]")
    }

    @Test("an ID number ending in X, grouped")
    func idCardGroupsWithX() throws {
        let (out, session) = try masked("证件 110105 19491231 002X 和 110105-19491231-002x")
        #expect(out == "证件 [ID_CARD_1] 和 [ID_CARD_1]")
        #expect(session.mapping["[ID_CARD_1]"] == "110105 19491231 002X")
    }

    @Test("an ID number grouped right after a phone is still found")
    func idAfterPhone() throws {
        let (out, _) = try masked("13812345678 110101 19900307 4514")
        #expect(out == "[PHONE_1] [ID_CARD_1]")
    }

    @Test("PII inside a URL is masked: the URL does not protect what it carries")
    func insideURL() throws {
        let text = "见 http://crm/c,13812345678,110101199003074514,alice@example.com 谢谢"
        let (out, session) = try masked(text)
        #expect(out == "见 http://crm/c,[PHONE_1],[ID_CARD_1],[EMAIL_1] 谢谢")
        #expect(leaks(out, ["13812345678", "110101199003074514", "alice", "example.com"]).isEmpty)
        #expect(session.restore(out) == text)
        let query = "https://example.com/u?phone=13812345678&card=4111111111111111#x"
        let (queryOut, querySession) = try masked(query)
        #expect(queryOut == "https://example.com/u?phone=[PHONE_1]&card=[BANK_CARD_1]#x")
        #expect(querySession.restore(queryOut) == query)
    }

    @Test("a full-width e-mail address and bank card are masked")
    func fullWidthEmailAndCard() throws {
        let text = "邮箱ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ，卡号４１１１　１１１１　１１１１　１１１１"
        let (out, session) = try masked(text)
        #expect(out == "邮箱[EMAIL_1]，卡号[BANK_CARD_1]")
        #expect(session.restore(out) == text)
        var same = session
        #expect(same.mask("alice@example.com 4111111111111111") == "[EMAIL_1] [BANK_CARD_1]", "one value, one placeholder, whatever its width")
    }

    @Test("outside the masked values the text is sent exactly as written: full-width punctuation, emoji joiners, spaces")
    func restUntouched() throws {
        let family = "👨\u{200D}👩\u{200D}👧"
        let text = "（备注）：电话１３８１２３４５６７８；家庭\(family)，ＯＫ？\u{3000}好。"
        let (out, session) = try masked(text)
        #expect(out == "（备注）：电话[PHONE_1]；家庭\(family)，ＯＫ？\u{3000}好。")
        #expect(session.restore(out) == text)
        let plain = "（备注）：没有号码，ＯＫ？\(family)"
        #expect(try masked(plain).0 == plain)
    }

    @Test("a full-width backtick does not open a code span")
    func fullWidthBacktick() throws {
        let (out, _) = try masked("｀１３８１２３４５６７８｀")
        #expect(out == "｀[PHONE_1]｀")
    }

    @Test(
        "ordinary numbers stay: dates, amounts, versions, addresses",
        arguments: [
            "2023-11-05", "2023.11.05", "价格138.12345678元", "共1,380,000元", "版本1.138.1234.5678", "138.1234.5678.9", "192.168.1.100",
            "(2023)1105-1234", "编号 12 138 1234 5678", "138 1234 5678 9999", "订单 110101 19900307 4515", "v2.138.1234.5678",
            "１２.５元", "第（１）条",
        ])
    func ordinaryNumbers(_ text: String) throws {
        #expect(try masked(text).0 == text)
    }
}
