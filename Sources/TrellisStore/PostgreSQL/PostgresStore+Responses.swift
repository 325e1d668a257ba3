import Foundation
import OpenAIWire
import PostgresNIO

/// Stored responses of the Responses API.
extension PostgresStore {
    public func insertResponse(_ response: StoredResponse) async throws {
        let created = response.createdAt.unixMilliseconds
        let expires = response.expiresAt.unixMilliseconds
        let object = JSONWriter.string(response.response)
        let conversation = JSONWriter.string(response.conversation)
        try await write { connection in
            _ = try await connection.query(
                """
                INSERT INTO responses(id, tenant_id, model, created_at_ms, expires_at_ms, response, conversation)
                VALUES (\(response.id), \(response.tenantID), \(response.model), \(created), \(expires), \(object), \(conversation))
                ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id, model = excluded.model, created_at_ms = excluded.created_at_ms,
                    expires_at_ms = excluded.expires_at_ms, response = excluded.response, conversation = excluded.conversation
                """, logger: Self.quiet)
        }
    }

    public func response(id: String, tenantID: String, now: Date) async throws -> StoredResponse? {
        let at = now.unixMilliseconds
        return try await read { connection in
            let rows = try await connection.query(
                """
                SELECT model, created_at_ms, expires_at_ms, response, conversation FROM responses
                WHERE id = \(id) AND tenant_id = \(tenantID) AND expires_at_ms >= \(at)
                """, logger: Self.quiet)
            var found: StoredResponse?
            for try await (model, created, expires, response, conversation) in rows.decode((String, Int64, Int64, String, String).self) {
                found = StoredResponse(
                    id: id, tenantID: tenantID, model: model, createdAt: Date(unixMilliseconds: created), expiresAt: Date(unixMilliseconds: expires),
                    response: try JSONParser.parse(response), conversation: try JSONParser.parse(conversation))
            }
            return found
        }
    }

    public func deleteResponse(id: String, tenantID: String) async throws -> Bool {
        try await write { connection in
            let deleted = try await connection.scalar(
                "WITH gone AS (DELETE FROM responses WHERE id = \(id) AND tenant_id = \(tenantID) RETURNING 1) SELECT COUNT(*) FROM gone", as: Int.self)
            return (deleted ?? 0) > 0
        }
    }

    public func purgeResponses(now: Date) async throws -> Int {
        try await write { connection in
            try await connection.scalar(
                "WITH gone AS (DELETE FROM responses WHERE expires_at_ms < \(now.unixMilliseconds) RETURNING 1) SELECT COUNT(*) FROM gone", as: Int.self)
                ?? 0
        }
    }
}
