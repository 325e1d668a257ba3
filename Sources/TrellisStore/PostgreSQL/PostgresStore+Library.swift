import Foundation
import OpenAIWire
import PostgresNIO
import TrellisCore

/// Library prompts (versions, labels) and adapters (see `SQLiteStore+Models.swift` and `SQLiteStore+Catalog.swift`:
/// the same behaviour, audit rows and errors).
extension PostgresStore {
    /// Every prompt with its versions, or only the prompt `id`.
    static func fetchPrompts(_ connection: PostgresConnection, id: String? = nil) async throws -> [Prompt] {
        let records: [PromptRecord]
        let versionRecords: [PromptVersionRecord]
        if let id {
            records = try await Self.promptRows(connection, "SELECT \(unescaped: PostgresColumns.prompts) FROM prompts WHERE id = \(id)")
            versionRecords = try await Self.promptVersionRows(
                connection, "SELECT \(unescaped: PostgresColumns.promptVersions) FROM prompt_versions WHERE prompt_id = \(id) ORDER BY version")
        } else {
            records = try await Self.promptRows(connection, "SELECT \(unescaped: PostgresColumns.prompts) FROM prompts ORDER BY id")
            versionRecords = try await Self.promptVersionRows(
                connection, "SELECT \(unescaped: PostgresColumns.promptVersions) FROM prompt_versions ORDER BY version, prompt_id")
        }
        var versions: [String: [Prompt.Version]] = [:]
        for row in versionRecords {
            guard case .object(let o)? = try? JSONParser.parse(row.definition),
                let definition = try? PromptDefinition.parse(messages: o["messages"], variables: o["variables"])
            else { continue }
            versions[row.promptID, default: []].append(
                Prompt.Version(version: row.version, definition: definition, createdAt: Date(unixSeconds: row.createdAt)))
        }
        return records.map { row in
            Prompt(
                id: row.id, name: row.name, tenantID: row.tenantID, description: row.description, createdAt: Date(unixSeconds: row.createdAt),
                versions: versions[row.id] ?? [], labels: JSONText.decodeLabels(row.labels))
        }
    }

    // MARK: Prompts

    /// Creates a prompt (version 1) or adds the next version; the same definition as the latest version adds
    /// nothing. `labels` are pointed at the resulting version.
    public func writePrompt(
        name: String, tenantID: String?, description: String?, definition: JSONValue, labels: [String], actor: String, now: Date
    ) async throws -> PromptWrite {
        let text = JSONWriter.string(definition)
        let canonical = JSONWriter.string(definition.canonical)
        return try await write { connection in
            try await Self.lockCatalog(connection)
            let existing = try await Self.promptRows(
                connection,
                """
                SELECT \(unescaped: PostgresColumns.prompts) FROM prompts
                WHERE name = \(name) AND tenant_id IS NOT DISTINCT FROM \(tenantID) FOR UPDATE
                """
            ).first
            var record: PromptRecord
            var version: Int
            var created = true
            var described = false
            if var found = existing {
                let latest = try await Self.promptVersionRows(
                    connection,
                    """
                    SELECT \(unescaped: PostgresColumns.promptVersions) FROM prompt_versions
                    WHERE prompt_id = \(found.id) ORDER BY version DESC LIMIT 1
                    """
                ).first
                if let latest, SnapshotAssembly.isSameDefinition(latest, text: text, canonical: canonical) {
                    version = latest.version
                    created = false
                } else {
                    version = (latest?.version ?? 0) + 1
                    try await Self.insertPromptVersion(connection, promptID: found.id, version: version, definition: text, now: now)
                }
                if let description, description != found.description {
                    found.description = description
                    try await connection.query("UPDATE prompts SET description = \(description) WHERE id = \(found.id)", logger: Self.quiet)
                    described = true
                }
                record = found
            } else {
                try await Self.checkName(connection, table: "prompts", kind: "prompt", name: name, tenantID: tenantID)
                record = PromptRecord(
                    id: APIKeys.identifier("prm"), name: name, tenantID: tenantID, description: description, labels: "{}", createdAt: now.unixSeconds)
                try await connection.query(
                    """
                    INSERT INTO prompts (id, name, tenant_id, description, labels, created_at)
                    VALUES (\(record.id), \(record.name), \(record.tenantID), \(record.description), \(record.labels), \(record.createdAt))
                    """, logger: Self.quiet)
                version = 1
                try await Self.insertPromptVersion(connection, promptID: record.id, version: 1, definition: text, now: now)
            }
            let pointed = SnapshotAssembly.pointing(labels, at: version, in: record.labels)
            let labelsChanged = pointed != nil
            if let pointed {
                record.labels = pointed
                try await connection.query("UPDATE prompts SET labels = \(record.labels) WHERE id = \(record.id)", logger: Self.quiet)
            }
            if created || labelsChanged || described {
                try await Self.bumpGeneration(connection)
                try await Self.audit(
                    connection, actor: actor, tenantID: tenantID,
                    action: created ? "prompt.version.create" : labelsChanged ? "prompt.labels.set" : "prompt.update", target: "prompt:\(name)",
                    detail: ["version": .int(version), "labels": .array(labels.map { .string($0) })], now: now)
            }
            guard let prompt = try await Self.fetchPrompts(connection, id: record.id).first else { throw TrellisError.internalError }
            return PromptWrite(prompt: prompt, version: version, created: created)
        }
    }

