/// An immutable view of the whole catalog, built once per catalog change and swapped in atomically: the hot
/// path authenticates and resolves models from it without touching the database.
public final class CatalogSnapshot: Sendable {
    public let generation: Int64
    public let tenants: [String: Tenant]
    public let tenantIDsByName: [String: String]
    public let upstreams: [String: Upstream]
    private let keys: [KeyDigest: TenantKey]
    /// The same keys by id, for work a key started and that runs on without its request (evaluation runs).
    private let keysByID: [String: TenantKey]
    private let sharedModels: [String: IndustryModel]
    private let tenantModels: [String: [String: IndustryModel]]
    private let prompts: Namespaced<Prompt>
    /// Knowledge bases by tenant, then name: every knowledge base belongs to exactly one tenant.
    private let knowledgeBases: [String: [String: KnowledgeBase]]
    public let knowledgeBasesByID: [String: KnowledgeBase]
    private let adapters: Namespaced<Adapter>

    public init(
        generation: Int64, tenants: [Tenant], keys: [(KeyDigest, TenantKey)], upstreams: [Upstream], models: [IndustryModel],
        prompts: [Prompt] = [], adapters: [Adapter] = [], knowledgeBases: [KnowledgeBase] = []
    ) {
        var kbs: [String: [String: KnowledgeBase]] = [:]
        for kb in knowledgeBases { kbs[kb.tenantID, default: [:]][kb.name] = kb }
        self.knowledgeBases = kbs
        self.knowledgeBasesByID = Dictionary(uniqueKeysWithValues: knowledgeBases.map { ($0.id, $0) })
        self.prompts = Namespaced(prompts, name: \.name, tenant: \.tenantID)
        self.adapters = Namespaced(adapters, name: \.name, tenant: \.tenantID)
        self.generation = generation
        var byID: [String: Tenant] = [:]
        var idsByName: [String: String] = [:]
        for t in tenants {
            byID[t.id] = t
            idsByName[t.name] = t.id
        }
        self.tenants = byID
        self.tenantIDsByName = idsByName
        var keyMap: [KeyDigest: TenantKey] = [:]
        for (digest, key) in keys { keyMap[digest] = key }
        self.keys = keyMap
        self.keysByID = Dictionary(keys.map { ($0.1.id, $0.1) }, uniquingKeysWith: { a, _ in a })
        var ups: [String: Upstream] = [:]
        for u in upstreams { ups[u.name] = u }
        self.upstreams = ups
        var shared: [String: IndustryModel] = [:]
        var perTenant: [String: [String: IndustryModel]] = [:]
        for m in models {
            if let tenantID = m.tenantID {
                perTenant[tenantID, default: [:]][m.name] = m
            } else {
                shared[m.name] = m
            }
        }
        self.sharedModels = shared
        self.tenantModels = perTenant
    }

    public static let empty = CatalogSnapshot(generation: 0, tenants: [], keys: [], upstreams: [], models: [])

    /// The key whose SHA-256 digest this is. The map lookup finds the candidate; the final comparison runs in
    /// constant time.
    public func key(for digest: KeyDigest) -> TenantKey? {
        guard let index = keys.index(forKey: digest) else { return nil }
        let (stored, key) = keys[index]
        return stored.constantTimeEquals(digest) ? key : nil
    }

    public var keyCount: Int { keys.count }

    /// The live (not revoked) key with this id.
    public func key(id: String) -> TenantKey? { keysByID[id] }

    /// Resolves a model name for a tenant: the tenant's own model first, then a shared one.
    public func model(named name: String, tenantID: String?) -> IndustryModel? {
        if let tenantID, let own = tenantModels[tenantID]?[name] { return own }
        return sharedModels[name]
    }

    /// Every model a tenant can call, its own shadowing shared ones of the same name, sorted by name.
    public func visibleModels(tenantID: String?) -> [IndustryModel] {
        var byName = sharedModels
        if let tenantID, let own = tenantModels[tenantID] {
            for (name, m) in own { byName[name] = m }
        }
        return byName.values.sorted { $0.name < $1.name }
    }

