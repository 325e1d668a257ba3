import Foundation

/// One stored value as it moves between engines: the four storage classes both schemas use (integers, reals,
/// text, bytes) and NULL. Both engines keep the same columns with the same kinds of values (times as integer
/// milliseconds or seconds, JSON as text, histograms and user sets as bytes), so a value moves unchanged.
public enum TransferValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
}

/// One table of a deployment, as both engines hold it: its columns in a fixed order, and the columns of its
/// primary key, which `StoreTransfer.transferRows` pages on (keyset pagination: usage can hold millions of rows).
public struct TransferTable: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let columns: [String]
    public let key: [String]
    /// Rows the target's own migrations already wrote (the generations in `meta`): a copied row replaces the
    /// target's row with the same key, and such a table does not count as data in an empty target.
    public let mergesOnKey: Bool

    init(_ name: String, _ columns: [String], key: [String] = ["id"], mergesOnKey: Bool = false) {
        self.name = name
        self.columns = columns
        self.key = key
        self.mergesOnKey = mergesOnKey
    }

    public var description: String { name }

    /// Where the key's columns are in a row.
    public var keyIndices: [Int] { key.compactMap { columns.firstIndex(of: $0) } }

    /// The key of a row read from this table (what the next page starts after).
    public func key(of row: [TransferValue]) -> [TransferValue] { keyIndices.map { row[$0] } }

    /// Every table of a deployment, parents before children (foreign keys hold at each step). The migration
    /// bookkeeping (`grdb_migrations`, `trellis_migrations`) is each engine's own and does not move.
    ///
    /// `chunk_terms` is the neutral form of the keyword terms: one row per chunk, `terms` space-separated and
    /// without SQLite's per-knowledge-base prefix (`KnowledgeBase.termPrefix`); each engine converts.
    public static let all: [TransferTable] = [
        TransferTable("meta", ["key", "value"], key: ["key"], mergesOnKey: true),
        TransferTable("tenants", ["id", "name", "created_at", "settings"]),
        TransferTable(
            "api_keys",
            ["id", "tenant_id", "name", "prefix", "digest", "scopes", "models", "rpm", "tpm", "expires_at", "created_at", "revoked_at", "concurrency"]),
        TransferTable("upstreams", ["id", "name", "base_url", "kind", "labels", "api_key_env", "timeouts", "created_at", "pricing"]),
        TransferTable("models", ["id", "name", "tenant_id", "description", "traffic", "created_at"]),
        TransferTable("model_versions", ["model_id", "version", "spec", "created_at"], key: ["model_id", "version"]),
        TransferTable("prompts", ["id", "name", "tenant_id", "description", "labels", "created_at"]),
        TransferTable("prompt_versions", ["prompt_id", "version", "definition", "created_at"], key: ["prompt_id", "version"]),
        TransferTable(
            "adapters",
            [
                "id", "name", "tenant_id", "upstream", "base_model", "served_model", "lora_id", "lora_scale", "path", "method", "dataset", "evaluation",
                "description", "created_at",
            ]),
        TransferTable(
            "knowledge_bases",
            ["id", "name", "tenant_id", "description", "embedding_upstream", "embedding_model", "chunk_size", "chunk_overlap", "created_at"]),
        TransferTable("documents", ["id", "kb_id", "title", "content_type", "sha256", "bytes", "metadata", "chunk_count", "created_at"]),
        TransferTable("chunks", ["id", "kb_id", "document_id", "position", "heading", "text", "embedding"]),
        TransferTable("chunk_terms", ["chunk_id", "terms"], key: ["chunk_id"]),
        TransferTable(
            "usage",
            [
                "id", "request_id", "at_ms", "endpoint", "tenant_id", "key_id", "end_user", "model", "model_version", "upstream", "prompt_tokens",
                "completion_tokens", "estimated", "latency_ms", "ttft_ms", "status", "error_code", "stream", "retrieval_ms", "cost_micros",
                "routed_to", "baseline_cost_micros",
            ]),
        TransferTable(
            "usage_daily",
            [
                "day", "tenant_id", "model", "model_version", "key_id", "requests", "errors", "prompt_tokens", "completion_tokens", "cost_micros",
                "positive", "negative", "latency_hist", "ttft_hist", "users",
            ], key: ["day", "tenant_id", "model", "model_version", "key_id"]),
        TransferTable(
            "usage_daily_users",
            [
                "day", "tenant_id", "model", "model_version", "key_id", "end_user", "requests", "errors", "prompt_tokens", "completion_tokens",
                "cost_micros", "positive", "negative",
            ], key: ["day", "tenant_id", "model", "model_version", "key_id", "end_user"]),
        TransferTable(
            "usage_daily_models",
            [
                "day", "tenant_id", "model", "model_version", "requests", "errors", "prompt_tokens", "completion_tokens", "cost_micros", "positive",
                "negative", "latency_hist", "ttft_hist", "users",
            ], key: ["day", "tenant_id", "model", "model_version"]),
        TransferTable(
            "feedback", ["id", "request_id", "tenant_id", "key_id", "model", "model_version", "rating", "comment", "correction", "at_ms"]),
        TransferTable(
            "interactions", ["request_id", "tenant_id", "model", "model_version", "at_ms", "messages", "answer", "expires_at_ms"],
            key: ["request_id"]),
        TransferTable("responses", ["id", "tenant_id", "model", "created_at_ms", "expires_at_ms", "response", "conversation"]),
        TransferTable("eval_sets", ["id", "tenant_id", "name", "version", "items", "item_count", "created_at_ms", "created_by"]),
        TransferTable(
            "eval_runs",
            [
                "id", "tenant_id", "key_id", "set_id", "set_name", "set_version", "models", "scorers", "concurrency", "status", "error", "total",
                "created_at_ms", "finished_at_ms", "created_by", "heartbeat_ms", "owner", "summary",
            ]),
        TransferTable(
            "eval_results",
            [
                "run_id", "item", "model", "answer", "error", "scores", "passed", "score", "latency_ms", "prompt_tokens", "completion_tokens",
                "cost_micros",
            ], key: ["run_id", "item", "model"]),
        TransferTable("audit_log", ["id", "at_ms", "actor", "tenant_id", "action", "target", "detail"]),
    ]

    /// The table's SQL column list, each name quoted (both engines quote identifiers the same way).
    var quotedColumns: String { columns.map(Self.quote).joined(separator: ", ") }

    static func quote(_ identifier: String) -> String { "\"" + identifier + "\"" }

    /// The upsert clause of a table that merges on its key (the same text on both engines).
    var conflictClause: String {
        guard mergesOnKey else { return "" }
        let updates = columns.filter { !key.contains($0) }.map { "\(Self.quote($0)) = excluded.\(Self.quote($0))" }
        return " ON CONFLICT (\(key.map(Self.quote).joined(separator: ", "))) DO UPDATE SET \(updates.joined(separator: ", "))"
    }
}

/// Moving a whole deployment between engines (`trellis store copy`), table by table, without either side
/// knowing the other: rows leave one engine as `TransferValue`s in `TransferTable`'s column order and enter
/// the other unchanged. Meant for a store no gateway is writing to while it is copied.
public protocol StoreTransfer: Sendable {
    /// How many rows the table holds.
    func transferCount(_ table: TransferTable) async throws -> Int
    /// Up to `limit` rows in key order, starting after the row whose key is `after` (from the start when nil).
    func transferRows(_ table: TransferTable, after: [TransferValue]?, limit: Int) async throws -> [[TransferValue]]
    /// Writes rows read from another engine, in one transaction.
    func transferWrite(_ table: TransferTable, rows: [[TransferValue]]) async throws
    /// Called once every table is written: whatever the engine needs for new rows to follow the copied ones
    /// (PostgreSQL moves its identity sequences past the copied ids).
    func transferFinish() async throws
}

extension StoreTransfer {
    /// The tables, parents first.
    public var transferTables: [TransferTable] { TransferTable.all }
}

/// A row that cannot move as it is (a value of a kind its column does not hold, keyword terms of no chunk).
public struct TransferError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
