import Foundation

/// How an upstream serves a fine-tuned adapter.
public enum AdapterServing: Sendable, Equatable {
    /// The adapter is its own model name on the upstream (vLLM `--lora-modules`, SGLang, an Ollama model built
    /// with `ADAPTER`, a llama-cpp-python alias with `lora_path`, a hosted fine-tune id).
    case servedModel(String)
    /// llama.cpp's server: the base model, with `"lora": [{"id": N, "scale": S}]` in the request.
    case loraID(Int, scale: Double)
    /// vLLM's dynamic LoRA: loaded with `POST /v1/load_lora_adapter` before first use, then called by name.
    case path(String)
}

public enum AdapterMethod: String, Sendable, CaseIterable {
    case lora, qlora, adapter, full
}

/// A registered fine-tune: where it is served and how, plus its provenance.
public struct Adapter: Sendable, Equatable {
    public var id: String
    public var name: String
    public var tenantID: String?
    public var upstream: String
    public var baseModel: String
    public var serving: AdapterServing
    public var method: AdapterMethod
    public var dataset: String?
    public var evaluation: String?
    public var description: String?
    public var createdAt: Date

    public init(
        id: String, name: String, tenantID: String?, upstream: String, baseModel: String, serving: AdapterServing, method: AdapterMethod,
        dataset: String?, evaluation: String?, description: String?, createdAt: Date
    ) {
        self.id = id
        self.name = name
        self.tenantID = tenantID
        self.upstream = upstream
        self.baseModel = baseModel
        self.serving = serving
        self.method = method
        self.dataset = dataset
        self.evaluation = evaluation
        self.description = description
        self.createdAt = createdAt
    }
}
