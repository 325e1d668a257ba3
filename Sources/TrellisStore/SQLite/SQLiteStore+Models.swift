import Foundation
import GRDB
import OpenAIWire
import TrellisCore

/// Industry models (versions, traffic) and library prompts.
extension SQLiteStore {
    // MARK: Models

    /// Creates a model with version 1 taking all traffic. The name rules of the contract: a tenant's names are
    /// unique within it; shared names are unique among shared models and cannot be taken by a tenant.
    public func createModel(
        name: String, tenantID: String?, description: String?, spec: JSONValue, actor: String, now: Date
    ) async throws -> IndustryModel {
        try await pool.write { db in
            try Self.checkName(db, table: "models", kind: "model", name: name, tenantID: tenantID)
            let record = ModelRecord(
                id: APIKeys.identifier("mdl"), name: name, tenantID: tenantID, description: description,
                traffic: JSONText.encode(traffic: [1: 100]), createdAt: now.unixSeconds)
            try record.insert(db)
            try ModelVersionRecord(modelID: record.id, version: 1, spec: JSONWriter.string(spec), createdAt: now.unixSeconds).insert(db)
            try Self.bumpGeneration(db)
            try Self.audit(
                db, actor: actor, tenantID: tenantID, action: "model.create", target: "model:\(name)", detail: ["version": 1], now: now)
            guard let model = try Self.fetchModels(db).first(where: { $0.id == record.id }) else { throw TrellisError.internalError }
            return model
        }
    }

    /// Adds the next version. Traffic is not moved: a new version serves pinned requests (`name@n`) until the
    /// split gives it weight.
    public func addModelVersion(modelID: String, spec: JSONValue, actor: String, now: Date) async throws -> Int {
        try await pool.write { db in
            guard let model = try ModelRecord.fetchOne(db, key: modelID) else { throw TrellisError.notFound("The model") }
            let latest =
                try Int.fetchOne(db, sql: "SELECT MAX(version) FROM model_versions WHERE model_id = ?", arguments: [modelID]) ?? 0
            let version = latest + 1
            try ModelVersionRecord(modelID: modelID, version: version, spec: JSONWriter.string(spec), createdAt: now.unixSeconds).insert(db)
            try Self.bumpGeneration(db)
            try Self.audit(
                db, actor: actor, tenantID: model.tenantID, action: "model.version.create", target: "model:\(model.name)",
                detail: ["version": .int(version)], now: now)
            return version
        }
    }

    public func setModelDescription(modelID: String, description: String?, actor: String, now: Date) async throws {
        try await pool.write { db in
            guard var model = try ModelRecord.fetchOne(db, key: modelID) else { throw TrellisError.notFound("The model") }
            model.description = description
            try model.update(db)
            try Self.bumpGeneration(db)
            try Self.audit(db, actor: actor, tenantID: model.tenantID, action: "model.update", target: "model:\(model.name)", now: now)
        }
    }

    public func setTraffic(modelID: String, traffic: [Int: Int], actor: String, now: Date) async throws {
        try await pool.write { db in
            guard var model = try ModelRecord.fetchOne(db, key: modelID) else { throw TrellisError.notFound("The model") }
            let before = model.traffic
            model.traffic = JSONText.encode(traffic: traffic)
            try model.update(db)
            try Self.bumpGeneration(db)
            try Self.audit(
                db, actor: actor, tenantID: model.tenantID, action: "model.traffic.set", target: "model:\(model.name)",
                detail: ["before": (try? JSONParser.parse(before)) ?? .null, "after": (try? JSONParser.parse(model.traffic)) ?? .null], now: now)
        }
    }

    // MARK: Prompts

    /// as the latest version adds nothing. `labels` are pointed at the resulting version.
    public func writePrompt(
        name: String, tenantID: String?, description: String?, definition: JSONValue, labels: [String], actor: String, now: Date
    ) async throws -> PromptWrite {
        let text = JSONWriter.string(definition)
        let canonical = JSONWriter.string(definition.canonical)
        return try await pool.write { db in
            let existing = try PromptRecord.all().named(name, tenantID: tenantID).fetchOne(db)
            var record: PromptRecord
            var version: Int
            var created = true
            var described = false
            if var found = existing {
                let latest = try PromptVersionRecord.all().ofPrompt(found.id).latestFirst()
                    .fetchOne(db)
                if let latest, SnapshotAssembly.isSameDefinition(latest, text: text, canonical: canonical) {
                    version = latest.version
                    created = false
                } else {
                    version = (latest?.version ?? 0) + 1
                    try PromptVersionRecord(promptID: found.id, version: version, definition: text, createdAt: now.unixSeconds).insert(db)
                }
                if let description, description != found.description {
                    found.description = description
                    try found.update(db)
                    described = true
                }
                record = found
            } else {
                try Self.checkName(db, table: "prompts", kind: "prompt", name: name, tenantID: tenantID)
                record = PromptRecord(
                    id: APIKeys.identifier("prm"), name: name, tenantID: tenantID, description: description, labels: "{}", createdAt: now.unixSeconds)
                try record.insert(db)
                version = 1
                try PromptVersionRecord(promptID: record.id, version: 1, definition: text, createdAt: now.unixSeconds).insert(db)
            }
            let pointed = SnapshotAssembly.pointing(labels, at: version, in: record.labels)
            let labelsChanged = pointed != nil
            if let pointed {
                record.labels = pointed
                try record.update(db)
            }
            if created || labelsChanged || described {
                try Self.bumpGeneration(db)
                try Self.audit(
                    db, actor: actor, tenantID: tenantID,
                    action: created ? "prompt.version.create" : labelsChanged ? "prompt.labels.set" : "prompt.update", target: "prompt:\(name)",
                    detail: ["version": .int(version), "labels": .array(labels.map { .string($0) })], now: now)
            }
            guard let prompt = try Self.fetchPrompts(db).first(where: { $0.id == record.id }) else { throw TrellisError.internalError }
            return PromptWrite(prompt: prompt, version: version, created: created)
        }
    }

    /// Points labels at versions (`nil` removes a label).
    public func setPromptLabels(promptID: String, labels: [String: Int?], actor: String, now: Date) async throws -> Prompt {
        try await pool.write { db in
            guard var record = try PromptRecord.fetchOne(db, key: promptID) else { throw TrellisError.notFound("The prompt") }
            let before = record.labels
            var current = JSONText.decodeLabels(record.labels)
            for (label, version) in labels {
                current[label] = version
            }
            record.labels = JSONText.encode(labels: current)
            if record.labels != before {
                try record.update(db)
                try Self.bumpGeneration(db)
                try Self.audit(
                    db, actor: actor, tenantID: record.tenantID, action: "prompt.labels.set", target: "prompt:\(record.name)",
                    detail: ["before": (try? JSONParser.parse(before)) ?? .null, "after": (try? JSONParser.parse(record.labels)) ?? .null], now: now)
            }
            guard let prompt = try Self.fetchPrompts(db).first(where: { $0.id == record.id }) else { throw TrellisError.internalError }
            return prompt
        }
    }
}
