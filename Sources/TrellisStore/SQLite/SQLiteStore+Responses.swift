import Foundation
import GRDB
import OpenAIWire

/// Stored responses of the Responses API.
extension SQLiteStore {
    public func insertResponse(_ response: StoredResponse) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO responses(id, tenant_id, model, created_at_ms, expires_at_ms, response, conversation)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    response.id, response.tenantID, response.model, response.createdAt.unixMilliseconds, response.expiresAt.unixMilliseconds,
                    JSONWriter.string(response.response), JSONWriter.string(response.conversation),
                ])
        }
    }

    public func response(id: String, tenantID: String, now: Date) async throws -> StoredResponse? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT model, created_at_ms, expires_at_ms, response, conversation FROM responses
                        WHERE id = ? AND tenant_id = ? AND expires_at_ms >= ?
                        """, arguments: [id, tenantID, now.unixMilliseconds])
            else { return nil }
            return StoredResponse(
                id: id, tenantID: tenantID, model: row[0], createdAt: Date(unixMilliseconds: row[1]), expiresAt: Date(unixMilliseconds: row[2]),
                response: try JSONParser.parse(row[3] as String), conversation: try JSONParser.parse(row[4] as String))
        }
    }

    public func deleteResponse(id: String, tenantID: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM responses WHERE id = ? AND tenant_id = ?", arguments: [id, tenantID])
            return db.changesCount > 0
        }
    }

    public func purgeResponses(now: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM responses WHERE expires_at_ms < ?", arguments: [now.unixMilliseconds])
            return db.changesCount
        }
    }
}
