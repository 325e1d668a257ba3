import OpenAIWire
import Testing

@testable import TrellisCore

/// A router's rules as a value: parsing, the first route that holds, the facts read from a request, and what a
/// cascade reads as a refusal or an empty answer.
@Suite struct RouterSpecTests {
    static let spec: JSONValue = [
        "routes": [
            ["when": ["max_prompt_tokens": 300, "has_tools": false], "model": "small"],
            ["when": ["match": "(?i)contract|合同"], "model": "legal@2"],
            ["when": ["has_images": true], "model": "vision"],
            ["when": ["min_prompt_tokens": 2000], "model": "long"],
        ],
        "default": "large",
        "cascade": ["escalate_to": "large", "when": ["empty"]],
    ]

    func facts(tokens: Int = 10, text: String = "", tools: Bool = false, images: Bool = false) -> RouterFacts {
        RouterFacts(promptTokens: tokens, lastUserText: text, hasTools: tools, hasImages: images)
    }

    @Test func theFirstRouteWhoseConditionsAllHoldWins() throws {
        let router = try RouterSpec.parse(Self.spec)
        #expect(router.choose(facts()) == "small")
        #expect(router.choose(facts(text: "my contract", tools: true)) == "legal@2", "small needs no tools")
        #expect(router.choose(facts(tokens: 500, text: "合同条款")) == "legal@2")
        #expect(router.choose(facts(tokens: 500, images: true)) == "vision")
        #expect(router.choose(facts(tokens: 2000)) == "long")
        #expect(router.choose(facts(tokens: 1999)) == "large", "nothing holds: the default")
        #expect(router.choose(facts(tokens: 300)) == "small", "max_prompt_tokens is inclusive")
        #expect(router.children == ["small", "legal@2", "vision", "long", "large"])
        #expect(router.cascade == RouterSpec.Cascade(escalateTo: "large", when: [.empty]))
    }

    @Test func factsComeFromTheLastUserMessageTheToolsAndTheImageParts() {
        let messages: [JSONValue] = [
            ["role": "system", "content": "be brief"],
            ["role": "user", "content": "first question"],
            ["role": "assistant", "content": "an answer"],
            [
                "role": "user",
                "content": [["type": "text", "text": "what is in"], ["type": "image_url", "image_url": ["url": "data:image/png;base64,AA"]]],
            ],
        ]
        let f = RouterFacts(messages: messages, tools: .array([]))
        #expect(f.lastUserText == "what is in")
        #expect(f.hasImages && !f.hasTools)
        #expect(f.promptTokens > 0)
        #expect(RouterFacts(messages: [["role": "user", "content": "x"]], tools: [["type": "function"]]).hasTools)
    }

    @Test(arguments: [
        (["default": 3] as JSONValue, "spec.router.default"),
        (["routes": []] as JSONValue, "spec.router.default"),
        (["default": "a", "routes": [["model": "b"]]] as JSONValue, "spec.router.routes[0].when"),
        (["default": "a", "routes": [["when": ["max_prompt_tokens": -1], "model": "b"]]] as JSONValue, "spec.router.routes[0].when.max_prompt_tokens"),
        (["default": "a", "routes": [["when": ["has_tools": "yes"], "model": "b"]]] as JSONValue, "spec.router.routes[0].when.has_tools"),
        (["default": "a", "routes": [["when": ["match": "("], "model": "b"]]] as JSONValue, "spec.router.routes[0].when.match"),
        (
            ["default": "a", "routes": [["when": ["min_prompt_tokens": 9, "max_prompt_tokens": 3], "model": "b"]]] as JSONValue,
            "spec.router.routes[0].when.min_prompt_tokens"
        ),
        (["default": "a", "cascade": ["when": ["empty"]]] as JSONValue, "spec.router.cascade.escalate_to"),
        (["default": "a", "cascade": ["escalate_to": "b", "when": ["slow"]]] as JSONValue, "spec.router.cascade.when[0]"),
        (["default": "a", "fallback": "b"] as JSONValue, "spec.router.fallback"),
    ])
    func badRulesAreRefusedNamingTheField(spec: JSONValue, param: String) {
        #expect(throws: TrellisError.self) { try RouterSpec.parse(spec) }
        do {
            _ = try RouterSpec.parse(spec)
        } catch {
            #expect(error.param == param, "\(error.message)")
        }
    }

    @Test func aRouterSpecHasNoServingOfItsOwn() throws {
        let spec = try ModelSpec.parse(["router": ["default": "a"], "capture": ["enabled": true]])
        #expect(spec.router?.defaultModel == "a" && spec.deployments.isEmpty && spec.capture?.enabled == true)
        #expect(throws: TrellisError.self) { try ModelSpec.parse(["router": ["default": "a"], "prompt": ["name": "p"]]) }
    }

    @Test func aCatastrophicPatternRunsOutOfTimeInsteadOfHangingTheRequest() throws {
        let pattern = try SafePattern("(a+)+$", path: "p", budget: .milliseconds(5))
        #expect(pattern.search(String(repeating: "a", count: 40) + "b") == .timedOut)
        let generous = try SafePattern("(a+)+$", path: "p", budget: .seconds(10))
        #expect(generous.search("aaa") == .matched)
        #expect(generous.search("bbb") == .noMatch)
        let router = try RouterSpec.parse([
            "routes": [["when": ["match": "(a+)+$"], "model": "slow"]], "default": "fallback",
        ])
        #expect(router.choose(facts(text: String(repeating: "a", count: 40) + "b")) == "fallback")
    }

    @Test func refusalsAndEmptyAnswersAreWhatACascadeReadsAsSuch() {
        func completion(_ message: JSONValue) -> JSONObject { ["choices": [["index": 0, "message": message]]] }
        let all = Set(RouterSpec.Trigger.allCases)
        #expect(AnswerCheck.trigger(of: completion(["content": ""]), among: all) == .empty)
        #expect(AnswerCheck.trigger(of: completion(["content": "  \n"]), among: all) == .empty)
        #expect(AnswerCheck.trigger(of: completion(["content": .null]), among: all) == .empty)
        #expect(AnswerCheck.trigger(of: [:], among: all) == .empty, "no choice at all is no answer")
        let call: JSONValue = ["content": .null, "tool_calls": [["id": "c", "type": "function"]]]
        #expect(AnswerCheck.trigger(of: completion(call), among: all) == nil, "a tool call is an answer")
        #expect(AnswerCheck.trigger(of: completion(["content": .null, "refusal": "no"]), among: all) == .refusal)
        #expect(AnswerCheck.trigger(of: completion(["content": "I’m sorry, but I can’t help with that."]), among: all) == .refusal)
        #expect(AnswerCheck.trigger(of: completion(["content": "抱歉，我无法回答这个问题。"]), among: all) == .refusal)
        #expect(AnswerCheck.trigger(of: completion(["content": "Paris is the capital of France."]), among: all) == nil)
        #expect(AnswerCheck.trigger(of: completion(["content": ""]), among: [.refusal]) == nil, "only the triggers named")
        let long = "I can't help noticing " + String(repeating: "a long and useful answer ", count: 40)
        #expect(!AnswerCheck.soundsLikeRefusal(long), "a long answer is not read as a refusal")
    }
}
