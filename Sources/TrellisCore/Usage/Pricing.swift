import OpenAIWire

/// What an upstream's tokens cost, for the usage report's estimated cost: a price per 1,000 input and output
/// tokens per model (`*` for any), or, for self-hosted servers, a share of a GPU hour per token.
public struct Pricing: Sendable, Equatable {
    public struct Rate: Sendable, Equatable {
        public var inputPer1K: Double
        public var outputPer1K: Double
    }

    public var perModel: [String: Rate]
    /// Cost of one GPU hour and the tokens it serves, for self-hosted upstreams.
    public var gpuHour: Double?
    public var tokensPerGPUHour: Double?
    public var json: JSONValue

    /// Cost in millionths of the currency unit.
    public func costMicros(model: String, promptTokens: Int, completionTokens: Int) -> Int {
        if let rate = perModel[model] ?? perModel["*"] {
            return Self.micros((Double(promptTokens) * rate.inputPer1K + Double(completionTokens) * rate.outputPer1K) / 1000 * 1_000_000)
        }
        if let gpuHour, let tokensPerGPUHour, tokensPerGPUHour > 0 {
            return Self.micros((Double(promptTokens) + Double(completionTokens)) / tokensPerGPUHour * gpuHour * 1_000_000)
        }
        return 0
    }

    /// A cost as a whole number of micros, within 0 and 2^62 (a Double out of Int's range would trap).
    static func micros(_ value: Double) -> Int {
        guard value.isFinite, value > 0 else { return 0 }
        return Int(min(value, 0x1p62).rounded())
    }

    /// `{"models": {"name" | "*": {"input_per_1k", "output_per_1k"}}}` or `{"gpu_hour", "tokens_per_gpu_hour"}`.
    public static func parse(_ value: JSONValue, path: String = "pricing") throws(TrellisError) -> Pricing {
        guard case .object(let o) = value else { throw .invalidField(path, "must be an object") }
        for key in o.keys where !["models", "gpu_hour", "tokens_per_gpu_hour"].contains(key) {
            throw .invalidRequest("Unknown field '\(path).\(key.prefix(64))'.", param: "\(path).\(key.prefix(64))", code: "unknown_parameter")
        }
        var pricing = Pricing(perModel: [:], gpuHour: nil, tokensPerGPUHour: nil, json: value)
        if let models = o["models"] {
            guard case .object(let m) = models else { throw .invalidField("\(path).models", "must be an object of model → rates") }
            for member in m {
                let p = "\(path).models.\(member.key.prefix(64))"
                guard case .object(let r) = member.value,
                    let input = r["input_per_1k"]?.numberValue?.doubleValue, let output = r["output_per_1k"]?.numberValue?.doubleValue,
                    input >= 0, output >= 0, input.isFinite, output.isFinite
                else { throw .invalidField(p, "must be {\"input_per_1k\": n, \"output_per_1k\": n} with non-negative numbers") }
                pricing.perModel[member.key] = Rate(inputPer1K: input, outputPer1K: output)
            }
        }
        if let g = o["gpu_hour"] {
            guard let d = g.numberValue?.doubleValue, d >= 0, d.isFinite else { throw .invalidField("\(path).gpu_hour", "must be a non-negative number") }
            pricing.gpuHour = d
        }
        if let t = o["tokens_per_gpu_hour"] {
            guard let d = t.numberValue?.doubleValue, d > 0, d.isFinite else { throw .invalidField("\(path).tokens_per_gpu_hour", "must be a positive number") }
            pricing.tokensPerGPUHour = d
        }
        if (pricing.gpuHour == nil) != (pricing.tokensPerGPUHour == nil) {
            throw .invalidRequest("Give both 'gpu_hour' and 'tokens_per_gpu_hour'.", param: "\(path).gpu_hour", code: "invalid_value")
        }
        return pricing
    }
}
