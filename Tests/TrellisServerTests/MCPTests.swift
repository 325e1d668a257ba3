import Foundation
import OpenAIWire
import Testing

@testable import TrellisServer

/// A client of the gateway's `/mcp` for one key: initialize, then requests in its session.
struct MCPTestClient {
    let gw: TestGateway
    let key: String
    var session: String?
    var nextID = 1

    init(_ gw: TestGateway, key: String) {
        self.gw = gw
        self.key = key
    }

    mutating func initialize(version: String = "2025-06-18") async throws -> TestGateway.Reply {
        let reply = try await gw.request(
            .POST, "/mcp", key: key,
            json: [
                "jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": ["protocolVersion": .string(version), "capabilities": [:], "clientInfo": ["name": "test", "version": "1"]],
            ])
        session = reply.headers.first(name: "mcp-session-id")
        return reply
    }

    mutating func call(_ method: String, _ params: JSONObject = [:], session override: String? = nil) async throws -> TestGateway.Reply {
        defer { nextID += 1 }
        var headers: [(String, String)] = []
        if let s = override ?? session { headers.append(("Mcp-Session-Id", s)) }
        return try await gw.request(
            .POST, "/mcp", key: key, json: ["jsonrpc": "2.0", "id": .int(nextID), "method": .string(method), "params": .object(params)],
            headers: headers)
    }
}

@Suite struct MCPTests {
    static let policy = "# Claims\n\nHail damage to a car is covered up to 5,000 yuan per year. 冰雹损坏每年赔付上限五千元。"

    /// Tenant acme with a knowledge base `policies` (one document) and a prompt `greet`; globex with its own model.
    static func setUp(_ gw: TestGateway) async throws -> (acme: String, globex: String) {
        let acme = try await gw.issueKey(tenant: "acme", ["scopes": ["inference", "manage"]]).key
        #expect(try await gw.request(.POST, "/admin/v1/knowledge-bases", key: acme, json: ["name": "policies"]).status == 201)
        let doc = try await gw.request(
            .POST, "/admin/v1/knowledge-bases/policies/documents", key: acme, json: ["title": "Car policy", "text": .string(policy)])
        #expect(doc.status == 201)
        let prompt = try await gw.admin(
            .POST, "/prompts",
            [
                "name": "greet", "tenant": "acme", "description": "A greeting",
                "messages": [["role": "system", "content": "Greet {{who}} in {{lang}}."], ["role": "user", "content": "Say: {{input}}"]],
                "variables": ["who": [:], "lang": ["default": "English"]],
            ])
        #expect(prompt.status == 201, "\(prompt.text)")
        try await gw.createTenant("globex")
        try await gw.createModel("globex-bot", tenant: "globex", spec: ["upstream": "mock", "model": "echo"])
        let globex = try await gw.issueKey(tenant: "globex").key
        return (acme, globex)
    }

    @Test func aSessionListsAndCallsTheTenantsToolsAndPrompts() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, _ in
            let keys = try await Self.setUp(gw)
            var client = MCPTestClient(gw, key: keys.acme)
            let initialized = try await client.initialize(version: "2025-06-18")
            #expect(initialized.status == 200)
            #expect(initialized.json["result"]?["protocolVersion"]?.stringValue == "2025-06-18", "a supported revision is agreed as asked")
            #expect(initialized.json["result"]?["capabilities"]?["tools"] != nil)
            #expect(client.session?.hasPrefix("mcp-") == true)
            let ack = try await gw.request(
                .POST, "/mcp", key: keys.acme, json: ["jsonrpc": "2.0", "method": "notifications/initialized"],
                headers: [("Mcp-Session-Id", client.session ?? "")])
            #expect(ack.status == 202)
            #expect(ack.body.isEmpty)

            let tools = try await client.call("tools/list")
            let listed = try #require(tools.json["result"]?["tools"]?.arrayValue)
            #expect(listed.compactMap { $0["name"]?.stringValue } == ["knowledge_search", "ask_model"])
            #expect(listed[0]["inputSchema"]?["properties"]?["knowledge_base"]?["enum"] == ["policies"])
            let models = try #require(listed[1]["inputSchema"]?["properties"]?["model"]?["enum"]?.arrayValue)
            #expect(models.contains("echo"))
            #expect(!models.contains("globex-bot"), "another tenant's model is not offered")

