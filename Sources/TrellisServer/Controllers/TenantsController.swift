import Foundation
import Hummingbird
import OpenAIWire
import TrellisCore
import TrellisStore

/// Tenants and their keys under `/admin/v1`. The operator creates tenants and sets their limits; a tenant key
/// with the `manage` scope reads its own tenant and issues, lists and revokes its keys.
struct TenantsController {
    let gateway: Gateway

    func register(on group: RouterGroup<AuthenticatedContext>) {
        let operatorOnly = group.group(context: OperatorContext.self)
        operatorOnly.post("tenants", use: createTenant)
        group.get("tenants", use: listTenants)
        group.get("tenants/{tenant}", use: getTenant)
        operatorOnly.patch("tenants/{tenant}", use: updateTenant)
        group.post("tenants/{tenant}/keys", use: createKey)
        group.get("tenants/{tenant}/keys", use: listKeys)
        group.delete("keys/{id}", use: revokeKey)
    }

    // MARK: Tenants

    func tenantJSON(_ t: Tenant) -> JSONValue {
        var o: JSONObject = ["id": .string(t.id), "object": "tenant", "name": .string(t.name), "created_at": .time(t.createdAt)]
        if case .object(let settings) = t.settings.json {
            for m in settings { o[m.key] = m.value }
        }
        return .object(o)
    }

    @Sendable func createTenant(_ request: Request, context: OperatorContext) async throws -> Response {
        var request = request
        let body = try BodyReader(try await request.jsonBody(limit: 64 * 1024), allowed: ["name"] + TenantSettings.fields)
        let name = try body.requiredString("name", maxBytes: 63)
        guard Names.isValidTenant(name) else { throw TrellisError.invalidField("name", "must match \(Names.tenantRule)") }
        let settings = try TenantSettings.parse(body.object)
        let tenant = try await gateway.store.createTenant(name: name, settings: settings, actor: context.actor)
        try await gateway.reloadCatalog()
        return .json(tenantJSON(tenant), status: .created)
    }

    @Sendable func listTenants(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let snapshot = gateway.snapshot
        let tenants: [Tenant]
        if let key = try context.manageKey() {
            tenants = snapshot.tenants[key.tenantID].map { [$0] } ?? []
        } else {
            tenants = snapshot.tenants.values.sorted { $0.name < $1.name }
        }
        return .json(["object": "list", "data": .array(tenants.map(tenantJSON))])
    }

    @Sendable func getTenant(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let tenant = try context.managedTenant(named: context.parameters.decoded("tenant"), in: gateway.snapshot)
        return .json(tenantJSON(tenant))
    }

    /// `PATCH /tenants/{tenant}`: limits, monthly quota and capture; fields left out keep their values, null
    /// clears one. Operator only: a tenant does not set its own limits.
    @Sendable func updateTenant(_ request: Request, context: OperatorContext) async throws -> Response {
        let tenant = try context.principal.managedTenant(named: context.parameters.decoded("tenant"), in: gateway.snapshot)
        var request = request
        let body = try BodyReader(try await request.jsonBody(limit: 64 * 1024), allowed: TenantSettings.fields)
        let settings = try TenantSettings.parse(body.object, base: tenant.settings)
        let updated = try await gateway.store.setTenantSettings(id: tenant.id, settings: settings, actor: context.actor)
        try await gateway.reloadCatalog()
        return .json(tenantJSON(updated))
    }

    // MARK: Keys

    func keyJSON(_ k: APIKeyInfo, tenantName: String, secret: String? = nil) -> JSONValue {
        var o = JSONObject()
        o.appendUnchecked("id", .string(k.id))
        o.appendUnchecked("object", "api_key")
        if let secret { o.appendUnchecked("key", .string(secret)) }
        o.appendUnchecked("prefix", .string(k.prefix))
        o.appendUnchecked("name", .string(k.name))
        o.appendUnchecked("tenant", .string(tenantName))
        o.appendUnchecked("scopes", .array(k.scopes.map { .string($0.rawValue) }))
        o.appendUnchecked("models", .array(k.models.map { .string($0) }))
        o.appendUnchecked("rpm", k.rpm.map { .int($0) } ?? .null)
        o.appendUnchecked("tpm", k.tpm.map { .int($0) } ?? .null)
        o.appendUnchecked("concurrency", k.concurrency.map { .int($0) } ?? .null)
        o.appendUnchecked("expires_at", .time(k.expiresAt))
        o.appendUnchecked("created_at", .time(k.createdAt))
        o.appendUnchecked("revoked_at", .time(k.revokedAt))
        o.appendUnchecked("revoked", .bool(k.revokedAt != nil))
        return .object(o)
    }

