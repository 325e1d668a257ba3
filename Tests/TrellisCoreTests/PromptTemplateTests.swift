import OpenAIWire
import Testing

@testable import TrellisCore

@Suite("Prompt templates") struct PromptTemplateTests {
    @Test func placeholdersAreFoundWithOptionalSpaces() {
        let t = PromptTemplate("Hi {{name}}, {{ greeting }} from {{co_2}}; {{ not closed, {{}} {{9x}} {x}")
        #expect(t.placeholders == ["name", "greeting", "co_2"])
        #expect(t.render(["name": "Ann", "greeting": "hello", "co_2": "ACME"]) == "Hi Ann, hello from ACME; {{ not closed, {{}} {{9x}} {x}")
    }

    @Test func substitutionIsLiteralAndSinglePass() {
        let t = PromptTemplate("A={{a}} B={{b}}")
        #expect(t.render(["a": "{{b}}", "b": "$(rm -rf /) \\n %s"]) == "A={{b}} B=$(rm -rf /) \\n %s")
    }

    @Test func unicodeRoundTripsExactly() {
        let t = PromptTemplate("问题：{{input}}。👍🏽 é")
        #expect(t.render(["input": "手机丢了能赔吗？ 🇨🇳 e\u{301}"]) == "问题：手机丢了能赔吗？ 🇨🇳 e\u{301}。👍🏽 é")
    }
}

@Suite("Prompt definitions") struct PromptDefinitionTests {
    let definition: PromptDefinition

    init() throws {
        definition = try PromptDefinition.parse(
            messages: [
                ["role": "system", "content": "Company {{company}}, tone {{tone}}."],
                ["role": "user", "content": "example question"],
                ["role": "assistant", "content": "example answer"],
                ["role": "user", "content": "Q: {{input}} ({{tone}})"],
            ],
            variables: ["company": ["default": "ACME"], "tone": [:]])
    }

    @Test func defaultsFillAndCallerValuesWin() throws {
        #expect(try definition.resolveVariables(["tone": "calm"]) == ["company": "ACME", "tone": "calm"])
        #expect(try definition.resolveVariables(["tone": "calm", "company": "Globex"]) == ["company": "Globex", "tone": "calm"])
    }

    @Test func missingAndUndeclaredVariablesAreNamed() {
        #expect(throws: TrellisError.self) { try definition.resolveVariables([:]) }
        do {
            _ = try definition.resolveVariables([:])
        } catch {
            #expect(error.param == "variables.tone" && error.code == "missing_variable" && error.status == 400)
        }
        do {
            _ = try definition.resolveVariables(["tone": "x", "colour": "red"])
            Issue.record("an undeclared variable must be refused")
        } catch {
            #expect(error.param == "variables.colour" && error.code == "unknown_variable")
        }
    }

    @Test func applyOrdersPromptAndCallerMessages() throws {
        let caller: [JSONValue] = [
            ["role": "system", "content": "caller system"],
            ["role": "user", "content": "first"],
            ["role": "assistant", "content": "reply"],
            ["role": "user", "content": "second"],
        ]
        let out = try definition.apply(to: caller, variables: ["tone": "warm"])
        #expect(
            out.compactMap { $0["content"]?.stringValue } == [
                "Company ACME, tone warm.", "caller system", "example question", "example answer", "first", "reply", "Q: second (warm)",
            ])
    }

    @Test func multimodalContentKeepsItsParts() throws {
        let caller: [JSONValue] = [
            ["role": "user", "content": [["type": "image_url", "image_url": ["url": "data:,"]], ["type": "text", "text": "what is it?"]]]
        ]
        let out = try definition.apply(to: caller, variables: ["tone": "t"])
        let parts = try #require(out.last?["content"]?.arrayValue)
        #expect(parts.count == 2)
        #expect(parts[0]["type"]?.stringValue == "image_url")
        #expect(parts[1]["text"]?.stringValue == "Q: what is it? (t)")
    }

    @Test func anInputTemplateNeedsAUserMessage() {
        #expect(throws: TrellisError.self) { try definition.apply(to: [["role": "system", "content": "s"]], variables: ["tone": "t"]) }
    }

    @Test func invalidDefinitionsAreRefused() {
        let cases: [(JSONValue, JSONValue?, String)] = [
            ([], nil, "messages"),
            ([["role": "user", "content": "{{x}}"]], nil, "variables"),
            ([["role": "system", "content": "{{input}}"]], nil, "messages[0].content"),
            ([["role": "user", "content": "{{input}}"], ["role": "assistant", "content": "a"]], nil, "messages[0].content"),
            ([["role": "tool", "content": "x"]], nil, "messages[0].role"),
            ([["role": "system", "content": 5]], nil, "messages[0].content"),
            ([["role": "system", "content": "x"]], ["input": [:]], "variables.input"),
            ([["role": "system", "content": "x"]], ["bad-name": [:]], "variables.bad-name"),
            ([["role": "system", "content": "x"]], ["v": ["default": 3]], "variables.v.default"),
        ]
        for (messages, variables, param) in cases {
            do {
                _ = try PromptDefinition.parse(messages: messages, variables: variables)
                Issue.record("expected a refusal naming \(param)")
            } catch {
                #expect(error.param == param, "\(messages) \(String(describing: variables))")
            }
        }
    }
}
