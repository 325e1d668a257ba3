import Foundation
import GRDB
import Logging
import PostgresNIO
import TrellisCore
import TrellisStore

/// What tests read back from a store that the product itself never reads: usage rows and row counts. Each
/// engine answers from its own storage: SQLite from the database file, over a read-only connection of its
/// own; PostgreSQL over a connection of its own to the store's database.
public protocol StoreInspecting: Sendable {
    func inspectUsageEvents(tenantID: String?, limit: Int) async throws -> [UsageEvent]
    /// Usage rows matching an SQL condition (all rows when nil); the condition is the test's own SQL, written in
    /// the SQL both engines share.
    func inspectUsageCount(where condition: String?) async throws -> Int
    func inspectInteractionCount() async throws -> Int
}

public struct StoreInspectionUnsupported: Error, CustomStringConvertible {
    public var engine: String
    public var description: String { "no test inspection for the store engine \(engine)" }
}

extension TrellisStoreEngine {
    private func inspected() throws -> any StoreInspecting {
        guard let inspecting = self as? any StoreInspecting else { throw StoreInspectionUnsupported(engine: "\(type(of: self))") }
        return inspecting
    }

    /// The stored usage rows, oldest first.
    public func usageEvents(tenantID: String? = nil, limit: Int = 1000) async throws -> [UsageEvent] {
        try await inspected().inspectUsageEvents(tenantID: tenantID, limit: limit)
    }

    /// Counts usage rows, those matching an SQL condition written by the test when there is one.
    public func usageCount(where condition: String? = nil) async throws -> Int {
        try await inspected().inspectUsageCount(where: condition)
    }

    public func interactionCount() async throws -> Int {
        try await inspected().inspectInteractionCount()
    }
}

/// The usage row a test reads, from the columns both engines store alike.
private struct UsageColumns {
    var requestID: String
    var atMs: Int64
    var endpoint: String
    var tenantID: String
    var keyID: String
    var endUser: String?
    var model: String
    var modelVersion: Int?
    var upstream: String?
    var promptTokens: Int
    var completionTokens: Int
    var estimated: Bool
    var latencyMs: Double
    var ttftMs: Double?
    var status: Int
    var errorCode: String?
    var stream: Bool
    var retrievalMs: Double?
    var costMicros: Int
    var routedTo: String?
    var baselineCostMicros: Int?

    var event: UsageEvent {
        var event = UsageEvent(
            requestID: requestID, at: Date(timeIntervalSince1970: TimeInterval(atMs) / 1000), endpoint: endpoint, tenantID: tenantID, keyID: keyID,
            endUser: endUser, model: model, modelVersion: modelVersion, upstream: upstream, promptTokens: promptTokens,
            completionTokens: completionTokens, estimated: estimated, latencyMs: latencyMs, ttftMs: ttftMs, status: status, errorCode: errorCode,
            stream: stream, retrievalMs: retrievalMs)
        event.costMicros = costMicros
        event.routedTo = routedTo
        event.baselineCostMicros = baselineCostMicros
        return event
    }
}

extension SQLiteStore: StoreInspecting {
    private func readFile<T>(_ body: (Database) throws -> T) throws -> T {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.read(body)
    }

    public func inspectUsageEvents(tenantID: String?, limit: Int) throws -> [UsageEvent] {
        try readFile { db in
            let rows =
                if let tenantID {
                    try Row.fetchAll(db, sql: "SELECT * FROM usage WHERE tenant_id = ? ORDER BY id LIMIT ?", arguments: [tenantID, limit])
                } else {
                    try Row.fetchAll(db, sql: "SELECT * FROM usage ORDER BY id LIMIT ?", arguments: [limit])
                }
            return rows.map { row in
                UsageColumns(
                    requestID: row["request_id"], atMs: row["at_ms"], endpoint: row["endpoint"], tenantID: row["tenant_id"], keyID: row["key_id"],
                    endUser: row["end_user"], model: row["model"], modelVersion: row["model_version"], upstream: row["upstream"],
                    promptTokens: row["prompt_tokens"], completionTokens: row["completion_tokens"], estimated: row["estimated"],
                    latencyMs: row["latency_ms"], ttftMs: row["ttft_ms"], status: row["status"], errorCode: row["error_code"], stream: row["stream"],
                    retrievalMs: row["retrieval_ms"], costMicros: row["cost_micros"], routedTo: row["routed_to"],
                    baselineCostMicros: row["baseline_cost_micros"]
                ).event
            }
        }
    }

    public func inspectUsageCount(where condition: String?) throws -> Int {
        try readFile { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM usage" + (condition.map { " WHERE " + $0 } ?? "")) ?? 0
        }
    }

    public func inspectInteractionCount() throws -> Int {
        try readFile { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM interactions") ?? 0 }
    }

    /// Counts usage rows in the file, without suspending (for tests about SQLite files themselves).
    public func countUsage(where condition: String? = nil) throws -> Int {
        try inspectUsageCount(where: condition)
    }
}

extension PostgresStore: StoreInspecting {
    public func inspectUsageEvents(tenantID: String?, limit: Int) async throws -> [UsageEvent] {
        let query: PostgresQuery =
            if let tenantID {
                "SELECT * FROM usage WHERE tenant_id = \(tenantID) ORDER BY id LIMIT \(limit)"
            } else {
                "SELECT * FROM usage ORDER BY id LIMIT \(limit)"
            }
        return try await TestDatabases.withConnection(to: settings) { connection in
            var events: [UsageEvent] = []
            for try await row in try await connection.query(query, logger: TestDatabases.logger) {
                let row = row.makeRandomAccess()
                func value<T: PostgresDecodable>(_ column: String, _: T.Type = T.self) throws -> T { try row[column].decode(T.self) }
                events.append(
                    UsageColumns(
                        requestID: try value("request_id"), atMs: try value("at_ms"), endpoint: try value("endpoint"), tenantID: try value("tenant_id"),
                        keyID: try value("key_id"), endUser: try value("end_user"), model: try value("model"),
                        modelVersion: try value("model_version", Int64?.self).map { Int($0) }, upstream: try value("upstream"),
                        promptTokens: Int(try value("prompt_tokens", Int64.self)), completionTokens: Int(try value("completion_tokens", Int64.self)),
                        estimated: try value("estimated", Int64.self) != 0, latencyMs: try value("latency_ms"), ttftMs: try value("ttft_ms"),
                        status: Int(try value("status", Int64.self)), errorCode: try value("error_code"), stream: try value("stream", Int64.self) != 0,
                        retrievalMs: try value("retrieval_ms"), costMicros: Int(try value("cost_micros", Int64.self)),
                        routedTo: try value("routed_to"), baselineCostMicros: try value("baseline_cost_micros", Int64?.self).map { Int($0) }
                    ).event)
            }
            return events
        }
    }

    public func inspectUsageCount(where condition: String?) async throws -> Int {
        try await count("SELECT COUNT(*) FROM usage" + (condition.map { " WHERE " + $0 } ?? ""))
    }

    public func inspectInteractionCount() async throws -> Int {
        try await count("SELECT COUNT(*) FROM interactions")
    }

    private func count(_ sql: String) async throws -> Int {
        try await TestDatabases.withConnection(to: settings) { connection in
            for try await count in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabases.logger).decode(Int64.self) {
                return Int(count)
            }
            return 0
        }
    }
}