    /// `POST /tenants/{tenant}/keys`: issues a key, clamped to what a manage key may give.
    @Sendable func createKey(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let tenant = try context.managedTenant(named: context.parameters.decoded("tenant"), in: gateway.snapshot)
        var request = request
        let body = try BodyReader(
            try await request.jsonBody(limit: 64 * 1024), allowed: ["name", "scopes", "models", "rpm", "tpm", "concurrency", "expires_at"])
        let name = try body.string("name", maxBytes: 128) ?? "default"
        guard !name.isEmpty else { throw TrellisError.invalidField("name", "must not be empty") }
        var scopes: [Scope] = [.inference]
        if let given = try body.strings("scopes", maxCount: 8, maxBytes: 32) {
            scopes = []
            for (i, s) in given.enumerated() {
                guard let scope = Scope(rawValue: s) else {
                    throw TrellisError.invalidField("scopes[\(i)]", "must be one of inference, manage, usage")
                }
                if !scopes.contains(scope) { scopes.append(scope) }
            }
            guard !scopes.isEmpty else { throw TrellisError.invalidField("scopes", "must not be empty") }
        }
        let models = try body.strings("models", maxCount: 256, maxBytes: 129) ?? ["*"]
        for (i, pattern) in models.enumerated() where !ModelAllowlist.validate(pattern) {
            throw TrellisError.invalidField("models[\(i)]", "must be '*', a model name, or a name prefix followed by '*'")
        }
        guard !models.isEmpty else { throw TrellisError.invalidField("models", "must not be empty; use [\"*\"] for every model") }
        var limits = Limits(
            requestsPerMinute: try body.int("rpm", in: 1...100_000_000), tokensPerMinute: try body.int("tpm", in: 1...1_000_000_000_000),
            concurrency: try body.int("concurrency", in: 1...1_000_000))
        if case .tenantKey = context.principal {
            // A tenant's manage key mints keys within what the deployment gives a key and the tenant has: the
            // operator alone may raise a key above them.
            let own = tenant.settings.limits
            let defaults = gateway.config.defaultTenantLimits
            let tenantLimits = Limits(
                requestsPerMinute: own.requestsPerMinute ?? defaults.requestsPerMinute, tokensPerMinute: own.tokensPerMinute ?? defaults.tokensPerMinute,
                concurrency: own.concurrency ?? defaults.concurrency)
            limits = limits.clamped(to: gateway.config.defaultKeyLimits.tightened(by: tenantLimits))
        }
        var expiresAt: Date?
        if let raw = body.value("expires_at") {
            guard let date = Timestamps.parse(raw) else {
                throw TrellisError.invalidField("expires_at", "must be an RFC 3339 time or a Unix time in seconds")
            }
            guard date > Date() else { throw TrellisError.invalidField("expires_at", "must be in the future") }
            expiresAt = date
        }
        let (info, secret) = try await gateway.store.createKey(
            NewKey(
                tenantID: tenant.id, name: name, scopes: scopes, models: models, rpm: limits.requestsPerMinute, tpm: limits.tokensPerMinute,
                expiresAt: expiresAt, concurrency: limits.concurrency),
            actor: context.actor)
        try await gateway.reloadCatalog()
        var headers = HTTPFields()
        headers[.cacheControl] = "no-store"
        return .json(keyJSON(info, tenantName: tenant.name, secret: secret), status: .created, headers: headers)
    }

    @Sendable func listKeys(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let tenant = try context.managedTenant(named: context.parameters.decoded("tenant"), in: gateway.snapshot)
        let keys = try await gateway.store.keys(tenantID: tenant.id)
        return .json(["object": "list", "data": .array(keys.map { keyJSON($0, tenantName: tenant.name) })])
    }

    @Sendable func revokeKey(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = context.parameters.decoded("id")
        let caller = try context.manageKey()
        guard let info = try await gateway.store.key(id: id), caller == nil || caller?.tenantID == info.tenantID else {
            throw TrellisError.notFound("The key '\(id.prefix(64))'")
        }
        let revoked = try await gateway.store.revokeKey(id: id, actor: context.actor)
        try await gateway.reloadCatalog()
        let tenantName = gateway.snapshot.tenants[revoked.tenantID]?.name ?? ""
        return .json(keyJSON(revoked, tenantName: tenantName))
    }
}
