import AsyncHTTPClient
import Foundation
import OpenAIWire
import Testing

@testable import TrellisServer

/// Reads a Responses API stream to the end: each event's JSON, in order.
func readResponseEvents(_ response: HTTPClientResponse) async throws -> [JSONValue] {
    var parser = SSEParser()
    var out: [JSONValue] = []
    for try await buffer in response.body {
        for event in try parser.feed(buffer.readableBytesView) {
            let json = try JSONParser.parse(event.data)
            #expect(event.event == json["type"]?.stringValue, "each event's SSE name is its type")
            out.append(json)
        }
    }
    return out
}

@Suite struct ResponsesTests {
    @Test func aWholeResponseIsTheChatAnswerInTheResponsesShape() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            let reply = try await gw.request(
                .POST, "/v1/responses", key: key,
                json: [
                    "model": "echo", "input": "你好", "instructions": "Answer briefly.", "max_output_tokens": 4, "temperature": 0.3,
                    "metadata": ["ticket": "T-1"], "user": "alice", "include": [],
                ])
            #expect(reply.status == 200, "\(reply.text)")
            let object = reply.json
            let requestID = try #require(reply.headers.first(name: "x-request-id"))
            #expect(object["id"]?.stringValue == "resp_" + requestID.dropFirst(4), "the response id names its request")
            #expect(object["object"]?.stringValue == "response")
            #expect(object["status"]?.stringValue == "completed")
            #expect(object["model"]?.stringValue == "echo")
            #expect(object["instructions"]?.stringValue == "Answer briefly.")
            #expect(object["metadata"]?["ticket"]?.stringValue == "T-1")
            #expect(object["temperature"]?.numberValue?.doubleValue == 0.3)
            #expect(object["max_output_tokens"]?.numberValue?.intValue == 4)
            let item = try #require(object["output"]?.arrayValue?.first)
            #expect(item["type"]?.stringValue == "message")
            #expect(item["role"]?.stringValue == "assistant")
            #expect(item["content"]?.arrayValue?.first?["type"]?.stringValue == "output_text")
            #expect(item["content"]?.arrayValue?.first?["text"]?.stringValue == "echo:你好")
            #expect(object["usage"]?["input_tokens"]?.numberValue?.intValue == 7)
            #expect(object["usage"]?["output_tokens"]?.numberValue?.intValue == 4)
            #expect(object["usage"]?["total_tokens"]?.numberValue?.intValue == 11)

            let sent = try #require(upstream.lastBody)
            #expect(sent["messages"] == [["role": "system", "content": "Answer briefly."], ["role": "user", "content": "你好"]])
            #expect(sent["max_tokens"]?.numberValue?.intValue == 4)
            #expect(sent["temperature"]?.numberValue?.doubleValue == 0.3)
            #expect(sent["user"]?.stringValue == "alice")