    static func insertPromptVersion(_ connection: PostgresConnection, promptID: String, version: Int, definition: String, now: Date) async throws {
        try await connection.query(
            """
            INSERT INTO prompt_versions (prompt_id, version, definition, created_at)
            VALUES (\(promptID), \(version), \(definition), \(now.unixSeconds))
            """, logger: quiet)
    }

    /// Points labels at versions (`nil` removes a label).
    public func setPromptLabels(promptID: String, labels: [String: Int?], actor: String, now: Date) async throws -> Prompt {
        try await write { connection in
            try await Self.lockCatalog(connection)
            guard
                var record = try await Self.promptRows(
                    connection, "SELECT \(unescaped: PostgresColumns.prompts) FROM prompts WHERE id = \(promptID) FOR UPDATE"
                ).first
            else { throw TrellisError.notFound("The prompt") }
            let before = record.labels
            var current = JSONText.decodeLabels(record.labels)
            for (label, version) in labels {
                current[label] = version
            }
            record.labels = JSONText.encode(labels: current)
            if record.labels != before {
                try await connection.query("UPDATE prompts SET labels = \(record.labels) WHERE id = \(record.id)", logger: Self.quiet)
                try await Self.bumpGeneration(connection)
                try await Self.audit(
                    connection, actor: actor, tenantID: record.tenantID, action: "prompt.labels.set", target: "prompt:\(record.name)",
                    detail: ["before": (try? JSONParser.parse(before)) ?? .null, "after": (try? JSONParser.parse(record.labels)) ?? .null], now: now)
            }
            guard let prompt = try await Self.fetchPrompts(connection, id: record.id).first else { throw TrellisError.internalError }
            return prompt
        }
    }

    // MARK: Adapters

    public func createAdapter(_ adapter: Adapter, actor: String, now: Date) async throws -> Adapter {
        try await write { connection in
            try await Self.lockCatalog(connection)
            try await Self.checkName(connection, table: "adapters", kind: "adapter", name: adapter.name, tenantID: adapter.tenantID)
            var a = adapter
            a.id = APIKeys.identifier("adp")
            a.createdAt = Date(unixSeconds: now.unixSeconds)
            let r = AdapterRecord(a)
            try await connection.query(
                """
                INSERT INTO adapters (\(unescaped: PostgresColumns.adapters))
                VALUES (\(r.id), \(r.name), \(r.tenantID), \(r.upstream), \(r.baseModel), \(r.servedModel), \(r.loraID), \(r.loraScale), \(r.path),
                        \(r.method), \(r.dataset), \(r.evaluation), \(r.description), \(r.createdAt))
                """, logger: Self.quiet)
            try await Self.bumpGeneration(connection)
            try await Self.audit(
                connection, actor: actor, tenantID: a.tenantID, action: "adapter.create", target: "adapter:\(a.name)",
                detail: ["upstream": .string(a.upstream), "base_model": .string(a.baseModel), "method": .string(a.method.rawValue)], now: now)
            return a
        }
    }

    /// Replaces an adapter's fields (the declarative catalog changed it); the id and creation time stay.
    public func updateAdapter(_ adapter: Adapter, actor: String, now: Date) async throws {
        try await write { connection in
            try await Self.lockCatalog(connection)
            let r = AdapterRecord(adapter)
            let updated = try await connection.query(
                """
                UPDATE adapters SET name = \(r.name), tenant_id = \(r.tenantID), upstream = \(r.upstream), base_model = \(r.baseModel),
                    served_model = \(r.servedModel), lora_id = \(r.loraID), lora_scale = \(r.loraScale), path = \(r.path), method = \(r.method),
                    dataset = \(r.dataset), evaluation = \(r.evaluation), description = \(r.description)
                WHERE id = \(r.id) RETURNING id
                """, logger: Self.quiet
            ).collect()
            if updated.isEmpty { throw TrellisError.notFound("The adapter") }
            try await Self.bumpGeneration(connection)
            try await Self.audit(connection, actor: actor, tenantID: adapter.tenantID, action: "adapter.update", target: "adapter:\(adapter.name)", now: now)
        }
    }
}