            let search = try await client.call("tools/call", ["name": "knowledge_search", "arguments": ["knowledge_base": "policies", "query": "hail"]])
            let found = try #require(search.json["result"])
            #expect(found["isError"] == false)
            #expect(found["content"]?.arrayValue?.first?["text"]?.stringValue?.contains("Hail damage") == true)
            #expect(found["structuredContent"]?["results"]?.arrayValue?.first?["title"]?.stringValue == "Car policy")

            let asked = try await client.call("tools/call", ["name": "ask_model", "arguments": ["model": "echo", "input": "你好"]])
            #expect(asked.json["result"]?["content"]?.arrayValue?.first?["text"]?.stringValue == "echo:你好")
            #expect(upstream.lastBody?["messages"] == [["role": "user", "content": "你好"]])
            let askID = try #require(asked.json["result"]?["structuredContent"]?["request_id"]?.stringValue)

            let prompts = try await client.call("prompts/list")
            let greet = try #require(prompts.json["result"]?["prompts"]?.arrayValue?.first { $0["name"] == "greet" })
            #expect(greet["arguments"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["who", "lang", "input"])
            #expect(greet["arguments"]?.arrayValue?.compactMap { $0["required"]?.boolValue } == [true, false, true])
            let rendered = try await client.call("prompts/get", ["name": "greet", "arguments": ["who": "Ada", "input": "hello"]])
            #expect(
                rendered.json["result"]?["messages"]
                    == [
                        ["role": "user", "content": ["type": "text", "text": "Greet Ada in English."]],
                        ["role": "user", "content": ["type": "text", "text": "Say: hello"]],
                    ])
            let missing = try await client.call("prompts/get", ["name": "greet", "arguments": ["input": "x"]])
            #expect(missing.json["error"]?["code"] == -32602)
            #expect(missing.json["error"]?["message"]?.stringValue?.contains("who") == true)

            await gw.flushUsage()
            let rows = try await gw.gateway.store.usageEvents()
            #expect(rows.contains { $0.endpoint == "mcp:knowledge_search" && $0.model == "knowledge:policies" && $0.status == 200 })
            let ask = try #require(rows.first { $0.requestID == askID })
            #expect(ask.endpoint == "mcp:ask_model")
            #expect(ask.model == "echo")
        }
    }

    @Test func theUsageReportGroupsRequestsBySource() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            let keys = try await Self.setUp(gw)
            let chat = try await gw.request(
                .POST, "/v1/chat/completions", key: key, json: ["model": "echo", "messages": [["role": "user", "content": "hi"]], "user": "ann"])
            #expect(chat.status == 200)
            let rated = try await gw.request(
                .POST, "/v1/feedback", key: key, json: ["request_id": .string(chat.headers.first(name: "x-request-id") ?? ""), "rating": -1])
            #expect(rated.status == 201)
            var client = MCPTestClient(gw, key: keys.acme)
            _ = try await client.initialize()
            _ = try await client.call("tools/call", ["name": "ask_model", "arguments": ["model": "echo", "input": "one"]])
            _ = try await client.call("tools/call", ["name": "knowledge_search", "arguments": ["knowledge_base": "policies", "query": "hail"]])
            await gw.flushUsage()
            let report = try await gw.admin(.GET, "/usage?group_by=source,model")
            #expect(report.status == 200, "\(report.text)")
            let rows = try #require(report.json["data"]?.arrayValue)
            func row(_ source: String, _ model: String) -> JSONValue? {
                rows.first { $0["source"]?.stringValue == source && $0["model"]?.stringValue == model }
            }
            #expect(row("api", "echo")?["requests"] == 1)
            #expect(row("api", "echo")?["users"] == 1)
            #expect(row("api", "echo")?["negative"] == 1, "the rating counts where its request does")
            #expect(row("mcp", "echo")?["requests"] == 1)
            #expect(row("mcp", "knowledge:policies")?["requests"] == 1)
            #expect(row("mcp", "echo")?["p50_ms"] != .null, "latency from the rows themselves")
            let tooLong = try await gw.admin(.GET, "/usage?group_by=source&from=2026-01-01&to=2026-06-30")
            #expect(tooLong.status == 400)
            #expect(tooLong.json["error"]?["param"] == "group_by")
            let bySource = try await gw.admin(.GET, "/usage?group_by=source")
            #expect(bySource.json["data"]?.arrayValue?.compactMap { $0["source"]?.stringValue } == ["api", "mcp"])
            #expect(bySource.json["data"]?.arrayValue?.compactMap { $0["requests"]?.numberValue?.intValue } == [1, 2])
        }
    }

    @Test func aSessionBelongsToItsKeyAndOtherTenantsSeeNothingOfAcmes() async throws {
        try await TestGateway.withStandardSetup { gw, _, _ in
            let keys = try await Self.setUp(gw)
            var acme = MCPTestClient(gw, key: keys.acme)
            _ = try await acme.initialize()
            var globex = MCPTestClient(gw, key: keys.globex)
            let stolen = try await globex.call("tools/list", session: acme.session)
            #expect(stolen.status == 404, "another key cannot use a session")
            _ = try await globex.initialize()
            let tools = try #require(try await globex.call("tools/list").json["result"]?["tools"]?.arrayValue)
            #expect(tools.compactMap { $0["name"]?.stringValue } == ["ask_model"], "globex has no knowledge base")
            let models = tools.first?["inputSchema"]?["properties"]?["model"]?["enum"]?.arrayValue ?? []
            #expect(models.contains("globex-bot"))
            let search = try await globex.call("tools/call", ["name": "knowledge_search", "arguments": ["knowledge_base": "policies", "query": "hail"]])
            #expect(search.json["result"]?["isError"] == true, "acme's knowledge base is unknown to globex")
            let ask = try await globex.call("tools/call", ["name": "ask_model", "arguments": ["model": "globex-bot", "input": "hi"]])
            #expect(ask.json["result"]?["isError"] == false)
            let foreignPrompt = try await globex.call("prompts/get", ["name": "greet", "arguments": ["who": "x", "input": "y"]])
            #expect(foreignPrompt.json["error"]?["code"] == -32602)
            #expect(try await globex.call("prompts/list").json["result"]?["prompts"] == [])

            let noKey = try await gw.request(.POST, "/mcp", json: ["jsonrpc": "2.0", "id": 1, "method": "initialize", "params": [:]])
            #expect(noKey.status == 401)
            #expect(noKey.errorCode == "invalid_api_key")
            let operatorKey = try await gw.request(.POST, "/mcp", key: TestGateway.adminKey, json: ["jsonrpc": "2.0", "id": 1, "method": "ping"])
            #expect(operatorKey.status == 403)
        }
    }

    @Test func aKeyLimitedToSomeModelsSeesOnlyThePromptsTheyUse() async throws {
        try await TestGateway.withStandardSetup { gw, _, _ in
            _ = try await Self.setUp(gw)
            let hidden = try await gw.admin(
                .POST, "/prompts", ["name": "hidden", "tenant": "acme", "messages": [["role": "system", "content": "Secret rules."]]])
            #expect(hidden.status == 201)
            try await gw.createModel("greeter", tenant: "acme", spec: ["upstream": "mock", "model": "echo", "prompt": ["name": "greet"]])
            let narrow = try await gw.issueKey(tenant: "acme", ["name": "narrow", "models": ["greeter"]]).key
            var client = MCPTestClient(gw, key: narrow)
            _ = try await client.initialize()
            let listed = try await client.call("prompts/list").json["result"]?["prompts"]?.arrayValue ?? []
            #expect(listed.compactMap { $0["name"]?.stringValue } == ["greet"], "only the prompt its model uses")
            #expect(try await client.call("prompts/get", ["name": "hidden"]).json["error"]?["code"] == -32602)
            let wide = try await gw.issueKey(tenant: "acme").key
            var all = MCPTestClient(gw, key: wide)
            _ = try await all.initialize()
            let everything = try await all.call("prompts/list").json["result"]?["prompts"]?.arrayValue ?? []
            #expect(Set(everything.compactMap { $0["name"]?.stringValue }) == ["greet", "hidden"])
        }
    }

    @Test func toolCallsAreRateLimitedAndARevokedKeyIsRefusedAtOnce() async throws {
        try await TestGateway.withStandardSetup { gw, _, _ in
            let issued = try await gw.issueKey(tenant: "acme", ["name": "agent", "rpm": 1])
            var client = MCPTestClient(gw, key: issued.key)
            _ = try await client.initialize()
            let first = try await client.call("tools/call", ["name": "ask_model", "arguments": ["model": "echo", "input": "one"]])
            #expect(first.json["result"]?["isError"] == false)
            let second = try await client.call("tools/call", ["name": "ask_model", "arguments": ["model": "echo", "input": "two"]])
            #expect(second.json["result"]?["isError"] == true, "the key's requests per minute count tool calls")
            #expect(second.json["result"]?["content"]?.arrayValue?.first?["text"]?.stringValue?.contains("limit") == true)
            #expect(try await gw.admin(.DELETE, "/keys/\(issued.id)").status == 200)
            let revoked = try await client.call("ping")
            #expect(revoked.status == 401, "a revoked key's session ends with it")
            #expect(revoked.errorCode == "invalid_api_key")
        }
    }

    @Test func theTransportsRules() async throws {
        try await TestGateway.withStandardSetup(configure: { $0.mcpMaxSessionsPerKey = 2 }) { gw, _, key in
            var client = MCPTestClient(gw, key: key)
            let newest = try await client.initialize(version: "1999-01-01")
            #expect(newest.json["result"]?["protocolVersion"]?.stringValue == "2025-11-25", "an unknown revision gets the newest")
            #expect(try await client.call("ping", session: "").status == 404)
            let noSession = try await gw.request(.POST, "/mcp", key: key, json: ["jsonrpc": "2.0", "id": 1, "method": "ping"])
            #expect(noSession.status == 400)
            #expect(try await client.call("ping").json["result"] == [:])
            #expect(try await client.call("no/such").json["error"]?["code"] == -32601)
            let unknownTool = try await client.call("tools/call", ["name": "drop_tables"])
            #expect(unknownTool.json["error"]?["code"] == -32602)
            let badArguments = try await client.call("tools/call", ["name": "ask_model", "arguments": ["model": "echo"]])
            #expect(badArguments.json["result"]?["isError"] == true, "a tool's bad arguments are the tool's error, for the model to read")

            let items: JSONValue = [["jsonrpc": "2.0", "id": 7, "method": "ping"], ["jsonrpc": "2.0", "method": "notifications/cancelled"], ["id": 8]]
            let refusedBatch = try await gw.request(.POST, "/mcp", key: key, json: items, headers: [("Mcp-Session-Id", client.session ?? "")])
            #expect(refusedBatch.status == 400, "batches are gone after 2025-03-26")
            var old = MCPTestClient(gw, key: key)
            _ = try await old.initialize(version: "2025-03-26")
            let batch = try await gw.request(.POST, "/mcp", key: key, json: items, headers: [("Mcp-Session-Id", old.session ?? "")])
            #expect(batch.json.arrayValue?.count == 2)
            #expect(batch.json.arrayValue?.first?["id"] == 7)
            #expect(batch.json.arrayValue?.last?["error"]?["code"] == -32600)
            let huge = JSONValue.array(Array(repeating: ["jsonrpc": "2.0", "id": 1, "method": "ping"], count: 33))
            #expect(try await gw.request(.POST, "/mcp", key: key, json: huge, headers: [("Mcp-Session-Id", old.session ?? "")]).status == 400)
            let malformed = try await gw.request(
                .POST, "/mcp", key: key, json: ["jsonrpc": "1.0", "method": "notifications/x"], headers: [("Mcp-Session-Id", client.session ?? "")])
            #expect(malformed.status == 400)
            let garbage = try await gw.request(.POST, "/mcp", key: key, rawBody: Array("{not json".utf8), headers: [("Content-Type", "application/json")])
            #expect(garbage.status == 400)
            #expect(garbage.json["error"]?["code"] == -32700)
            #expect(try await gw.request(.GET, "/mcp", key: key).status == 405)

            // Two sessions per key here: opening one more closes the least recently used (`old`, then `client`).
            let first = client.session
            _ = try await client.call("ping")
            var second = MCPTestClient(gw, key: key)
            _ = try await second.initialize()
            var third = MCPTestClient(gw, key: key)
            _ = try await third.initialize()
            #expect(try await old.call("ping").status == 404)
            #expect(try await client.call("ping", session: first).status == 404)
            #expect(try await second.call("ping").status == 200)

            let closed = try await gw.request(.DELETE, "/mcp", key: key, headers: [("Mcp-Session-Id", third.session ?? "")])
            #expect(closed.status == 204)
            #expect(try await third.call("ping").status == 404)
        }
    }
}
