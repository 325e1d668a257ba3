import Foundation
import OpenAIWire
import Testing

@testable import TrellisServer

/// `/mcp` against the gateway's policies: a model's prompt template filled from `ask_model`'s variables, a key's
/// model allowlist, and the idle timeout of sessions (on the gateway's clock, which the test moves).
@Suite struct MCPPolicyTests {
    static func toolText(_ reply: TestGateway.Reply) -> String {
        reply.json["result"]?["content"]?.arrayValue?.first?["text"]?.stringValue ?? ""
    }

    @Test func askModelFillsTheModelsPromptTemplateWithItsVariables() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, _ in
            let keys = try await MCPTests.setUp(gw)
            try await gw.createModel("greeter", tenant: "acme", spec: ["upstream": "mock", "model": "echo", "prompt": ["name": "greet"]])
            var client = MCPTestClient(gw, key: keys.acme)
            #expect(try await client.initialize().status == 200)

            let asked = try await client.call(
                "tools/call", ["name": "ask_model", "arguments": ["model": "greeter", "input": "hello", "variables": ["who": "Ada", "lang": "French"]]])
            #expect(asked.json["result"]?["isError"] == false, "\(asked.text)")
            #expect(asked.json["result"]?["structuredContent"]?["model"]?.stringValue == "greeter")
            #expect(
                upstream.lastBody?["messages"] == [["role": "system", "content": "Greet Ada in French."], ["role": "user", "content": "Say: hello"]],
                "the template's system message and input template, filled with the call's variables")
            #expect(upstream.lastBody?["model"]?.stringValue == "echo")
            #expect(upstream.lastBody?["variables"] == nil, "variables never reach the upstream")

            let defaulted = try await client.call(
                "tools/call", ["name": "ask_model", "arguments": ["model": "greeter", "input": "bye", "variables": ["who": "Lin"]]])
            #expect(defaulted.json["result"]?["isError"] == false, "\(defaulted.text)")
            #expect(upstream.lastBody?["messages"]?.arrayValue?.first?["content"]?.stringValue == "Greet Lin in English.", "a variable's default")

            let calls = upstream.requests.count
            let missing = try await client.call("tools/call", ["name": "ask_model", "arguments": ["model": "greeter", "input": "x"]])
            #expect(missing.status == 200)
            #expect(missing.json["error"] == nil, "a missing variable is the tool's error, not the protocol's")
            #expect(missing.json["result"]?["isError"] == true)
            #expect(Self.toolText(missing).contains("who"), "the error names the variable: \(Self.toolText(missing))")
            let notString = try await client.call(
                "tools/call", ["name": "ask_model", "arguments": ["model": "greeter", "input": "x", "variables": ["who": 5]]])
            #expect(notString.json["result"]?["isError"] == true)
            #expect(upstream.requests.count == calls, "a refused call reaches no upstream")
            #expect(try await client.call("ping").json["result"] == [:], "the session goes on")
        }
    }

    @Test func aKeyLimitedToSomeModelsIsOfferedAndMayAskOnlyThose() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, _ in
            try await gw.createModel("acme-bot", tenant: "acme", spec: ["upstream": "mock", "model": "echo"])
            let narrow = try await gw.issueKey(tenant: "acme", ["name": "narrow", "models": ["acme-bot", "fail-500"]]).key
            var client = MCPTestClient(gw, key: narrow)
            _ = try await client.initialize()
            let tools = try #require(try await client.call("tools/list").json["result"]?["tools"]?.arrayValue)
            let ask = try #require(tools.first { $0["name"]?.stringValue == "ask_model" })
            #expect(ask["inputSchema"]?["properties"]?["model"]?["enum"] == ["acme-bot", "fail-500"], "only the key's models, sorted")

            let allowed = try await client.call("tools/call", ["name": "ask_model", "arguments": ["model": "acme-bot", "input": "hi"]])
            #expect(allowed.json["result"]?["isError"] == false, "\(allowed.text)")
            #expect(Self.toolText(allowed) == "echo:hi")
            let calls = upstream.requests.count
            #expect(calls >= 1)

            for other in ["echo", "no-usage"] {
                let refused = try await client.call("tools/call", ["name": "ask_model", "arguments": ["model": .string(other), "input": "hi"]])
                #expect(refused.status == 200)
                #expect(refused.json["error"] == nil)
                #expect(refused.json["result"]?["isError"] == true, "\(other) is the tenant's but not the key's: \(refused.text)")
                #expect(!Self.toolText(refused).isEmpty)
                #expect(refused.json["result"]?["structuredContent"] == nil)
            }
            #expect(upstream.requests.count == calls, "a refused model reaches no upstream")
            #expect(upstream.calls("echo") == 1, "only the allowed call reached the mock's echo")

            // The whole tenant's key is offered every model, the refused ones among them.
            let wide = try await gw.issueKey(tenant: "acme").key
            var all = MCPTestClient(gw, key: wide)
            _ = try await all.initialize()
            let everything = try await all.call("tools/list").json["result"]?["tools"]?.arrayValue ?? []
            let models = everything.first { $0["name"]?.stringValue == "ask_model" }?["inputSchema"]?["properties"]?["model"]?["enum"]?.arrayValue ?? []
            #expect(models.contains("echo") && models.contains("no-usage") && models.contains("acme-bot"))
        }
    }

    @Test func aSessionIdleLongerThanTheSettingIsGoneAndANewOneOpens() async throws {
        let clock = FakeClock()
        try await TestGateway.withStandardSetup(configure: { $0.mcpSessionIdleSeconds = 60 }, clock: clock.now) { gw, _, key in
            var client = MCPTestClient(gw, key: key)
            #expect(try await client.initialize().status == 200)
            let stale = try #require(client.session)
            #expect(try await client.call("ping").status == 200)
            clock.advance(45)
            #expect(try await client.call("ping").status == 200, "used within the setting: still open, and used again now")
            clock.advance(45)
            #expect(try await client.call("ping").status == 200, "idle is counted from the last use, not from initialize")

            clock.advance(61)
            let expired = try await client.call("ping")
            #expect(expired.status == 404, "idle past mcp.session_idle_seconds: \(expired.text)")
            #expect(expired.json["error"]?["code"] == -32_001)
            #expect(try await client.call("tools/list").status == 404, "and it stays gone")

            #expect(try await client.initialize().status == 200)
            let fresh = try #require(client.session)
            #expect(fresh != stale)
            #expect(try await client.call("ping").json["result"] == [:])
            #expect(try await client.call("ping", session: stale).status == 404)

            // Opening a session sweeps the idle ones: another session of the key, idle too long, is gone with it.
            var other = MCPTestClient(gw, key: key)
            _ = try await other.initialize()
            clock.advance(61)
            _ = try await client.initialize()
            #expect(try await other.call("ping").status == 404)
            #expect(try await client.call("ping").status == 200)
        }
    }
}
