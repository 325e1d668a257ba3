import Foundation
import OpenAIWire
import TrellisCore

/// The catalog: tenants, upstreams, industry models (versions, traffic), prompts and adapters, read whole as a
/// `CatalogSnapshot`. Every write stores its change, its audit row and a bump of the catalog generation in one
/// transaction, so any process sharing the store can tell that its snapshot is stale.
public protocol CatalogStore: Sendable {
    /// Moves on with every catalog write (including keys and knowledge bases).
    func catalogGeneration() async throws -> Int64
    /// The whole catalog, read in one consistent transaction; keys expired at `now` are left out.
    func loadSnapshot(now: Date) async throws -> CatalogSnapshot
    /// Calls `changed` whenever another process may have moved the catalog or knowledge generation, and once
    /// after every (re)connection (a change may have been missed meanwhile), until the calling task is
    /// cancelled; returns at once when the engine has no way to hear of changes (SQLite). A signal is a hint:
    /// the caller compares the stored generations, which stay the truth.
    func watchChanges(_ changed: @escaping @Sendable () -> Void) async

    func createTenant(name: String, settings: TenantSettings, actor: String, now: Date) async throws -> Tenant
    func setTenantSettings(id: String, settings: TenantSettings, actor: String, now: Date) async throws -> Tenant
    func tenants() async throws -> [Tenant]

    func createUpstream(_ new: NewUpstream, actor: String, now: Date) async throws -> Upstream
    /// Replaces an upstream's settings (the declarative catalog changed them).
    func updateUpstream(name: String, _ new: NewUpstream, actor: String, now: Date) async throws

    /// Creates a model with version 1 taking all traffic. A tenant's names are unique within it; shared names
    /// are unique among shared models and cannot be taken by a tenant.
    func createModel(name: String, tenantID: String?, description: String?, spec: JSONValue, actor: String, now: Date) async throws -> IndustryModel
    /// Adds the next version; traffic is not moved. Returns the new version number.
    func addModelVersion(modelID: String, spec: JSONValue, actor: String, now: Date) async throws -> Int
    func setModelDescription(modelID: String, description: String?, actor: String, now: Date) async throws
    func setTraffic(modelID: String, traffic: [Int: Int], actor: String, now: Date) async throws

    /// Creates a prompt (version 1) or adds the next version; the same definition as the latest version adds
    /// nothing. `labels` are pointed at the resulting version.
    func writePrompt(
        name: String, tenantID: String?, description: String?, definition: JSONValue, labels: [String], actor: String, now: Date
    ) async throws -> PromptWrite
    /// Points labels at versions (`nil` removes a label).
    func setPromptLabels(promptID: String, labels: [String: Int?], actor: String, now: Date) async throws -> Prompt

    func createAdapter(_ adapter: Adapter, actor: String, now: Date) async throws -> Adapter
    /// Replaces an adapter's fields; the id and creation time stay.
    func updateAdapter(_ adapter: Adapter, actor: String, now: Date) async throws
}

extension CatalogStore {
    public func loadSnapshot() async throws -> CatalogSnapshot {
        try await loadSnapshot(now: Date())
    }

    public func createTenant(name: String, settings: TenantSettings = TenantSettings(), actor: String) async throws -> Tenant {
        try await createTenant(name: name, settings: settings, actor: actor, now: Date())
    }

    public func createTenant(name: String, actor: String, now: Date) async throws -> Tenant {
        try await createTenant(name: name, settings: TenantSettings(), actor: actor, now: now)
    }

    public func setTenantSettings(id: String, settings: TenantSettings, actor: String) async throws -> Tenant {
        try await setTenantSettings(id: id, settings: settings, actor: actor, now: Date())
    }

    public func createUpstream(_ new: NewUpstream, actor: String) async throws -> Upstream {
        try await createUpstream(new, actor: actor, now: Date())
    }

    public func updateUpstream(name: String, _ new: NewUpstream, actor: String) async throws {
        try await updateUpstream(name: name, new, actor: actor, now: Date())
    }

    public func createModel(name: String, tenantID: String?, description: String?, spec: JSONValue, actor: String) async throws -> IndustryModel {
        try await createModel(name: name, tenantID: tenantID, description: description, spec: spec, actor: actor, now: Date())
    }

    public func addModelVersion(modelID: String, spec: JSONValue, actor: String) async throws -> Int {
        try await addModelVersion(modelID: modelID, spec: spec, actor: actor, now: Date())
    }

    public func setModelDescription(modelID: String, description: String?, actor: String) async throws {
        try await setModelDescription(modelID: modelID, description: description, actor: actor, now: Date())
    }

    public func setTraffic(modelID: String, traffic: [Int: Int], actor: String) async throws {
        try await setTraffic(modelID: modelID, traffic: traffic, actor: actor, now: Date())
    }

    public func writePrompt(
        name: String, tenantID: String?, description: String?, definition: JSONValue, labels: [String], actor: String
    ) async throws -> PromptWrite {
        try await writePrompt(name: name, tenantID: tenantID, description: description, definition: definition, labels: labels, actor: actor, now: Date())
    }

    public func setPromptLabels(promptID: String, labels: [String: Int?], actor: String) async throws -> Prompt {
        try await setPromptLabels(promptID: promptID, labels: labels, actor: actor, now: Date())
    }

    public func createAdapter(_ adapter: Adapter, actor: String) async throws -> Adapter {
        try await createAdapter(adapter, actor: actor, now: Date())
    }

    public func updateAdapter(_ adapter: Adapter, actor: String) async throws {
        try await updateAdapter(adapter, actor: actor, now: Date())
    }
}
