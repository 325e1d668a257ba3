import Foundation
import OpenAIWire
import Testing

@testable import TrellisServer

/// The Responses API over each kind of industry model, and through the same steps as chat: retrieval (citations as
/// annotations), prompt templates with variables, masking and restoring personal data, capture, and limits.
@Suite struct ResponsesFlowTests {
    @Test func aRAGModelsCitationsAreFileCitationAnnotations() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, _ in
            let key = try await gw.issueKey(tenant: "acme", ["scopes": ["inference", "manage"]]).key
            #expect(try await gw.request(.POST, "/admin/v1/knowledge-bases", key: key, json: ["name": "policies"]).status == 201)
            let doc = try await gw.request(
                .POST, "/admin/v1/knowledge-bases/policies/documents", key: key,
                json: ["title": "Car policy", "text": "Hail damage to a car is covered up to 5,000 yuan per year."])
            let documentID = try #require(doc.json["id"]?.stringValue)
            try await gw.createModel("claims", tenant: "acme", spec: ["upstream": "mock", "model": "echo", "knowledge": ["bases": ["policies"]]])

            let whole = try await gw.request(.POST, "/v1/responses", key: key, json: ["model": "claims", "input": "Is hail damage covered?"])
            #expect(whole.status == 200, "\(whole.text)")
            let sent = try #require(upstream.lastBody?["messages"]?.arrayValue)
            #expect(sent.first?["content"]?.stringValue?.contains("Hail damage") == true, "the passage went upstream")
            let text = try #require(whole.json["output"]?.arrayValue?.first?["content"]?.arrayValue?.first)
            let annotation = try #require(text["annotations"]?.arrayValue?.first)
            #expect(annotation["type"] == "file_citation")
            #expect(annotation["file_id"]?.stringValue == documentID)
            #expect(annotation["filename"] == "Car policy")
            #expect(annotation["index"]?.numberValue?.intValue == text["text"]?.stringValue?.count, "not cited by number: at the end")

            let stream = try await gw.stream("/v1/responses", key: key, json: ["model": "claims", "input": "Is hail damage covered?", "stream": true])
            let events = try await readResponseEvents(stream)
            let added = try #require(events.first { $0["type"] == "response.output_text.annotation.added" })
            #expect(added["annotation"]?["file_id"]?.stringValue == documentID)
            let final = events.last?["response"]?["output"]?.arrayValue?.first?["content"]?.arrayValue?.first?["annotations"]
            #expect(final?.arrayValue?.count == 1)
        }
    }

    @Test func aPromptTemplateModelTakesItsVariables() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await gw.createModel(
                "greeter",
                spec: [
                    "upstream": "mock", "model": "echo",
                    "prompt": ["messages": [["role": "system", "content": "Greet {{who}}."]], "variables": ["who": [:]]],
                ])
            let reply = try await gw.request(.POST, "/v1/responses", key: key, json: ["model": "greeter", "input": "hi", "variables": ["who": "Ada"]])
            #expect(reply.status == 200, "\(reply.text)")
            #expect(upstream.lastBody?["messages"]?.arrayValue?.first?["content"]?.stringValue == "Greet Ada.")
            #expect(upstream.lastBody?["variables"] == nil, "variables are the gateway's, never passed on")
            let missing = try await gw.request(.POST, "/v1/responses", key: key, json: ["model": "greeter", "input": "hi"])
            #expect(missing.status == 400)
            #expect(missing.errorCode == "missing_variable")
        }
    }

    @Test func personalDataIsMaskedForAnExternalUpstreamAndRestoredInTheResponse() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            try await gw.createUpstream("cloud", baseURL: upstream.baseURL, extra: ["labels": ["external"]])
            try await gw.createModel("outside", spec: ["upstream": "cloud", "model": "echo"])
            let input = "Call me on 13812345678"
            let whole = try await gw.request(.POST, "/v1/responses", key: key, json: ["model": "outside", "input": .string(input)])
            #expect(upstream.lastBody?["messages"]?.arrayValue?.last?["content"]?.stringValue?.contains("13812345678") == false)
            #expect(whole.json["output"]?.arrayValue?.first?["content"]?.arrayValue?.first?["text"]?.stringValue == "echo:" + input)
            let id = try #require(whole.json["id"]?.stringValue)
            #expect(
                try await gw.request(.GET, "/v1/responses/\(id)", key: key).json["output"] == whole.json["output"],
                "kept as the caller got it")
        }
    }

    @Test func captureKeepsTheInteractionAndLimitsApply() async throws {
        try await TestGateway.withStandardSetup { gw, _, _ in
            #expect(try await gw.admin(.PATCH, "/tenants/acme", ["capture": ["enabled": true, "retention_days": 7]]).status == 200)
            let limited = try await gw.issueKey(tenant: "acme", ["name": "one-a-minute", "rpm": 1]).key
            let first = try await gw.request(.POST, "/v1/responses", key: limited, json: ["model": "echo", "input": "keep this"])
            #expect(first.status == 200)
            let second = try await gw.request(.POST, "/v1/responses", key: limited, json: ["model": "echo", "input": "and this"])
            #expect(second.status == 429)
            #expect(second.errorCode == "rate_limit_exceeded")
            #expect(second.headers.first(name: "retry-after") != nil)
            await gw.flushUsage()
            #expect(try await gw.gateway.store.interactionCount() == 1, "the answered request is captured; the refused one is not")
        }
    }
}
