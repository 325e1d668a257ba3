import Foundation
import GRDB
import TrellisCore

/// Rows in and out of a SQLite store for `trellis store copy`. Every table but the keyword terms moves as it
/// is; the terms live in the FTS5 table `chunk_terms` (rowid = chunk id, each term prefixed with its knowledge
/// base's `termPrefix`) and are converted to and from the neutral form (chunk id, unprefixed terms).
extension SQLiteStore: StoreTransfer {
    public func transferCount(_ table: TransferTable) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(TransferTable.quote(table.name))") ?? 0
        }
    }

    public func transferRows(_ table: TransferTable, after: [TransferValue]?, limit: Int) async throws -> [[TransferValue]] {
        try await pool.read { db in
            if table.name == "chunk_terms" { return try Self.readTerms(db, after: after, limit: limit) }
            var sql = "SELECT \(table.quotedColumns) FROM \(TransferTable.quote(table.name))"
            var arguments: [DatabaseValue] = []
            if let after {
                let keys = table.key.map(TransferTable.quote).joined(separator: ", ")
                let marks = Array(repeating: "?", count: after.count).joined(separator: ", ")
                sql += " WHERE (\(keys)) > (\(marks))"
                arguments = after.map(\.databaseValue)
            }
            sql += " ORDER BY \(table.key.map(TransferTable.quote).joined(separator: ", ")) LIMIT \(limit)"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
                row.databaseValues.map(TransferValue.init)
            }
        }
    }

    public func transferWrite(_ table: TransferTable, rows: [[TransferValue]]) async throws {
        guard !rows.isEmpty else { return }
        try await pool.write { db in
            if table.name == "chunk_terms" { return try Self.writeTerms(db, rows: rows) }
            let marks = Array(repeating: "?", count: table.columns.count).joined(separator: ", ")
            let insert = try db.cachedStatement(
                sql: "INSERT INTO \(TransferTable.quote(table.name)) (\(table.quotedColumns)) VALUES (\(marks))\(table.conflictClause)")
            for row in rows {
                try insert.execute(arguments: StatementArguments(row.map(\.databaseValue)))
            }
        }
    }

    /// Nothing to do: an `INTEGER PRIMARY KEY` continues after the largest id by itself.
    public func transferFinish() async throws {}

    // MARK: Keyword terms

    /// The terms of chunks after a chunk id, without their knowledge bases' prefixes.
    static func readTerms(_ db: Database, after: [TransferValue]?, limit: Int) throws -> [[TransferValue]] {
        var afterID: Int64 = .min
        if let first = after?.first {
            guard case .integer(let id) = first else { throw TransferError("chunk_terms pages on an integer chunk id") }
            afterID = id
        }
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT t.rowid, t.terms, (SELECT c.kb_id FROM chunks c WHERE c.id = t.rowid) FROM chunk_terms t
                WHERE t.rowid > ? ORDER BY t.rowid LIMIT ?
                """, arguments: [afterID, limit])
        var prefixes = TermPrefixes()
        return try rows.map { row in
            let id: Int64 = row[0]
            let stored: String = row[1]
            guard let kbID: String = row[2] else { throw TransferError("the keyword terms of chunk \(id) belong to no chunk") }
            let prefix = prefixes.prefix(kbID)
            let terms = stored.split(separator: " ").map { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : String($0) }
            return [.integer(id), .text(terms.joined(separator: " "))]
        }
    }

    /// Stores neutral terms rows (chunk id, unprefixed terms) under their chunks' knowledge bases' prefixes.
    static func writeTerms(_ db: Database, rows: [[TransferValue]]) throws {
        let insert = try db.cachedStatement(sql: "INSERT INTO chunk_terms(rowid, terms) VALUES (?, ?)")
        let owner = try db.cachedStatement(sql: "SELECT kb_id FROM chunks WHERE id = ?")
        var prefixes = TermPrefixes()
        for row in rows {
            guard row.count == 2, case .integer(let id) = row[0], case .text(let terms) = row[1] else {
                throw TransferError("a chunk_terms row is (chunk id, terms)")
            }
            guard let kbID = try String.fetchOne(owner, arguments: [id]) else {
                throw TransferError("the keyword terms of chunk \(id) belong to no chunk")
            }
            let prefix = prefixes.prefix(kbID)
            try insert.execute(arguments: [id, terms.split(separator: " ").map { prefix + $0 }.joined(separator: " ")])
        }
    }
}

/// Each knowledge base's term prefix, worked out once per batch.
private struct TermPrefixes {
    var known: [String: String] = [:]

    mutating func prefix(_ knowledgeBaseID: String) -> String {
        if let prefix = known[knowledgeBaseID] { return prefix }
        let prefix = KnowledgeBase(
            id: knowledgeBaseID, name: "", tenantID: "", description: nil, embedding: nil, chunkSize: 0, chunkOverlap: 0,
            createdAt: Date(timeIntervalSince1970: 0)
        ).termPrefix
        known[knowledgeBaseID] = prefix
        return prefix
    }
}

extension TransferValue {
    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let integer): self = .integer(integer)
        case .double(let real): self = .real(real)
        case .string(let text): self = .text(text)
        case .blob(let data): self = .blob(data)
        }
    }

    var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .integer(let integer): integer.databaseValue
        case .real(let real): real.databaseValue
        case .text(let text): text.databaseValue
        case .blob(let data): data.databaseValue
        }
    }
}
