import Foundation
import OpenAIWire
import Testing
import TrellisCore

/// The CPU time the calling thread spends in `body` (which must not suspend, so it runs on one thread).
private func threadCPUTime(_ body: () -> Void) -> Duration {
    func now() -> Duration {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return .seconds(spec.tv_sec) + .nanoseconds(spec.tv_nsec)
    }
    let start = now()
    body()
    return now() - start
}

/// `prefix` followed by the digit that makes it pass the Luhn check.
private func luhnComplete(_ prefix: String) -> String {
    for d in 0...9 where PIIMasker.luhnValid("\(prefix)\(d)".utf8) {
        return "\(prefix)\(d)"
    }
    return prefix
}

/// The first 17 characters of an ID number followed by its ISO 7064 MOD 11-2 check character.
private func idNumber(_ first17: String) -> String {
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    let sum = zip(first17.utf8, weights).reduce(0) { $0 + Int($1.0 - 0x30) * $1.1 }
    return first17 + String(Array("10X98765432")[sum % 11])
}

private func masker(_ rules: PIIMasker.Rules = PIIMasker.Rules()) throws -> PIIMasker {
    try PIIMasker(rules: rules)
}

/// Masks `text` in a fresh session.
private func mask(_ text: String, _ rules: PIIMasker.Rules = PIIMasker.Rules()) throws -> String {
    var session = try masker(rules).session()
    return session.mask(text)
}

/// `text` fed to a restorer in the given chunks, then finished.
private func streamed(_ chunks: [String], _ session: PIIMasker.Session) -> String {
    var restorer = session.restorer()
    var out = ""
    for chunk in chunks { out += restorer.feed(chunk) }
    return out + restorer.finish()
}

@Suite("PIIMasker")
struct PIIMaskerTests {
    // MARK: True positives

    @Test("an ID number and a phone directly inside Chinese text")
    func idAndPhoneInChinese() throws {
        var session = try masker().session()
        let out = session.mask("我的身份证号是11010519491231002X，电话13812345678。")
        #expect(out == "我的身份证号是[ID_CARD_1]，电话[PHONE_1]。")
        #expect(session.mapping == ["[ID_CARD_1]": "11010519491231002X", "[PHONE_1]": "13812345678"])
        #expect(session.counts == [.idCard: 1, .phone: 1])
    }

    @Test("ID numbers: a digit check character, and x in either case is the same number")
    func idCardForms() throws {
        let digitCheck = idNumber("11010520000229001")
        #expect(digitCheck == "110105200002290013")
        var session = try masker().session()
        #expect(session.mask("证件:\(digitCheck)") == "证件:[ID_CARD_1]")
        #expect(session.mask("11010519491231002x 与 11010519491231002X") == "[ID_CARD_2] 与 [ID_CARD_2]")
        #expect(session.mapping["[ID_CARD_2]"] == "11010519491231002x")
    }

    @Test("idCardValid checks length, characters, birth date and check character")
    func idCardValid() {
        #expect(PIIMasker.idCardValid("11010519491231002X"))
        #expect(PIIMasker.idCardValid("11010519491231002x"))
        #expect(PIIMasker.idCardValid(idNumber("11010520000229001")), "2000-02-29 exists")
        #expect(!PIIMasker.idCardValid("110105194912310021"), "wrong check character")
        #expect(!PIIMasker.idCardValid(idNumber("11010519000229001")), "1900 is not a leap year")
        #expect(!PIIMasker.idCardValid(idNumber("11010519940230001")), "no 30 February")
        #expect(!PIIMasker.idCardValid(idNumber("11010519941301001")), "no month 13")
        #expect(!PIIMasker.idCardValid(idNumber("11010519940100001")), "no day 0")
        #expect(!PIIMasker.idCardValid(idNumber("11010518991231001")), "year before 1900")
        #expect(!PIIMasker.idCardValid(idNumber("11010521001231001")), "year after 2099")
        #expect(!PIIMasker.idCardValid("11010519491231002"), "17 characters")
        #expect(!PIIMasker.idCardValid("11010519491231002X1"), "19 characters")
        #expect(!PIIMasker.idCardValid("1101051949123100XX"), "X only last")
        #expect(!PIIMasker.idCardValid(""))
    }