            await gw.flushUsage()
            let row = try #require(try await gw.gateway.store.usageEvents().last)
            #expect(row.endpoint == "responses")
            #expect(row.requestID == requestID)
            #expect(row.completionTokens == 4)
            #expect(row.endUser == "alice")
        }
    }

    @Test func aStoredResponseIsReadAndDeletedByItsTenantOnly() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            try await gw.createTenant("globex")
            let other = try await gw.issueKey(tenant: "globex").key
            let created = try await gw.request(.POST, "/v1/responses", key: key, json: ["model": "echo", "input": "keep me"])
            let id = try #require(created.json["id"]?.stringValue)

            let read = try await gw.request(.GET, "/v1/responses/\(id)", key: key)
            #expect(read.status == 200)
            #expect(read.json == created.json, "the stored object is the one returned")
            let foreign = try await gw.request(.GET, "/v1/responses/\(id)", key: other)
            #expect(foreign.status == 404)
            #expect(foreign.errorCode == "not_found")
            let missing = try await gw.request(.GET, "/v1/responses/resp_000000000000000000000000", key: key)
            #expect(
                foreign.json["error"]?["message"]?.stringValue
                    == missing.json["error"]?["message"]?.stringValue?.replacingOccurrences(of: "resp_000000000000000000000000", with: id),
                "another tenant's reads as a missing one")
            #expect(try await gw.request(.DELETE, "/v1/responses/\(id)", key: other).status == 404, "nor can another tenant delete it")

            let deleted = try await gw.request(.DELETE, "/v1/responses/\(id)", key: key)
            #expect(deleted.status == 200)
            #expect(deleted.json["deleted"] == true)
            #expect(try await gw.request(.GET, "/v1/responses/\(id)", key: key).status == 404)

            let unstored = try await gw.request(.POST, "/v1/responses", key: key, json: ["model": "echo", "input": "x", "store": false])
            #expect(unstored.json["store"] == false)
            let unstoredID = try #require(unstored.json["id"]?.stringValue)
            #expect(try await gw.request(.GET, "/v1/responses/\(unstoredID)", key: key).status == 404, "store: false keeps nothing")
        }
    }

    @Test func aKeyLimitedToOtherModelsFindsNoneOfTheirResponses() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            let created = try await gw.request(.POST, "/v1/responses", key: key, json: ["model": "echo", "input": "private"])
            let id = try #require(created.json["id"]?.stringValue)
            let narrow = try await gw.issueKey(tenant: "acme", ["name": "narrow", "models": ["no-usage"]]).key
            #expect(try await gw.request(.GET, "/v1/responses/\(id)", key: narrow).status == 404)
            #expect(try await gw.request(.DELETE, "/v1/responses/\(id)", key: narrow).status == 404)
            let continued = try await gw.request(
                .POST, "/v1/responses", key: narrow, json: ["model": "no-usage", "input": "x", "previous_response_id": .string(id)])
            #expect(continued.status == 404)
            #expect(try await gw.request(.GET, "/v1/responses/\(id)", key: key).status == 200, "still there for the keys that may call echo")
        }
    }

    @Test func aChainOfResponsesCannotGrowPastTheBodyLimit() async throws {
        try await TestGateway.withStandardSetup(configure: { $0.maxBodyBytes = 4_096 }) { gw, _, key in
            var previous: JSONValue = .null
            var refused: TestGateway.Reply?
            for _ in 0..<8 {
                let reply = try await gw.request(
                    .POST, "/v1/responses", key: key,
                    json: ["model": "echo", "input": .string(String(repeating: "x", count: 1_000)), "previous_response_id": previous])
                guard reply.status == 200 else {
                    refused = reply
                    break
                }
                previous = reply.json["id"] ?? .null
            }
            let last = try #require(refused, "each turn adds about 2 KB (the input and its echo); the limit is 4 KB")
            #expect(last.status == 400)
            #expect(last.errorCode == "conversation_too_large")
            #expect(last.json["error"]?["param"] == "previous_response_id")
        }
    }

    @Test func previousResponseIDSendsTheEarlierConversationAgain() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await gw.createTenant("globex")
            let other = try await gw.issueKey(tenant: "globex").key
            let first = try await gw.request(
                .POST, "/v1/responses", key: key, json: ["model": "echo", "input": "one", "instructions": "First instructions."])
            let firstID = try #require(first.json["id"]?.stringValue)
            let second = try await gw.request(
                .POST, "/v1/responses", key: key,
                json: ["model": "echo", "input": [["role": "user", "content": "two"]], "previous_response_id": .string(firstID)])
            #expect(second.status == 200)
            #expect(second.json["previous_response_id"]?.stringValue == firstID)
            let sent = try #require(upstream.lastBody)
            #expect(
                sent["messages"]
                    == [["role": "user", "content": "one"], ["role": "assistant", "content": "echo:one"], ["role": "user", "content": "two"]],
                "the earlier input and output come first; the earlier instructions do not carry over")

            let thirdID = try #require(second.json["id"]?.stringValue)
            _ = try await gw.request(.POST, "/v1/responses", key: key, json: ["model": "echo", "input": "three", "previous_response_id": .string(thirdID)])
            #expect(upstream.lastBody?["messages"]?.arrayValue?.count == 5, "a chain of responses carries the whole conversation")

            let foreign = try await gw.request(
                .POST, "/v1/responses", key: other, json: ["model": "echo", "input": "steal", "previous_response_id": .string(firstID)])
            #expect(foreign.status == 404)
            #expect(foreign.json["error"]?["param"]?.stringValue == "previous_response_id")
        }
    }

    @Test func aStreamSendsTheTypedEventsInOrderAndKeepsTheResponse() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            let response = try await gw.stream("/v1/responses", key: key, json: ["model": "echo", "input": "hi", "stream": true])
            #expect(response.status == .ok)
            #expect(response.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true)
            let events = try await readResponseEvents(response)
            let types = events.compactMap { $0["type"]?.stringValue }
            #expect(
                types
                    == [
                        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
                        "response.output_text.delta", "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
                        "response.content_part.done", "response.output_item.done", "response.completed",
                    ])
            #expect(events.map { $0["sequence_number"]?.numberValue?.intValue } == Array(0..<events.count), "sequence numbers count from 0")
            let deltas = events.filter { $0["type"] == "response.output_text.delta" }.compactMap { $0["delta"]?.stringValue }.joined()
            #expect(deltas == "tok0tok1tok2")
            let done = try #require(events.first { $0["type"] == "response.output_text.done" })
            #expect(done["text"]?.stringValue == deltas)
            let completed = try #require(events.last?["response"])
            #expect(completed["status"]?.stringValue == "completed")
            #expect(completed["output"]?.arrayValue?.first?["content"]?.arrayValue?.first?["text"]?.stringValue == deltas)
            #expect(completed["usage"]?["output_tokens"]?.numberValue?.intValue == 3)
            let itemID = events[2]["item"]?["id"]
            #expect(events.filter { $0["item_id"] != nil }.allSatisfy { $0["item_id"] == itemID }, "one item id throughout")
            #expect(completed["output"]?.arrayValue?.first?["id"] == itemID)

            let id = try #require(completed["id"]?.stringValue)
            #expect(events[0]["response"]?["id"]?.stringValue == id)
            let stored = try await gw.request(.GET, "/v1/responses/\(id)", key: key)
            #expect(stored.status == 200, "the streamed response is kept before its last event is sent")
            #expect(stored.json == completed)
            await gw.flushUsage()
            let row = try #require(try await gw.gateway.store.usageEvents().last)
            #expect(row.endpoint == "responses")
            #expect(row.stream)
        }
    }

    @Test func aBrokenStreamEndsWithAnErrorAndAFailedResponse() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            let response = try await gw.stream("/v1/responses", key: key, json: ["model": "break-stream", "input": "hi", "stream": true])
            let events = try await readResponseEvents(response)
            let types = events.compactMap { $0["type"]?.stringValue }
            #expect(Array(types.suffix(2)) == ["error", "response.failed"], "\(types)")
            #expect(events.last?["response"]?["status"]?.stringValue == "failed")
            #expect(events.last?["response"]?["error"]?["code"]?.stringValue == "upstream_stream_broken")
            #expect(types.contains("response.output_item.done"), "the partial text item is closed")
        }
    }
}
