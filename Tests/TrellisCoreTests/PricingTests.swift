import OpenAIWire
import Testing
import TrellisCore

@Suite("Pricing")
struct PricingTests {
    @Test("per-model rates per 1,000 input and output tokens, in millionths")
    func perModel() throws {
        let pricing = try Pricing.parse([
            "models": ["gpt-small": ["input_per_1k": 0.5, "output_per_1k": 1.5], "big": ["input_per_1k": 10, "output_per_1k": 30]]
        ])
        // 1,000 in at 0.5 + 2,000 out at 1.5 = 3.5 → 3,500,000 millionths.
        #expect(pricing.costMicros(model: "gpt-small", promptTokens: 1_000, completionTokens: 2_000) == 3_500_000)
        // 7 in, 5 out of "big": (70 + 150) / 1000 = 0.22.
        #expect(pricing.costMicros(model: "big", promptTokens: 7, completionTokens: 5) == 220_000)
        #expect(pricing.costMicros(model: "unknown", promptTokens: 1_000, completionTokens: 1_000) == 0, "no rate, no wildcard: free")
        #expect(pricing.costMicros(model: "big", promptTokens: 0, completionTokens: 0) == 0)
    }

    @Test("the wildcard prices any model without its own rate")
    func wildcard() throws {
        let pricing = try Pricing.parse([
            "models": ["*": ["input_per_1k": 1, "output_per_1k": 2], "special": ["input_per_1k": 0, "output_per_1k": 0]]
        ])
        #expect(pricing.costMicros(model: "anything", promptTokens: 500, completionTokens: 250) == 1_000_000)
        #expect(pricing.costMicros(model: "special", promptTokens: 500, completionTokens: 250) == 0, "a model's own rate wins")
    }

    @Test("self-hosted: a share of a GPU hour per token")
    func gpuHour() throws {
        let pricing = try Pricing.parse(["gpu_hour": 2.4, "tokens_per_gpu_hour": 1_200_000])
        // 12,000 tokens = 1% of a 2.40 hour = 0.024.
        #expect(pricing.costMicros(model: "whatever", promptTokens: 8_000, completionTokens: 4_000) == 24_000)
        #expect(pricing.gpuHour == 2.4 && pricing.tokensPerGPUHour == 1_200_000)
        // Per-model rates take precedence when both are given.
        let both = try Pricing.parse([
            "models": ["m": ["input_per_1k": 1, "output_per_1k": 1]], "gpu_hour": 2.4, "tokens_per_gpu_hour": 1_200_000,
        ])
        #expect(both.costMicros(model: "m", promptTokens: 1_000, completionTokens: 0) == 1_000_000)
        #expect(both.costMicros(model: "other", promptTokens: 8_000, completionTokens: 4_000) == 24_000)
    }

    @Test("the parsed JSON is kept as given, for the API to show")
    func keepsJSON() throws {
        let json: JSONValue = ["models": ["*": ["input_per_1k": 0.25, "output_per_1k": 1]]]
        #expect(try Pricing.parse(json).json == json)
    }

    @Test(
        "bad pricing is refused with the field that is wrong",
        arguments: [
            ("cheap", "pricing"),
            (["models": "all"], "pricing.models"),
            (["models": ["m": ["input_per_1k": 1]]], "pricing.models.m"),
            (["models": ["m": ["input_per_1k": -1, "output_per_1k": 1]]], "pricing.models.m"),
            (["models": ["m": ["input_per_1k": "1", "output_per_1k": 1]]], "pricing.models.m"),
            (["gpu_hour": -2, "tokens_per_gpu_hour": 100], "pricing.gpu_hour"),
            (["gpu_hour": 2, "tokens_per_gpu_hour": 0], "pricing.tokens_per_gpu_hour"),
            (["gpu_hour": 2], "pricing.gpu_hour"),
            (["tokens_per_gpu_hour": 1_000], "pricing.gpu_hour"),
            (["per_token": 1], "pricing.per_token"),
        ] as [(JSONValue, String)])
    func parseErrors(json: JSONValue, param: String) {
        let error = #expect(throws: TrellisError.self) { try Pricing.parse(json) }
        #expect(error?.status == 400)
        #expect(error?.param == param, "\(error?.message ?? "no error")")
    }
}
