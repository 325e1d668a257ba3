import Foundation
import GRDB
import OpenAIWire
import TrellisCore

extension SQLiteStore {

    /// Issues a key; the returned string is the only copy of it anywhere.
    public func createKey(_ new: NewKey, actor: String, now: Date) async throws -> (APIKeyInfo, String) {
        let issued = APIKeys.generate()
        return try await pool.write { db in
            guard try TenantRecord.fetchOne(db, key: new.tenantID) != nil else { throw TrellisError.notFound("The tenant") }
            let record = APIKeyRecord(
                id: APIKeys.identifier("key"), tenantID: new.tenantID, name: new.name, prefix: issued.prefix, digest: issued.digest.hex,
                scopes: JSONText.encode(new.scopes.map(\.rawValue)), models: JSONText.encode(new.models), rpm: new.rpm, tpm: new.tpm,
                expiresAt: new.expiresAt?.unixSeconds, createdAt: now.unixSeconds, revokedAt: nil, concurrency: new.concurrency)
            try record.insert(db)
            try Self.bumpGeneration(db)
            try Self.audit(
                db, actor: actor, tenantID: new.tenantID, action: "key.create", target: "key:\(record.id)",
                detail: ["name": .string(new.name), "prefix": .string(issued.prefix), "scopes": .array(new.scopes.map { .string($0.rawValue) })],
                now: now)
            return (record.info, issued.key)
        }
    }

    public func keys(tenantID: String) async throws -> [APIKeyInfo] {
        try await pool.read { db in
            try APIKeyRecord.all().forTenant(tenantID).inCreationOrder()
                .fetchAll(db).map(\.info)
        }
    }

    public func key(id: String) async throws -> APIKeyInfo? {
        try await pool.read { db in try APIKeyRecord.fetchOne(db, key: id)?.info }
    }

    /// Revokes a key. Revoking twice is not an error; the first revocation time is kept.
    public func revokeKey(id: String, actor: String, now: Date) async throws -> APIKeyInfo {
        try await pool.write { db in
            guard var record = try APIKeyRecord.fetchOne(db, key: id) else { throw TrellisError.notFound("The key") }
            if record.revokedAt == nil {
                record.revokedAt = now.unixSeconds
                try record.update(db)
                try Self.bumpGeneration(db)
                try Self.audit(
                    db, actor: actor, tenantID: record.tenantID, action: "key.revoke", target: "key:\(id)",
                    detail: ["prefix": .string(record.prefix)], now: now)
            }
            return record.info
        }
    }
}
