import OpenAIWire
import Testing
import TrellisCore

@Suite("TokenEstimator")
struct TokenEstimatorTests {
    @Test("ASCII: about four characters per token, rounded up")
    func ascii() {
        #expect(TokenEstimator.estimate(text: "") == 0)
        #expect(TokenEstimator.estimate(text: "a") == 1)
        #expect(TokenEstimator.estimate(text: "abcd") == 1)
        #expect(TokenEstimator.estimate(text: "abcde") == 2)
        #expect(TokenEstimator.estimate(text: String(repeating: "x", count: 400)) == 100)
    }

    @Test("CJK and other non-ASCII text: one token per character")
    func cjk() {
        #expect(TokenEstimator.estimate(text: "你好") == 2)
        #expect(TokenEstimator.estimate(text: "こんにちは") == 5)
        #expect(TokenEstimator.estimate(text: "안녕") == 2)
        #expect(TokenEstimator.estimate(text: "😀") == 1)
    }

    @Test("CJK counts far more tokens than the same number of ASCII characters")
    func cjkVersusASCII() {
        let n = 100
        #expect(TokenEstimator.estimate(text: String(repeating: "中", count: n)) == n)
        #expect(TokenEstimator.estimate(text: String(repeating: "a", count: n)) == n / 4)
    }

    @Test("mixed text adds both parts")
    func mixed() {
        #expect(TokenEstimator.estimate(text: "hello你好") == 2 + 2)
    }

    @Test("messages: a base, a per-message overhead, and the text of strings and text parts")
    func messages() {
        let empty = TokenEstimator.estimate(messages: [])
        let one = TokenEstimator.estimate(messages: [["role": "user", "content": ""]])
        let two = TokenEstimator.estimate(messages: [["role": "user", "content": ""], ["role": "assistant", "content": nil]])
        #expect(one > empty)
        #expect(two - one == one - empty)  // the same overhead per message
        let perMessage = one - empty
        let text = TokenEstimator.estimate(messages: [["role": "user", "content": "你好你好"]])
        #expect(text == empty + perMessage + 4)
        let parts = TokenEstimator.estimate(messages: [
            [
                "role": "user",
                "content": [["type": "text", "text": "你好"], ["type": "image_url", "image_url": ["url": "data:aaaa"]], ["type": "text", "text": "世界"]],
            ]
        ])
        #expect(parts == empty + perMessage + 4)
    }
}