    @Test("every phone form: +86/86 prefixes with space, dash or nothing, and 3-4-4 grouping")
    func phoneForms() throws {
        let forms = [
            "13812345678", "+8613812345678", "+86 13812345678", "+86-13812345678", "8613812345678", "86 13812345678",
            "138 1234 5678", "138-1234-5678", "+86 138-1234-5678", "+86-138 1234 5678", "86 138 1234 5678",
        ]
        var session = try masker().session()
        for form in forms {
            #expect(session.mask("电话\(form)。") == "电话[PHONE_1]。", "\(form)")
        }
        #expect(session.mapping == ["[PHONE_1]": "13812345678"], "one number, one placeholder, the first form kept")
        #expect(session.counts[.phone] == forms.count)
        #expect(try mask("请联系 +86 138-1234-5678") == "请联系 [PHONE_1]")
        #expect(try mask("联系13912345678或19912345678") == "联系[PHONE_1]或[PHONE_2]")
    }

    @Test("bank cards: contiguous or grouped in fours by spaces or dashes, when they pass Luhn")
    func bankCards() throws {
        let unionPay = luhnComplete("622202000000000000")  // 19 digits
        #expect(unionPay == "6222020000000000000")
        var session = try masker().session()
        #expect(session.mask("卡号6222 0200 0000 0000 000谢谢") == "卡号[BANK_CARD_1]谢谢")
        #expect(session.mask("卡号\(unionPay)") == "卡号[BANK_CARD_1]", "the same digits ungrouped")
        #expect(session.mask("Visa 4111-1111-1111-1111.") == "Visa [BANK_CARD_2].")
        #expect(session.mask("4111111111111111") == "[BANK_CARD_2]")
        let thirteen = luhnComplete("422222222222")
        #expect(session.mask("旧卡\(thirteen)") == "旧卡[BANK_CARD_3]")
        let master = luhnComplete("222100000000000")
        #expect(session.mask("\(master)") == "[BANK_CARD_4]", "2221-2720 Mastercard range")
        #expect(session.mapping["[BANK_CARD_1]"] == "6222 0200 0000 0000 000")
        #expect(session.counts[.bankCard] == 6)
    }

    @Test("luhnValid over ASCII digits")
    func luhn() {
        #expect(PIIMasker.luhnValid("4111111111111111".utf8))
        #expect(PIIMasker.luhnValid("79927398713".utf8))
        #expect(PIIMasker.luhnValid(Array("6222020000000000000".utf8)))
        #expect(!PIIMasker.luhnValid("4111111111111112".utf8))
        #expect(!PIIMasker.luhnValid("79927398710".utf8))
        #expect(!PIIMasker.luhnValid("4111 1111".utf8), "separators are not digits")
        #expect(!PIIMasker.luhnValid("".utf8))
    }

    @Test("e-mail addresses end at the first character that cannot be in one")
    func emails() throws {
        var session = try masker().session()
        #expect(session.mask("邮箱zhang.san@example.com.cn谢谢") == "邮箱[EMAIL_1]谢谢")
        #expect(session.mapping["[EMAIL_1]"] == "zhang.san@example.com.cn")
        #expect(session.mask("Write to Zhang.San@Example.COM.CN.") == "Write to [EMAIL_1].", "case-insensitive, trailing dot out")
        #expect(session.mask("(li_si+tag@mail-1.example.org)") == "([EMAIL_2])")
        for notEmail in ["a@b", "root@localhost", "@example.com", "x@example.c", "x@-bad.com", "x@example.c0m", "a@@b.com"] {
            #expect(try mask(notEmail) == notEmail, "\(notEmail)")
        }
    }

    @Test("a custom pattern gets its upper-cased name as the label, and is restored")
    func customPattern() throws {
        let rules = PIIMasker.Rules(custom: [PIIMasker.CustomPattern(name: "employee", pattern: "EMP-[0-9]{6}")])
        var session = try masker(rules).session()
        let out = session.mask("工号EMP-004211，另一个EMP-123456，再次EMP-004211")
        #expect(out == "工号[EMPLOYEE_1]，另一个[EMPLOYEE_2]，再次[EMPLOYEE_1]")
        #expect(session.counts[.custom("employee")] == 3)
        #expect(PIIMasker.Kind.custom("employee").label == "EMPLOYEE")
        #expect(session.restore(out) == "工号EMP-004211，另一个EMP-123456，再次EMP-004211")
        #expect(session.mask("`EMP-999999`") == "`EMP-999999`", "custom patterns skip code too")
    }

