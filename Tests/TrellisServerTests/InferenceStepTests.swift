import HTTPTypes
import OpenAIWire
import Testing
import TrellisCore
import TrellisUpstream

@testable import TrellisServer

/// The inference flow's steps that need no gateway, each checked alone: the answer headers, the 499 for a
/// client that left, the reader of an upstream's JSON object, the embeddings request and its answer.
@Suite struct InferenceStepTests {
    @Test func answerHeadersCarryTheVersionThenTheAdmissionsHeadersInOrder() throws {
        let headers = AnswerHeaders(
            modelVersion: 3,
            limits: [("x-ratelimit-limit-requests", "60"), ("x-ratelimit-remaining-requests", "59"), ("not a header name", "x")])
        let fields = headers.fields
        #expect(fields.map(\.name.canonicalName) == ["x-trellis-model-version", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests"])
        #expect(fields[.modelVersion] == "3")
        #expect(fields[try #require(HTTPField.Name("x-ratelimit-remaining-requests"))] == "59")
        #expect(InferenceOutcome.complete(body: [], headers: headers).headers == headers)
    }

    @Test func aClientThatWentAwayIs499ClientClosedRequest() {
        let error = TrellisError.clientClosed()
        #expect(error.status == 499 && error.type == "invalid_request_error" && error.code == "client_closed_request")
        #expect(error.message == "The request was cancelled.")
        // The upstream client's cancellation is the same error, in its own words.
        let cancelled = UpstreamFailure(kind: .cancelled, upstream: "u").clientError
        #expect(cancelled == TrellisError.clientClosed("The client closed the request."))
    }

    @Test func theUpstreamsJSONObjectIsReadOrTheUpstreamBrokeProtocol() throws {
        let object = try UpstreamJSON.object(Array(#"{"b":1,"a":[true]}"#.utf8), limits: .init(), upstream: "u")
        #expect(object.keys == ["b", "a"], "the upstream's member order is kept")
        let refused: [(String, JSONParser.Limits)] = [
            ("not json", .init()), (#"[{"a":1}]"#, .init()), (#""text""#, .init()), (#"{"a":"#, .init()), ("", .init()),
            (#"{"a":1,"a":2}"#, .init()), (#"{"a":[1,2,3,4]}"#, .init(maxElements: 3)), (#"{"a":{"b":{}}}"#, .init(maxDepth: 2)),
        ]
        for (text, limits) in refused {
            #expect(throws: UpstreamFailure.self, "\(text)") {
                try UpstreamJSON.object(Array(text.utf8), limits: limits, upstream: "u")
            }
            do {
                _ = try UpstreamJSON.object(Array(text.utf8), limits: limits, upstream: "u")
            } catch {
                #expect(error.kind == .protocolError && error.upstream == "u", "\(text)")
                #expect(error.clientError.code == "upstream_invalid_response")
            }
        }
    }

    @Test func anEmbeddingsRequestIsCheckedFieldByFieldWithTheErrorsItAlwaysHad() throws {
        func refusal(_ body: JSONValue) -> TrellisError? {
            do {
                _ = try EmbeddingsRequest.parse(body)
                return nil
            } catch {
                return error as? TrellisError
            }
        }
        #expect(refusal(["input"]) == .invalidRequest("The request body must be a JSON object."))
        #expect(refusal(["input": "a"]) == .missingField("model"))
        #expect(refusal(["model": "", "input": "a"]) == .invalidField("model", "must be a non-empty string"))
        #expect(refusal(["model": 3, "input": "a"]) == .invalidField("model", "must be a non-empty string"))
        #expect(refusal(["model": "m"]) == .missingField("input"))
        #expect(refusal(["model": "m", "input": ""]) == .invalidField("input", "must not be empty"))
        #expect(refusal(["model": "m", "input": []])?.param == "input")
        #expect(refusal(["model": "m", "input": ["a", 1]])?.param == "input")
        #expect(refusal(["model": "m", "input": ["a"], "user": 5])?.param == "user")
        let parsed = try EmbeddingsRequest.parse(["model": "m@2", "input": ["hello", "world"], "user": "u1", "dimensions": 8])
        #expect(parsed.modelReference == "m@2" && parsed.user == "u1")
        #expect(parsed.body["dimensions"] == 8, "fields Trellis does not own pass through")
    }

    @Test func anEmbeddingsEstimateCountsTextAndTokenIDs() throws {
        func estimate(_ input: JSONValue) throws -> AdmissionEstimate {
            AdmissionEstimate.embeddings(try EmbeddingsRequest.parse(["model": "m", "input": input]))
        }
        #expect(try estimate("hello world") == AdmissionEstimate(prompt: TokenEstimator.estimate(text: "hello world")))
        #expect(try estimate([1, 2, 3]).total == 3)
        #expect(try estimate([[1, 2], [3, 4, 5]]).total == 5)
        #expect(try estimate(["ab", "cd"]).total == TokenEstimator.estimate(text: "ab") + TokenEstimator.estimate(text: "cd"))
    }

    @Test func anEmbeddingsAnswerNamesTheCalledModelAndCountsOnlyPromptTokens() throws {
        let request = try EmbeddingsRequest.parse(["model": "embedder@1", "input": ["a"], "lora": "x"])
        let target = ModelSpec.Target(upstream: "u", model: "served-embed")
        let answer = EmbeddingsAnswer(
            request: request, targets: [target], snapshot: .empty, scope: .off, masker: TrellisConfig.standardMasker,
            answerLimits: AnswerLimits(maxBytes: 1 << 20))
        let sent = try #require(try JSONParser.parse(answer.upstreamBody(for: target)).objectValue)
        #expect(sent["model"] == "served-embed")
        #expect(sent["lora"] == nil, "adapter selectors are removed")
        let upstream: JSONObject = ["object": "list", "model": "served-embed", "usage": ["prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11]]
        let client = answer.clientAnswer(upstream, from: target)
        #expect(client["model"] == "embedder@1")
        #expect(answer.usage(of: client) == MeasuredUsage(reported: TokenUsage(promptTokens: 7, completionTokens: 0)))
        #expect(answer.usage(of: ["object": "list"]) == MeasuredUsage(), "no usage: the input's estimate is recorded")
    }
}