    /// Every model in the catalog (operator view), sorted by tenant then name.
    public var allModels: [IndustryModel] {
        var out = Array(sharedModels.values)
        for (_, models) in tenantModels { out.append(contentsOf: models.values) }
        return out.sorted { ($0.tenantID ?? "", $0.name) < ($1.tenantID ?? "", $1.name) }
    }

    public func tenant(named name: String) -> Tenant? {
        tenantIDsByName[name].flatMap { tenants[$0] }
    }

    public func sharedModel(named name: String) -> IndustryModel? { sharedModels[name] }

    public func tenantModel(named name: String, tenantID: String) -> IndustryModel? { tenantModels[tenantID]?[name] }

    /// A prompt as seen from a tenant's namespace: the tenant's own first, then a shared one. With a nil
    /// tenant, shared prompts only.
    public func prompt(named name: String, tenantID: String?) -> Prompt? { prompts.resolve(name, tenantID: tenantID) }
    public func sharedPrompt(named name: String) -> Prompt? { prompts.shared[name] }
    public func tenantPrompt(named name: String, tenantID: String) -> Prompt? { prompts.owned[tenantID]?[name] }
    public func tenantsOwningPrompt(named name: String) -> [String] { prompts.owners(of: name) }
    public func visiblePrompts(tenantID: String?) -> [Prompt] { prompts.visible(tenantID: tenantID) }
    public var allPrompts: [Prompt] { prompts.all }

    public func adapter(named name: String, tenantID: String?) -> Adapter? { adapters.resolve(name, tenantID: tenantID) }
    public func sharedAdapter(named name: String) -> Adapter? { adapters.shared[name] }
    public func tenantAdapter(named name: String, tenantID: String) -> Adapter? { adapters.owned[tenantID]?[name] }
    public func tenantsOwningAdapter(named name: String) -> [String] { adapters.owners(of: name) }
    public func visibleAdapters(tenantID: String?) -> [Adapter] { adapters.visible(tenantID: tenantID) }
    public var allAdapters: [Adapter] { adapters.all }

    public func knowledgeBase(named name: String, tenantID: String) -> KnowledgeBase? { knowledgeBases[tenantID]?[name] }

    public func knowledgeBases(tenantID: String) -> [KnowledgeBase] {
        (knowledgeBases[tenantID] ?? [:]).values.sorted { $0.name < $1.name }
    }

    public var allKnowledgeBases: [KnowledgeBase] { knowledgeBasesByID.values.sorted { ($0.name, $0.tenantID) < ($1.name, $1.tenantID) } }

    /// Tenants that have their own model of this name.
    public func tenantsOwningModel(named name: String) -> [String] {
        tenantModels.compactMap { $0.value[name] != nil ? $0.key : nil }
    }
}

/// Objects named in the contract's namespaces: shared ones (no tenant) and each tenant's own.
struct Namespaced<Object: Sendable>: Sendable {
    let shared: [String: Object]
    let owned: [String: [String: Object]]
    let all: [Object]

    init(_ objects: [Object], name: KeyPath<Object, String>, tenant: KeyPath<Object, String?>) {
        var shared: [String: Object] = [:]
        var owned: [String: [String: Object]] = [:]
        for o in objects {
            if let t = o[keyPath: tenant] {
                owned[t, default: [:]][o[keyPath: name]] = o
            } else {
                shared[o[keyPath: name]] = o
            }
        }
        self.shared = shared
        self.owned = owned
        self.all = objects.sorted { ($0[keyPath: name], $0[keyPath: tenant] ?? "") < ($1[keyPath: name], $1[keyPath: tenant] ?? "") }
    }

    func resolve(_ name: String, tenantID: String?) -> Object? {
        if let tenantID, let own = owned[tenantID]?[name] { return own }
        return shared[name]
    }

    func owners(of name: String) -> [String] {
        owned.compactMap { $0.value[name] != nil ? $0.key : nil }.sorted()
    }

    func visible(tenantID: String?) -> [Object] {
        var byName = shared
        if let tenantID, let own = owned[tenantID] {
            for (n, o) in own { byName[n] = o }
        }
        return byName.sorted { $0.key < $1.key }.map(\.value)
    }
}
