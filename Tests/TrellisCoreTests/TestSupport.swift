import Foundation
import OpenAIWire
import TrellisCore

/// Catalog building blocks for tests.
enum Fixtures {
    static let date = Date(timeIntervalSince1970: 1_700_000_000)

    static func spec(_ json: JSONValue) throws -> ModelSpec {
        try ModelSpec.parse(json)
    }

    /// A plain spec: one upstream, one served model, optional params.
    static func spec(upstream: String = "local", model: String = "base", params: JSONValue? = nil) throws -> ModelSpec {
        var object: JSONObject = ["upstream": .string(upstream), "model": .string(model)]
        if let params { object["params"] = params }
        return try ModelSpec.parse(.object(object))
    }

    static func model(
        _ name: String, tenantID: String? = nil, versions: [Int] = [1], traffic: [Int: Int]? = nil, spec: ModelSpec? = nil
    ) throws -> IndustryModel {
        let s = try spec ?? Self.spec()
        return IndustryModel(
            id: "mdl_\(tenantID ?? "shared")_\(name)", name: name, tenantID: tenantID, description: nil, createdAt: date,
            versions: versions.map { v in
                // Each version serves a different upstream model, so tests can tell versions apart.
                var vs = s
                vs.deployments = s.deployments.map { ModelSpec.Target(upstream: $0.upstream, model: "\($0.model)-v\(v)", weight: $0.weight) }
                return ModelVersion(version: v, spec: vs, createdAt: date)
            },
            traffic: traffic ?? [versions.first ?? 1: 100])
    }

    static func tenant(_ name: String) -> Tenant {
        Tenant(id: "tnt_\(name)", name: name, createdAt: date)
    }

    static func key(tenant: String, models: [String] = ["*"], id: String? = nil) -> TenantKey {
        TenantKey(
            id: id ?? "key_\(tenant)", name: "test", prefix: "trk-abcdefgh", tenantID: "tnt_\(tenant)", tenantName: tenant,
            scopes: [.inference], models: ModelAllowlist(models), rpm: nil, tpm: nil, expiresAt: nil)
    }
}
