import OpenAIWire
import Testing
import TrellisCore

private func refusal(_ json: JSONValue) -> TrellisError? {
    do {
        _ = try ModelSpec.parse(json)
        return nil
    } catch {
        return error
    }
}

private func refusal(_ text: String) throws -> TrellisError? {
    refusal(try JSONParser.parse(text))
}

@Suite("ModelSpec.parse")
struct ModelSpecTests {
    @Test("upstream + model: one deployment of weight 1, no fallbacks or params; the JSON is kept")
    func plain() throws {
        let json = try JSONParser.parse(#"{"upstream":"local","model":"smollm2"}"#)
        let spec = try ModelSpec.parse(json)
        #expect(spec.deployments == [ModelSpec.Target(upstream: "local", model: "smollm2", weight: 1)])
        #expect(spec.fallbacks.isEmpty)
        #expect(spec.params.isEmpty)
        #expect(spec.json == json)
        #expect(spec.upstreamNames == ["local"])
    }

    @Test("params are kept as given")
    func params() throws {
        let spec = try ModelSpec.parse(
            try JSONParser.parse(
                #"{"upstream":"u","model":"m","params":{"temperature":0.2,"max_tokens":512,"top_p":1,"stop":["\n"],"seed":18446744073709551616}}"#))
        #expect(spec.params.keys == ["temperature", "max_tokens", "top_p", "stop", "seed"])
        #expect(spec.params["max_tokens"] == 512)
        #expect(spec.params["seed"]?.numberValue?.literal == "18446744073709551616")
    }

    @Test("deployments with weights; model defaults to the spec's model")
    func deployments() throws {
        let spec = try ModelSpec.parse(
            try JSONParser.parse(
                #"{"model":"m","deployments":[{"upstream":"a","weight":3},{"upstream":"b","model":"m2"},{"upstream":"c","weight":0}]}"#))
        #expect(
            spec.deployments == [
                ModelSpec.Target(upstream: "a", model: "m", weight: 3),
                ModelSpec.Target(upstream: "b", model: "m2", weight: 1),
                ModelSpec.Target(upstream: "c", model: "m", weight: 0),
            ])
    }

    @Test("deployments without a top-level model need their own")
    func deploymentsOwnModels() throws {
        let spec = try ModelSpec.parse(try JSONParser.parse(#"{"deployments":[{"upstream":"a","model":"x"},{"upstream":"b","model":"y"}]}"#))
        #expect(spec.deployments.map(\.model) == ["x", "y"])
        let error = try refusal(#"{"deployments":[{"upstream":"a","model":"x"},{"upstream":"b"}]}"#)
        #expect(error?.status == 400)
        #expect(error?.param == "spec.deployments[1].model")
    }

    @Test("fallbacks, in order, with the spec's model as default")
    func fallbacks() throws {
        let spec = try ModelSpec.parse(
            try JSONParser.parse(#"{"upstream":"local","model":"m","fallbacks":[{"upstream":"cloud"},{"upstream":"other","model":"big"}]}"#))
        #expect(spec.fallbacks == [ModelSpec.Target(upstream: "cloud", model: "m"), ModelSpec.Target(upstream: "other", model: "big")])
        #expect(spec.upstreamNames == ["local", "cloud", "other"])
    }

    @Test(
        "unknown fields are refused, and param names the field",
        arguments: [
            (#"{"upstream":"u","model":"m","adapter":"lora"}"#, "spec.adapter"),
            (#"{"upstream":"u","model":"m","temprature":0.2}"#, "spec.temprature"),
            (#"{"upstream":"u","model":"m","Model":"x"}"#, "spec.Model"),
            (#"{"model":"m","deployments":[{"upstream":"a","wieght":2}]}"#, "spec.deployments[0].wieght"),
            (#"{"upstream":"u","model":"m","fallbacks":[{"upstream":"f","weight":2}]}"#, "spec.fallbacks[0].weight"),
        ])
    func unknownFields(text: String, param: String) throws {
        let error = try #require(try refusal(text))
        #expect(error.status == 400)
        #expect(error.type == "invalid_request_error")
        #expect(error.param == param)
        #expect(error.message.contains(param))
    }

    @Test("upstream without model")
    func upstreamWithoutModel() throws {
        let error = try #require(try refusal(#"{"upstream":"u"}"#))
        #expect(error.status == 400)
        #expect(error.param == "spec.model")
    }

    @Test("neither upstream nor deployments")
    func nothingToServe() throws {
        for text in [#"{}"#, #"{"model":"m"}"#, #"{"model":"m","params":{"temperature":1}}"#, #"{"model":"m","fallbacks":[{"upstream":"f"}]}"#] {
            let error = try #require(try refusal(text), "\(text)")
            #expect(error.status == 400)
            #expect(error.param == "spec.upstream")
        }
    }

    @Test("both upstream and deployments")
    func both() throws {
        let error = try #require(try refusal(#"{"upstream":"u","model":"m","deployments":[{"upstream":"a"}]}"#))
        #expect(error.status == 400)
        #expect(error.param == "spec.deployments")
    }

    @Test(
        "empty or malformed deployments",
        arguments: [
            (#"{"model":"m","deployments":[]}"#, "spec.deployments"),
            (#"{"model":"m","deployments":{"upstream":"a"}}"#, "spec.deployments"),
            (#"{"model":"m","deployments":["a"]}"#, "spec.deployments[0]"),
            (#"{"model":"m","deployments":[{"model":"x"}]}"#, "spec.deployments[0].upstream"),
            (#"{"model":"m","deployments":[{"upstream":""}]}"#, "spec.deployments[0].upstream"),
            (#"{"model":"m","deployments":[{"upstream":"a","weight":-1}]}"#, "spec.deployments[0].weight"),
            (#"{"model":"m","deployments":[{"upstream":"a","weight":1.5}]}"#, "spec.deployments[0].weight"),
            (#"{"model":"m","deployments":[{"upstream":"a","weight":"2"}]}"#, "spec.deployments[0].weight"),
            (#"{"model":"m","deployments":[{"upstream":"a","weight":1000001}]}"#, "spec.deployments[0].weight"),
            (#"{"upstream":"u","model":"m","fallbacks":"f"}"#, "spec.fallbacks"),
            (#"{"upstream":"u","model":"m","fallbacks":[{"model":"x"}]}"#, "spec.fallbacks[0].upstream"),
        ])
    func badTargets(text: String, param: String) throws {
        let error = try #require(try refusal(text))
        #expect(error.status == 400)
        #expect(error.param == param)
    }

    @Test("at most 32 deployments")
    func tooManyDeployments() {
        func spec(_ n: Int) -> JSONValue {
            ["model": "m", "deployments": .array((0..<n).map { _ in ["upstream": "a"] })]
        }
        #expect(refusal(spec(32)) == nil)
        #expect(refusal(spec(33))?.param == "spec.deployments")
    }

    @Test(
        "upstream and model must be non-empty strings",
        arguments: [
            (#"{"upstream":"","model":"m"}"#, "spec.upstream"),
            (#"{"upstream":5,"model":"m"}"#, "spec.upstream"),
            (#"{"upstream":"u","model":""}"#, "spec.model"),
            (#"{"upstream":"u","model":["m"]}"#, "spec.model"),
        ])
    func badStrings(text: String, param: String) throws {
        #expect(try refusal(text)?.param == param)
    }

    @Test("a spec must be an object")
    func notObject() {
        for value: JSONValue in ["u", 1, [], nil] {
            #expect(refusal(value)?.param == "spec")
        }
    }

    @Test("params may not set fields Trellis owns", arguments: ["model", "messages", "stream", "stream_options", "variables", "n"])
    func forbiddenParams(key: String) {
        var params = JSONObject()
        params[key] = 1
        let error = refusal(["upstream": "u", "model": "m", "params": .object(params)])
        #expect(error?.status == 400)
        #expect(error?.param == "spec.params.\(key)")
    }

    @Test("temperature must be from 0 to 2")
    func temperature() {
        func spec(_ t: JSONValue) -> JSONValue { ["upstream": "u", "model": "m", "params": ["temperature": t]] }
        for ok: JSONValue in [0, 0.0, 1, 0.7, 2, 2.0] {
            #expect(refusal(spec(ok)) == nil, "\(ok)")
        }
        for bad: JSONValue in [-0.1, 2.01, 3, "1", true, nil, .number(JSONNumber(validatedLiteral: "1e400"))] {
            #expect(refusal(spec(bad))?.param == "spec.params.temperature", "\(bad)")
        }
    }

    @Test("top_p must be from 0 to 1")
    func topP() {
        func spec(_ t: JSONValue) -> JSONValue { ["upstream": "u", "model": "m", "params": ["top_p": t]] }
        #expect(refusal(spec(0)) == nil)
        #expect(refusal(spec(1)) == nil)
        #expect(refusal(spec(0.95)) == nil)
        #expect(refusal(spec(1.1))?.param == "spec.params.top_p")
        #expect(refusal(spec(-0.5))?.param == "spec.params.top_p")
    }

    @Test("max_tokens and max_completion_tokens must be positive integers")
    func maxTokens() {
        for key in ["max_tokens", "max_completion_tokens"] {
            func spec(_ v: JSONValue) -> JSONValue {
                var params = JSONObject()
                params[key] = v
                return ["upstream": "u", "model": "m", "params": .object(params)]
            }
            #expect(refusal(spec(1)) == nil)
            #expect(refusal(spec(4096)) == nil)
            for bad: JSONValue in [0, -1, 1.5, "512", nil] {
                #expect(refusal(spec(bad))?.param == "spec.params.\(key)", "\(key)=\(bad)")
            }
        }
    }

    @Test("params must be an object")
    func paramsObject() {
        #expect(refusal(["upstream": "u", "model": "m", "params": []])?.param == "spec.params")
    }

    @Test("a null upstream or model counts as absent")
    func nulls() throws {
        let spec = try ModelSpec.parse(try JSONParser.parse(#"{"upstream":null,"model":"m","deployments":[{"upstream":"a"}]}"#))
        #expect(spec.deployments == [ModelSpec.Target(upstream: "a", model: "m")])
    }
}
