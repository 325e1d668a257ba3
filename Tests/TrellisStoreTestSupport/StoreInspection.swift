import Foundation
import GRDB
import TrellisCore
import TrellisStore

/// What tests read back from a store that the product itself never reads: usage rows and row counts. Each
/// engine answers from its own storage; SQLite from the database file, over a read-only connection of its own.
public protocol StoreInspecting: Sendable {
    func inspectUsageEvents(tenantID: String?, limit: Int) throws -> [UsageEvent]
    /// Usage rows matching an SQL condition (all rows when nil); the condition is the test's own SQL.
    func inspectUsageCount(where condition: String?) throws -> Int
    func inspectInteractionCount() throws -> Int
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
        try inspected().inspectUsageEvents(tenantID: tenantID, limit: limit)
    }

    public func usageCount() async throws -> Int {
        try inspected().inspectUsageCount(where: nil)
    }

    /// Counts usage rows matching an SQL condition written by the test.
    public func countUsage(where condition: String? = nil) throws -> Int {
        try inspected().inspectUsageCount(where: condition)
    }

    public func interactionCount() async throws -> Int {
        try inspected().inspectInteractionCount()
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
                var event = UsageEvent(
                    requestID: row["request_id"], at: Date(timeIntervalSince1970: TimeInterval(row["at_ms"] as Int64) / 1000),
                    endpoint: row["endpoint"], tenantID: row["tenant_id"], keyID: row["key_id"], endUser: row["end_user"], model: row["model"],
                    modelVersion: row["model_version"], upstream: row["upstream"], promptTokens: row["prompt_tokens"],
                    completionTokens: row["completion_tokens"], estimated: row["estimated"], latencyMs: row["latency_ms"], ttftMs: row["ttft_ms"],
                    status: row["status"], errorCode: row["error_code"], stream: row["stream"], retrievalMs: row["retrieval_ms"])
                event.costMicros = row["cost_micros"]
                return event
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
}
