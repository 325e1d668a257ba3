import Foundation
import OpenAIWire
import PostgresNIO
import TrellisCore

/// Industry models: versions and traffic (see `SQLiteStore+Models.swift`: the same behaviour, audit rows and
/// errors).
extension PostgresStore {
    /// Every model with its versions, or only the model `id`.
    static func fetchModels(_ connection: PostgresConnection, id: String? = nil) async throws -> [IndustryModel] {
        let records: [ModelRecord]
        let versionRecords: [ModelVersionRecord]
        if let id {
            records = try await Self.modelRows(connection, "SELECT \(unescaped: PostgresColumns.models) FROM models WHERE id = \(id)")
            versionRecords = try await Self.modelVersionRows(
                connection, "SELECT \(unescaped: PostgresColumns.modelVersions) FROM model_versions WHERE model_id = \(id) ORDER BY version")
        } else {
            records = try await Self.modelRows(connection, "SELECT \(unescaped: PostgresColumns.models) FROM models ORDER BY id")
            versionRecords = try await Self.modelVersionRows(
                connection, "SELECT \(unescaped: PostgresColumns.modelVersions) FROM model_versions ORDER BY version, model_id")
        }
        return SnapshotAssembly.models(records, versions: versionRecords)
    }

    /// The model `id`, locked for the rest of the transaction; a 404 when there is none.
    static func lockedModel(_ connection: PostgresConnection, id: String) async throws -> ModelRecord {
        guard let model = try await modelRows(connection, "SELECT \(unescaped: PostgresColumns.models) FROM models WHERE id = \(id) FOR UPDATE").first
        else { throw TrellisError.notFound("The model") }
        return model
    }

    /// Creates a model with version 1 taking all traffic, under the name rules of the contract (`checkName`).
    public func createModel(
        name: String, tenantID: String?, description: String?, spec: JSONValue, actor: String, now: Date
    ) async throws -> IndustryModel {
        try await write { connection in
            try await Self.lockCatalog(connection)
            try await Self.checkName(connection, table: "models", kind: "model", name: name, tenantID: tenantID)
            let id = APIKeys.identifier("mdl")
            let traffic = JSONText.encode(traffic: [1: 100])
            let created = now.unixSeconds
            try await connection.query(
                """
                INSERT INTO models (id, name, tenant_id, description, traffic, created_at)
                VALUES (\(id), \(name), \(tenantID), \(description), \(traffic), \(created))
                """, logger: Self.quiet)
            try await connection.query(
                "INSERT INTO model_versions (model_id, version, spec, created_at) VALUES (\(id), 1, \(JSONWriter.string(spec)), \(created))",
                logger: Self.quiet)
            try await Self.bumpGeneration(connection)
            try await Self.audit(
                connection, actor: actor, tenantID: tenantID, action: "model.create", target: "model:\(name)", detail: ["version": 1], now: now)
            guard let model = try await Self.fetchModels(connection, id: id).first else { throw TrellisError.internalError }
            return model
        }
    }

    /// Adds the next version; traffic is not moved. Concurrent writers get distinct, consecutive numbers: the
    /// catalog lock (and the model row's) holds each one until the previous has committed.
    public func addModelVersion(modelID: String, spec: JSONValue, actor: String, now: Date) async throws -> Int {
        try await write { connection in
            try await Self.lockCatalog(connection)
            let model = try await Self.lockedModel(connection, id: modelID)
            let latest = try await connection.scalar("SELECT COALESCE(MAX(version), 0) FROM model_versions WHERE model_id = \(modelID)", as: Int.self) ?? 0
            let version = latest + 1
            try await connection.query(
                """
                INSERT INTO model_versions (model_id, version, spec, created_at)
                VALUES (\(modelID), \(version), \(JSONWriter.string(spec)), \(now.unixSeconds))
                """, logger: Self.quiet)
            try await Self.bumpGeneration(connection)
            try await Self.audit(
                connection, actor: actor, tenantID: model.tenantID, action: "model.version.create", target: "model:\(model.name)",
                detail: ["version": .int(version)], now: now)
            return version
        }
    }

    public func setModelDescription(modelID: String, description: String?, actor: String, now: Date) async throws {
        try await write { connection in
            try await Self.lockCatalog(connection)
            let model = try await Self.lockedModel(connection, id: modelID)
            try await connection.query("UPDATE models SET description = \(description) WHERE id = \(modelID)", logger: Self.quiet)
            try await Self.bumpGeneration(connection)
            try await Self.audit(connection, actor: actor, tenantID: model.tenantID, action: "model.update", target: "model:\(model.name)", now: now)
        }
    }

    public func setTraffic(modelID: String, traffic: [Int: Int], actor: String, now: Date) async throws {
        try await write { connection in
            try await Self.lockCatalog(connection)
            let model = try await Self.lockedModel(connection, id: modelID)
            let after = JSONText.encode(traffic: traffic)
            try await connection.query("UPDATE models SET traffic = \(after) WHERE id = \(modelID)", logger: Self.quiet)
            try await Self.bumpGeneration(connection)
            try await Self.audit(
                connection, actor: actor, tenantID: model.tenantID, action: "model.traffic.set", target: "model:\(model.name)",
                detail: ["before": (try? JSONParser.parse(model.traffic)) ?? .null, "after": (try? JSONParser.parse(after)) ?? .null], now: now)
        }
    }
}