    @Test("an invalid custom regex is refused with an error naming it")
    func invalidCustomPattern() throws {
        let rules = PIIMasker.Rules(custom: [
            PIIMasker.CustomPattern(name: "ok", pattern: "[0-9]+"), PIIMasker.CustomPattern(name: "broken", pattern: "([a-z"),
        ])
        let error = #expect(throws: PIIMasker.ConfigurationError.self) { try PIIMasker(rules: rules) }
        #expect(error == .invalidPattern(name: "broken", pattern: "([a-z"))
        #expect(error?.description.contains("'broken'") == true)
        #expect(error?.description.contains("([a-z") == true)
    }

    @Test("custom names must make a usable, unique label")
    func customNames() throws {
        for bad in ["", "1abc", "has space", "名字", String(repeating: "a", count: 33)] {
            #expect(throws: PIIMasker.ConfigurationError.invalidName(bad)) {
                try PIIMasker(rules: PIIMasker.Rules(custom: [PIIMasker.CustomPattern(name: bad, pattern: "x")]))
            }
        }
        #expect(throws: PIIMasker.ConfigurationError.duplicateName("Phone")) {
            try PIIMasker(rules: PIIMasker.Rules(custom: [PIIMasker.CustomPattern(name: "Phone", pattern: "x")]))
        }
        #expect(throws: PIIMasker.ConfigurationError.duplicateName("ORDER")) {
            try PIIMasker(
                rules: PIIMasker.Rules(custom: [
                    PIIMasker.CustomPattern(name: "order", pattern: "x"), PIIMasker.CustomPattern(name: "ORDER", pattern: "y"),
                ]))
        }
        _ = try PIIMasker(rules: PIIMasker.Rules(custom: [PIIMasker.CustomPattern(name: "id_card_2", pattern: "x")]))
    }

    // MARK: Consistency

    @Test("the same value keeps its placeholder across messages; different values count up per kind")
    func consistency() throws {
        var session = try masker().session()
        let first = session.mask("用户A：13812345678，a@example.com")
        let second = session.mask("用户B：13912345678；用户A又是13812345678，b@example.com，a@example.com")
        #expect(first == "用户A：[PHONE_1]，[EMAIL_1]")
        #expect(second == "用户B：[PHONE_2]；用户A又是[PHONE_1]，[EMAIL_2]，[EMAIL_1]")
        #expect(session.mapping.count == 4)
        #expect(session.counts == [.phone: 3, .email: 3])
    }

    @Test("numbering follows the order of appearance in the text, per kind")
    func numberingOrder() throws {
        var session = try masker().session()
        let text = "a@example.com 13812345678 4111111111111111 b@example.com 11010519491231002X 13912345678"
        #expect(
            session.mask(text) == "[EMAIL_1] [PHONE_1] [BANK_CARD_1] [EMAIL_2] [ID_CARD_1] [PHONE_2]")
    }

    @Test("text without personal data comes back unchanged and leaves the session empty")
    func nothingToMask() throws {
        var session = try masker().session()
        let text = "普通的一句话，no numbers here, 价格 12.5 元，编号 42。"
        #expect(session.mask(text) == text)
        #expect(session.mapping.isEmpty)
        #expect(session.counts.isEmpty)
        #expect(session.restore("[PHONE_1]") == "[PHONE_1]")
    }

    @Test("kinds switched off are left alone")
    func rulesOff() throws {
        let text = "电话13812345678，邮箱a@example.com，卡4111111111111111，身份证11010519491231002X"
        #expect(
            try mask(text, PIIMasker.Rules(phone: false)) == "电话13812345678，邮箱[EMAIL_1]，卡[BANK_CARD_1]，身份证[ID_CARD_1]")
        #expect(
            try mask(text, PIIMasker.Rules(idCard: false, bankCard: false, email: false))
                == "电话[PHONE_1]，邮箱a@example.com，卡4111111111111111，身份证11010519491231002X")
    }

    // MARK: Restoring

    @Test("restore puts the originals back wherever the model echoed the placeholders")
    func restoreRoundTrip() throws {
        var session = try masker().session()
        let original = "我的身份证号是11010519491231002X，电话+86 138-1234-5678，邮箱zhang.san@example.com.cn"
        let masked = session.mask(original)
        #expect(!masked.contains("13812345678") && !masked.contains("1234-5678") && !masked.contains("zhang"))
        #expect(session.restore(masked) == original)
        let answer = "已记录：[PHONE_1]（[EMAIL_1]），再确认[PHONE_1]；[PHONE_2]未知，[PHONE_1 不完整，[[ID_CARD_1]]"
        #expect(
            session.restore(answer)
                == "已记录：+86 138-1234-5678（zhang.san@example.com.cn），再确认+86 138-1234-5678；[PHONE_2]未知，[PHONE_1 不完整，[11010519491231002X]"
        )
    }

    @Test("streamed restore: a split at every position gives the same text as restoring it whole")
    func streamedEverySplit() throws {
        var session = try masker().session()
        _ = session.mask("13812345678 13912345678 a@example.com 11010519491231002X 4111111111111111")
        let answer = "好的[PHONE_1]和[PHONE_2]，[EMAIL_1][ID_CARD_1]，卡[BANK_CARD_1]。[PHONE_3][PHO [x] [[PHONE_1]]结束[EMAIL_"
        let whole = session.restore(answer)
        #expect(
            whole == "好的13812345678和13912345678，a@example.com11010519491231002X，卡4111111111111111。[PHONE_3][PHO [x] [13812345678]结束[EMAIL_")
        let characters = Array(answer)
        for i in 0...characters.count {
            let chunks = [String(characters[..<i]), String(characters[i...])]
            #expect(streamed(chunks, session) == whole, "split at \(i)")
        }
        // Split twice, at every pair of positions, and one character at a time.
        for i in 0...characters.count {
            for j in i...characters.count {
                let chunks = [String(characters[..<i]), String(characters[i..<j]), String(characters[j...])]
                #expect(streamed(chunks, session) == whole, "split at \(i), \(j)")
            }
        }
        #expect(streamed(characters.map { String($0) }, session) == whole)
        // And at every UTF-8 offset that is a scalar boundary (chunks of a byte stream decoded scalar by scalar).
        let scalars = Array(answer.unicodeScalars)
        for i in 0...scalars.count {
            var head = String.UnicodeScalarView()
            head.append(contentsOf: scalars[..<i])
            var tail = String.UnicodeScalarView()
            tail.append(contentsOf: scalars[i...])
            #expect(streamed([String(head), String(tail)], session) == whole, "scalar split at \(i)")
        }
    }

    @Test("the restorer holds back only what could still become a placeholder")
    func restorerHoldsBack() throws {
        var session = try masker().session()
        _ = session.mask("13812345678")
        var restorer = session.restorer()
        #expect(restorer.feed("你好[PHO") == "你好")
        #expect(restorer.feed("NE_1]。") == "13812345678。")
        #expect(restorer.feed("a[b") == "a[b", "no placeholder starts with [b")
        #expect(restorer.feed("[EMAIL_1") == "[EMAIL_1", "not a placeholder of this session")
        #expect(restorer.feed("x[PHONE_") == "x")
        #expect(restorer.feed("") == "")
        #expect(restorer.finish() == "[PHONE_", "an unfinished placeholder is flushed as it was")
        #expect(restorer.finish() == "")
        var empty = PIIRestorer(mapping: [:])
        #expect(empty.feed("[PHO") == "[PHO")
    }

    // MARK: False positives

    @Test("fenced code blocks are left alone, text around them is not")
    func fencedCode() throws {
        let text = "电话13812345678\n```swift\nlet phone = \"13912345678\" // a@example.com\n```\n邮件b@example.com"
        #expect(
            try mask(text) == "电话[PHONE_1]\n```swift\nlet phone = \"13912345678\" // a@example.com\n```\n邮件[EMAIL_1]")
        let inline = "代码如下```13812345678```完"
        #expect(try mask(inline) == inline)
        let longer = "````\n``` 13812345678\n````"
        #expect(try mask(longer) == longer, "a fence closes only at a run at least as long")
    }

    @Test("inline code is left alone; a stray backtick does not switch masking off")
    func inlineCode() throws {
        #expect(try mask("运行 `call 13812345678` 即可") == "运行 `call 13812345678` 即可")
        #expect(try mask("``a`13812345678``") == "``a`13812345678``")
        #expect(try mask("it`s 13812345678") == "it`s [PHONE_1]")
        #expect(try mask("`未闭合\n13812345678`") == "`未闭合\n[PHONE_1]`", "inline code ends at the line")
        #expect(try mask("```未闭合的代码块 13812345678") == "```未闭合的代码块 [PHONE_1]")
    }

    @Test("PII inside an http(s) URL is masked like any other text, and restored")
    func urls() throws {
        let cases = [
            ("https://13812345678.example.com/path", "https://[PHONE_1].example.com/path"), ("http://user@example.com/x", "http://[EMAIL_1]/x"),
            ("HTTPS://example.com/?card=4111111111111111", "HTTPS://example.com/?card=[BANK_CARD_1]"),
        ]
        for (url, expected) in cases {
            var session = try masker().session()
            let out = session.mask("见 \(url) 。")
            #expect(out == "见 \(expected) 。", "\(url)")
            #expect(session.restore(out) == "见 \(url) 。")
        }
        #expect(try mask("见https://example.com/u/13812345678，电话13912345678") == "见https://example.com/u/[PHONE_1]，电话[PHONE_2]")
        #expect(try mask("<http://a.com/13812345678>13912345678") == "<http://a.com/[PHONE_1]>[PHONE_2]")
    }

    @Test("an 18-digit number with a wrong check digit is not an ID number")
    func wrongCheckDigit() throws {
        #expect(try mask("编号110105194912310021号") == "编号110105194912310021号")
    }

    @Test("an 18-digit number with an impossible date is not an ID number, even with a matching check digit")
    func impossibleDate() throws {
        let february30 = idNumber("11010519940230001")
        #expect(try mask("编号\(february30)") == "编号\(february30)")
        let month13 = idNumber("11010519941301001")
        #expect(try mask("编号\(month13)") == "编号\(month13)")
    }

    @Test("a 16-digit number failing Luhn is not a card")
    func luhnFailure() throws {
        #expect(try mask("卡号4111111111111112") == "卡号4111111111111112")
        #expect(try mask("卡号4111 1111 1111 1112") == "卡号4111 1111 1111 1112")
    }

    @Test("order numbers and timestamps are not cards, even when they pass Luhn")
    func timestamps() throws {
        #expect(try mask("订单20231105123456789已发货") == "订单20231105123456789已发货")
        let luhnValidOrder = luhnComplete("2023110512345678")
        #expect(PIIMasker.luhnValid(luhnValidOrder.utf8))
        #expect(try mask("订单\(luhnValidOrder)") == "订单\(luhnValidOrder)")
        let epochMillis = luhnComplete("169999999999")
        #expect(try mask("ts=\(epochMillis)") == "ts=\(epochMillis)")
    }

    @Test("version strings and decimals are not phones")
    func versions() throws {
        #expect(try mask("版本1.3.8123456789") == "版本1.3.8123456789")
        #expect(try mask("v2.13812345678") == "v2.13812345678")
        #expect(try mask("13812345678.5") == "13812345678.5")
        #expect(try mask("电话13812345678.") == "电话[PHONE_1].", "a full stop is not a decimal point")
    }

    @Test("an 11-digit number starting 12 is not a phone")
    func notMobilePrefix() throws {
        #expect(try mask("号码12345678901") == "号码12345678901")
        #expect(try mask("号码123 4567 8901") == "号码123 4567 8901")
    }

    @Test("a match is never part of a longer digit run or grouping")
    func longerRuns() throws {
        #expect(try mask("流水13812345678901234567") == "流水13812345678901234567", "phone inside 20 digits")
        let id = idNumber("11010520000229001")
        #expect(try mask("9\(id)") == "9\(id)", "ID inside 19 digits")
        #expect(try mask("\(id)7") == "\(id)7")
        #expect(try mask("4111 1111 1111 1111 1234") == "4111 1111 1111 1111 1234", "a card inside a longer grouping")
        #expect(try mask("1234 4111 1111 1111 1111") == "1234 4111 1111 1111 1111")
        #expect(try mask("138 1234 5678 9999") == "138 1234 5678 9999")
        #expect(try mask("12 138 1234 5678") == "12 138 1234 5678")
        // Separate numbers next to each other are each masked.
        #expect(try mask("13812345678 13912345678") == "[PHONE_1] [PHONE_2]")
        #expect(try mask("13812345678 4111 1111 1111 1111") == "[PHONE_1] [BANK_CARD_1]")
        #expect(try mask("共2 4111 1111 1111 1111") == "共2 [BANK_CARD_1]")
        #expect(try mask("卡号6222 0200 0000 0000 000 12月到期") == "卡号[BANK_CARD_1] 12月到期", "the short last group ends the grouping")
    }

    // MARK: Overlaps

    @Test("an ID number that also passes as a card is an ID number")
    func idBeforeBankCard() throws {
        let both = "440304199003071256"
        #expect(PIIMasker.idCardValid(both))
        #expect(PIIMasker.luhnValid(both.utf8))
        #expect(try mask("号码\(both)") == "号码[ID_CARD_1]")
        #expect(try mask("号码\(both)", PIIMasker.Rules(idCard: false)) == "号码[BANK_CARD_1]")
    }

    @Test("digits in front of @ belong to the e-mail address; without a domain they are a phone")
    func phoneVersusEmail() throws {
        var session = try masker().session()
        #expect(session.mask("QQ邮箱13812345678@qq.com") == "QQ邮箱[EMAIL_1]")
        #expect(session.mapping["[EMAIL_1]"] == "13812345678@qq.com")
        #expect(try mask("@13812345678 13812345678@") == "@[PHONE_1] [PHONE_1]@")
        #expect(try mask("13812345678@qq.com", PIIMasker.Rules(email: false)) == "[PHONE_1]@qq.com")
    }

    @Test("built-in kinds win over custom patterns; custom patterns in list order; spans never overlap")
    func customOverlaps() throws {
        let rules = PIIMasker.Rules(custom: [
            PIIMasker.CustomPattern(name: "tel", pattern: "TEL:[0-9]+"), PIIMasker.CustomPattern(name: "mailbox", pattern: "[a-z]+@example\\.com"),
            PIIMasker.CustomPattern(name: "code", pattern: "[A-Z]{3}-[0-9]{3}"), PIIMasker.CustomPattern(name: "short", pattern: "[X-Z]{3}"),
        ])
        var session = try masker(rules).session()
        #expect(session.mask("TEL:13812345678 TEL:42 bob@example.com ABC-123 XYZ") == "TEL:[PHONE_1] [TEL_1] [EMAIL_1] [CODE_1] [SHORT_1]")
        #expect(session.counts == [.phone: 1, .custom("tel"): 1, .email: 1, .custom("code"): 1, .custom("short"): 1])
    }

    // MARK: Performance

    @Test("a 100 KB message is scanned in linear time")
    func performance() throws {
        var text = ""
        var i = 0
        while text.utf8.count < 100_000 {
            text += "第\(i)行：用户张三的电话是1381234\(String(format: "%04d", i % 10_000))，订单20231105\(i)，版本1.2.\(i)。 "
            i += 1
        }
        text += "```\n" + String(repeating: "code 13812345678 ", count: 200) + "\n```"
        var session = try masker().session()
        var masked = ""
        // The CPU time of this thread, not the wall clock: on a machine shared with other builds the scan can
        // wait for a core for longer than it runs.
        let elapsed = threadCPUTime { masked = session.mask(text) }
        #expect(session.counts[.phone] == i)
        #expect(session.restore(masked) == text)
        // Generous for unoptimised test builds; a quadratic scan takes seconds here.
        #expect(elapsed < .milliseconds(500), "took \(elapsed) of CPU")
    }

    @Test("chat messages are masked in every message, content parts and tool-call arguments included, and restored back")
    func chatPlanMasking() throws {
        let messages: JSONValue = [
            ["role": "system", "content": "Customer phone 13812345678."],
            [
                "role": "user",
                "content": [["type": "text", "text": "my card 4111111111111111"], ["type": "image_url", "image_url": ["url": "https://x/13812345678.png"]]],
            ],
            [
                "role": "assistant", "content": .null,
                "tool_calls": [["id": "c1", "type": "function", "function": ["name": "lookup", "arguments": #"{"phone":"13812345678"}"#]]],
            ],
        ]
        var session = try PIIMasker().session()
        let masked = session.mask(messages: messages)
        let out = JSONWriter.string(masked)
        #expect(!out.contains("phone 13812345678") && !out.contains("4111111111111111"))
        #expect(out.contains("[PHONE_1]") && out.contains("[BANK_CARD_1]"))
        #expect(out.contains(#"{\"phone\":\"[PHONE_1]\"}"#), "tool-call arguments masked with the same placeholder")
        #expect(out.contains("https://x/13812345678.png"), "image URLs are left alone: the upstream fetches them")
        let answer: JSONObject = [
            "choices": [
                [
                    "index": 0,
                    "message": [
                        "role": "assistant", "content": "Calling [PHONE_1]",
                        "tool_calls": [["id": "c2", "type": "function", "function": ["name": "call", "arguments": #"{"to":"[PHONE_1]"}"#]]],
                    ],
                ]
            ]
        ]
        let restored = JSONWriter.string(.object(session.restore(completion: answer)))
        #expect(restored.contains("Calling 13812345678"))
        #expect(restored.contains(#"{\"to\":\"13812345678\"}"#))
    }
}
