import Foundation
import HTTPTypes
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

/// The inference flow run without HTTP: a parsed request and a key in, an ``InferenceOutcome`` out.
@Suite struct InferenceFlowTests {
    static func key(_ gw: TestGateway, _ key: String) throws -> TenantKey {
        try #require(gw.gateway.snapshot.key(for: KeyDigest(of: key)))
    }

    static func call(_ requestID: String, _ gw: TestGateway) -> CallContext {
        CallContext(requestID: requestID, logger: gw.gateway.logger, connection: ClientConnection(channel: nil))
    }

    static func chat(_ json: JSONValue) throws -> ChatRequest {
        try ChatRequest.parse(json)
    }

    @Test func aWholeChatAnswerIsACompleteOutcomeWithItsHeadersAndOneUsageRow() async throws {
        try await TestGateway.withStandardSetup { gw, _, _ in
            let key = try Self.key(gw, try await gw.issueKey(tenant: "acme", ["rpm": 60]).key)
            let request = try Self.chat(["model": "echo", "messages": [["role": "user", "content": "hi"]], "user": "u1"])
            let outcome = try await InferenceFlow(gateway: gw.gateway).chat(request, key: key, call: Self.call("req_flow_whole", gw))
            guard case .complete(let body, let headers) = outcome else {
                Issue.record("a request without stream is answered whole")
                return
            }
            let answer = try JSONParser.parse(body)
            #expect(answer["model"] == "echo")
            #expect(answer["choices"]?.arrayValue?.first?["message"]?["content"] == "echo:hi")
            #expect(headers.fields[.modelVersion] == "1")
            #expect(headers.fields.first?.name == HTTPField.Name.modelVersion, "the model version comes first")
            #expect(headers.fields[try #require(HTTPField.Name("x-ratelimit-limit-requests"))] == "60", "the admission's headers")
            await gw.flushUsage()
            let owner = try #require(try await gw.gateway.store.usageOwner(requestID: "req_flow_whole"))
            #expect(owner.model == "echo" && owner.modelVersion == 1 && owner.tenantID == key.tenantID)
        }
    }

    @Test func aStreamIsAnOutcomeToRelayWhoseFramesEndWithDone() async throws {
        try await TestGateway.withStandardSetup { gw, _, plain in
            let key = try Self.key(gw, plain)
            let request = try Self.chat(["model": "echo", "messages": [["role": "user", "content": "hi"]], "stream": true])
            let outcome = try await InferenceFlow(gateway: gw.gateway).chat(request, key: key, call: Self.call("req_flow_stream", gw))
            guard case .stream(let stream, let headers) = outcome else {
                Issue.record("a request with stream is relayed")
                return
            }
            #expect(headers.fields[.modelVersion] == "1")
            var bytes: [UInt8] = []
            try await stream.relay { bytes += Array($0.readableBytesView) }
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.hasSuffix("data: [DONE]\n\n"))
            #expect(text.contains(#""model":"echo""#))
        }
    }

    @Test func aRefusalBeforeTheFirstEventIsThrownNotStreamed() async throws {
        try await TestGateway.withStandardSetup { gw, _, plain in
            let key = try Self.key(gw, plain)
            let request = try Self.chat(["model": "fail-400", "messages": [["role": "user", "content": "hi"]], "stream": true])
            await #expect(throws: TrellisError.self) {
                _ = try await InferenceFlow(gateway: gw.gateway).chat(request, key: key, call: Self.call("req_flow_refused", gw))
            }
        }
    }

    @Test func embeddingsGoThroughTheSameFlow() async throws {
        try await TestGateway.withStandardSetup { gw, _, plain in
            let key = try Self.key(gw, plain)
            try await gw.createModel("embedder", spec: ["upstream": "mock", "model": "mock-embed"])
            let request = try EmbeddingsRequest.parse(["model": "embedder", "input": ["a", "b"]])
            let outcome = try await InferenceFlow(gateway: gw.gateway).embeddings(request, key: key, call: Self.call("req_flow_embed", gw))
            guard case .complete(let body, let headers) = outcome else {
                Issue.record("embeddings are answered whole")
                return
            }
            let answer = try JSONParser.parse(body)
            #expect(answer["model"] == "embedder")
            #expect(answer["data"]?.arrayValue?.count == 2)
            #expect(headers.fields[.modelVersion] == "1")
            await gw.flushUsage()
            let owner = try #require(try await gw.gateway.store.usageOwner(requestID: "req_flow_embed"))
            #expect(owner.model == "embedder")
        }
    }

    @Test func theChatAdmissionEstimateReservesEveryAnswerAndCannotOverflow() async throws {
        try await TestGateway.withStandardSetup { gw, _, plain in
            let key = try Self.key(gw, plain)
            let snapshot = gw.gateway.snapshot
            let messages: JSONValue = [["role": "user", "content": "how many tokens is this?"]]
            func estimate(_ extra: JSONObject) throws -> AdmissionEstimate {
                var body: JSONObject = ["model": "echo", "messages": messages]
                for member in extra { body[member.key] = member.value }
                let plan = try InferenceFlow.plan(try Self.chat(.object(body)), key: key, snapshot: snapshot)
                return AdmissionEstimate.chat(plan, snapshot: snapshot, defaultCompletion: 1_024)
            }
            let prompt = TokenEstimator.estimate(messages: messages.arrayValue ?? [])
            #expect(try estimate([:]) == AdmissionEstimate(prompt: prompt, contextAllowance: 0, completion: 1_024))
            #expect(try estimate(["max_tokens": 100, "n": 3]).completion == 300)
            #expect(try estimate(["max_completion_tokens": 50]).completion == 50)
            let huge = try estimate(["max_tokens": .int(Int.max), "n": 128])
            #expect(huge.completion == RateLimiter.maxTokensPerRequest * 128)
        }
    }

    @Test func aChatAnswerNamesTheCalledModelAndMeasuresItsUsage() async throws {
        try await TestGateway.withStandardSetup { gw, _, plain in
            let key = try Self.key(gw, plain)
            let snapshot = gw.gateway.snapshot
            let plan = try InferenceFlow.plan(
                try Self.chat(["model": "echo@1", "messages": [["role": "user", "content": "hi"]]]), key: key, snapshot: snapshot)
            let payload = ChatPayload(plan: plan, snapshot: snapshot, scope: .off, masker: TrellisConfig.standardMasker, restores: true)
            #expect(payload.masked == nil && payload.masking == nil)
            let answer = ChatAnswer(
                payload: payload, clientModel: "echo@1", citations: ["c"], answerLimits: AnswerLimits(maxBytes: 1 << 20), maxEventBytes: 1 << 20)
            let target = try #require(plan.targets.first)
            let completion: JSONObject = [
                "model": "served", "choices": [["message": ["role": "assistant", "content": "an answer"]], ["message": ["content": "another"]]],
            ]
            let client = answer.clientAnswer(completion, from: target)
            #expect(client["model"] == "echo@1" && client["citations"] == ["c"])
            let estimated = TokenEstimator.estimate(text: "an answer") + TokenEstimator.estimate(text: "another")
            #expect(answer.usage(of: client) == MeasuredUsage(estimatedCompletion: estimated, answer: "an answer"))
            var reported = client
            reported["usage"] = ["prompt_tokens": 5, "completion_tokens": 2]
            #expect(answer.usage(of: reported) == MeasuredUsage(reported: TokenUsage(promptTokens: 5, completionTokens: 2), answer: "an answer"))
        }
    }
}
