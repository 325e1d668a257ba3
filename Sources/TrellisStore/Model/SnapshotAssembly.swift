import Foundation
import OpenAIWire
import TrellisCore

/// How stored rows become catalog objects, the same for every engine: each engine reads the rows its own way
/// (GRDB records on SQLite, the same record structs decoded by hand on PostgreSQL) and assembles them here.
enum SnapshotAssembly {
    /// The keys a snapshot serves: the given (unrevoked) rows of known tenants, without those expired at `now`.
    static func keys(_ rows: [APIKeyRecord], tenantNames: [String: String], now: Date) -> [(KeyDigest, TenantKey)] {
        var keys: [(KeyDigest, TenantKey)] = []
        keys.reserveCapacity(rows.count)
        for row in rows {
            guard let digest = KeyDigest(hex: row.digest), let tenantName = tenantNames[row.tenantID] else { continue }
            let info = row.info
            if let expiry = info.expiresAt, expiry <= now { continue }
            keys.append(
                (
                    digest,
                    TenantKey(
                        id: row.id, name: row.name, prefix: row.prefix, tenantID: row.tenantID, tenantName: tenantName,
                        scopes: Set(info.scopes), models: ModelAllowlist(info.models), rpm: row.rpm, tpm: row.tpm,
                        expiresAt: info.expiresAt, concurrency: row.concurrency)
                ))
        }
        return keys
    }

    /// Industry models with their versions (given in version order). A stored spec was valid when written; one
    /// that no longer parses is skipped, not fatal.
    static func models(_ rows: [ModelRecord], versions: [ModelVersionRecord]) -> [IndustryModel] {
        var versionsByModel: [String: [ModelVersion]] = [:]
        for row in versions {
            guard let json = try? JSONParser.parse(row.spec), let spec = try? ModelSpec.parse(json) else { continue }
            versionsByModel[row.modelID, default: []].append(
                ModelVersion(version: row.version, spec: spec, createdAt: Date(unixSeconds: row.createdAt)))
        }
        return rows.map { row in
            IndustryModel(
                id: row.id, name: row.name, tenantID: row.tenantID, description: row.description,
                createdAt: Date(unixSeconds: row.createdAt), versions: versionsByModel[row.id] ?? [],
                traffic: JSONText.decodeTraffic(row.traffic))
        }
    }

    /// A prompt's stored labels (JSON) with `labels` pointed at `version`; nil when they all point there already.
    static func pointing(_ labels: [String], at version: Int, in stored: String) -> String? {
        var current = JSONText.decodeLabels(stored)
        var changed = false
        for label in labels where current[label] != version {
            current[label] = version
            changed = true
        }
        return changed ? JSONText.encode(labels: current) : nil
    }

    /// True when a prompt's latest stored version has this definition (the same text, or the same JSON once
    /// canonicalised), so writing it again adds no version.
    static func isSameDefinition(_ latest: PromptVersionRecord?, text: String, canonical: String) -> Bool {
        guard let latest else { return false }
        return latest.definition == text || (try? JSONParser.parse(latest.definition)).map({ JSONWriter.string($0.canonical) }) == canonical
    }
}
