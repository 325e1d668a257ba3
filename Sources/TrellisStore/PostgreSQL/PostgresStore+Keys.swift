import Foundation
import OpenAIWire
import PostgresNIO
import TrellisCore

/// API keys (see `SQLiteStore+Keys.swift`: the same behaviour, audit rows and errors). Only the digest is
/// stored.
extension PostgresStore {
    /// Issues a key; the returned string is the only copy of it anywhere.
    public func createKey(_ new: NewKey, actor: String, now: Date) async throws -> (APIKeyInfo, String) {
        let issued = APIKeys.generate()
        let info = try await write { connection in
            try await Self.lockCatalog(connection)
            guard try await connection.scalar("SELECT COUNT(*) FROM tenants WHERE id = \(new.tenantID)", as: Int64.self) ?? 0 > 0 else {
                throw TrellisError.notFound("The tenant")
            }
            let r = APIKeyRecord(
                id: APIKeys.identifier("key"), tenantID: new.tenantID, name: new.name, prefix: issued.prefix, digest: issued.digest.hex,
                scopes: JSONText.encode(new.scopes.map(\.rawValue)), models: JSONText.encode(new.models), rpm: new.rpm, tpm: new.tpm,
                expiresAt: new.expiresAt?.unixSeconds, createdAt: now.unixSeconds, revokedAt: nil, concurrency: new.concurrency)
            try await connection.query(
                """
                INSERT INTO api_keys (\(unescaped: PostgresColumns.apiKeys))
                VALUES (\(r.id), \(r.tenantID), \(r.name), \(r.prefix), \(r.digest), \(r.scopes), \(r.models), \(r.rpm), \(r.tpm), \(r.expiresAt),
                        \(r.createdAt), \(r.revokedAt), \(r.concurrency))
                """, logger: Self.quiet)
            try await Self.bumpGeneration(connection)
            try await Self.audit(
                connection, actor: actor, tenantID: new.tenantID, action: "key.create", target: "key:\(r.id)",
                detail: ["name": .string(new.name), "prefix": .string(issued.prefix), "scopes": .array(new.scopes.map { .string($0.rawValue) })],
                now: now)
            return r.info
        }
        return (info, issued.key)
    }

    public func keys(tenantID: String) async throws -> [APIKeyInfo] {
        try await read { connection in
            try await Self.keyRows(
                connection, "SELECT \(unescaped: PostgresColumns.apiKeys) FROM api_keys WHERE tenant_id = \(tenantID) ORDER BY created_at, id COLLATE \"C\""
            ).map(\.info)
        }
    }

    public func key(id: String) async throws -> APIKeyInfo? {
        try await read { connection in
            try await Self.keyRows(connection, "SELECT \(unescaped: PostgresColumns.apiKeys) FROM api_keys WHERE id = \(id)").first?.info
        }
    }

    /// Revokes a key. Revoking twice is not an error; the first revocation time is kept.
    public func revokeKey(id: String, actor: String, now: Date) async throws -> APIKeyInfo {
        try await write { connection in
            try await Self.lockCatalog(connection)
            let query: PostgresQuery = "SELECT \(unescaped: PostgresColumns.apiKeys) FROM api_keys WHERE id = \(id) FOR UPDATE"
            guard var record = try await Self.keyRows(connection, query).first else { throw TrellisError.notFound("The key") }
            if record.revokedAt == nil {
                record.revokedAt = now.unixSeconds
                try await connection.query("UPDATE api_keys SET revoked_at = \(record.revokedAt) WHERE id = \(id)", logger: Self.quiet)
                try await Self.bumpGeneration(connection)
                try await Self.audit(
                    connection, actor: actor, tenantID: record.tenantID, action: "key.revoke", target: "key:\(id)",
                    detail: ["prefix": .string(record.prefix)], now: now)
            }
            return record.info
        }
    }
}
