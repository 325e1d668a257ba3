import Crypto
import OpenAIWire

extension Adapter {
    /// The name a vLLM server serves a path-loaded adapter under (its `lora_name`): namespaced by the owning
    /// tenant and tied to the path, so two tenants' adapters that share a name are two adapters on the server,
    /// and a server that says it has already loaded this name has loaded these weights.
    public var loadedName: String { Self.loadedName(tenantID: tenantID, name: name, path: path ?? "") }

    public static func loadedName(tenantID: String?, name: String, path: String) -> String {
        let owner = tenantID ?? "shared"
        let digest = SHA256.hash(data: Array("\(owner)\n\(name)\n\(path)".utf8))
        let hex = digest.prefix(6).map { byte in
            let h = String(byte, radix: 16)
            return byte < 16 ? "0" + h : h
        }.joined()
        return "trellis.\(owner).\(name).\(hex)"
    }

    /// A path as a file system would resolve it, for comparing adapters' paths: repeated and trailing slashes,
    /// `.` segments and `..` segments folded (`/models/a/../b/` is `/models/b`).
    public static func normalisedPath(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    /// The path a vLLM server loads the adapter from, for `path` adapters.
    public var path: String? {
        if case .path(let p) = serving { return p }
        return nil
    }

    /// The model name an upstream serves this adapter under, when it has one of its own (`served_model`, or
    /// the name a path-loaded adapter gets); nil for a llama.cpp `lora_id`, which rides on the base model.
    public var servedModelName: String? {
        switch serving {
        case .servedModel(let m): m
        case .path: loadedName
        case .loraID: nil
        }
    }

    /// The llama.cpp LoRA id this adapter selects, for `lora_id` adapters.
    public var loraID: Int? {
        if case .loraID(let id, _) = serving { return id }
        return nil
    }
}

extension CatalogSnapshot {
    /// Whether `model` on `upstream` is a tenant's adapter that `tenantID` does not own (nil: shared, owned by
    /// no tenant). A tenant may not point its models or adapters at another tenant's fine-tuned weights; to it,
    /// that served model does not exist.
    ///
    /// A name that is shared infrastructure belongs to no one, whoever registered an adapter over it: a base
    /// model (some adapter's `base_model` on that upstream, or the adapter's own), or a model a shared industry
    /// model is served by. So a tenant cannot claim a base model and lock the others out of it.
    public func servedModelBelongsToAnotherTenant(_ model: String, upstream: String, tenantID: String?) -> Bool {
        let claimed = allAdapters.contains { a in
            a.tenantID != nil && a.tenantID != tenantID && a.upstream == upstream && a.servedModelName == model && a.baseModel != model
        }
        return claimed && !isSharedServedModel(model, upstream: upstream)
    }

    /// Whether `model` on `upstream` is shared infrastructure: an adapter's base model, or a target of a shared
    /// industry model's versions.
    public func isSharedServedModel(_ model: String, upstream: String) -> Bool {
        if allAdapters.contains(where: { $0.upstream == upstream && $0.baseModel == model }) { return true }
        return visibleModels(tenantID: nil).contains { shared in
            shared.tenantID == nil
                && shared.versions.contains { v in (v.spec.deployments + v.spec.fallbacks).contains { $0.upstream == upstream && $0.model == model } }
        }
    }

    /// Whether `path` on `upstream` is where another tenant's adapter is loaded from: the path picks the weights,
    /// whatever the adapter is called.
    public func adapterPathBelongsToAnotherTenant(_ path: String, upstream: String, tenantID: String?) -> Bool {
        let wanted = Adapter.normalisedPath(path)
        return allAdapters.contains { a in
            a.tenantID != nil && a.tenantID != tenantID && a.upstream == upstream && a.path.map(Adapter.normalisedPath) == wanted
        }
    }

    /// Whether `model` is a served name the gateway gives path-loaded adapters (`trellis.…`) that is not one of
    /// `tenantID`'s own: such names are reserved, so no one can name another tenant's adapter before (or after)
    /// it is registered.
    public func isReservedServedName(_ model: String, upstream: String, tenantID: String?) -> Bool {
        guard model.hasPrefix("trellis.") else { return false }
        return !allAdapters.contains { a in a.upstream == upstream && a.tenantID == tenantID && a.servedModelName == model }
    }

    /// Whether llama.cpp LoRA `id` on `upstream` is another tenant's adapter (see above).
    public func loraIDBelongsToAnotherTenant(_ id: Int, upstream: String, tenantID: String?) -> Bool {
        allAdapters.contains { a in
            a.tenantID != nil && a.tenantID != tenantID && a.upstream == upstream && a.loraID == id
        }
    }
}

extension ChatPlanner {
    /// Body fields with which a request could select an adapter or a served model on some engine (llama.cpp's
    /// `lora`, SGLang's `lora_path`, TGI and LoRAX's `adapter_id`, …). A client's own are removed: only the
    /// gateway chooses what an upstream serves, from the model's registered adapter (`Target.extraBody`).
    public static let adapterSelectingFields: Set<String> = [
        "lora", "loras", "lora_path", "lora_name", "lora_id", "lora_int_id", "lora_request", "lora_adapter", "lora_adapters",
        "adapter", "adapters", "adapter_id", "adapter_ids", "adapter_source", "adapter_name", "merged_adapters",
    ]

    /// `body` without any field that selects an adapter or served model.
    public static func removingAdapterSelectors(_ body: JSONObject) -> JSONObject {
        guard body.contains(where: { adapterSelectingFields.contains($0.key) }) else { return body }
        return JSONObject(body.members.filter { !adapterSelectingFields.contains($0.key) })
    }
}
