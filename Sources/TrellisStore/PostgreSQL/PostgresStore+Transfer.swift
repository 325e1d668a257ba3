import Foundation
import PostgresNIO

/// Rows in and out of a PostgreSQL store for `trellis store copy`: every table, the keyword terms included
/// (`chunk_terms(chunk_id, terms)` is already the neutral form), moves as it is; writes are multi-row inserts.
extension PostgresStore: StoreTransfer {
    /// The tables whose ids come from an identity sequence, moved past the copied ids at the end.
    static let identityTables = ["usage", "audit_log", "chunks", "feedback"]

    /// A bind parameter count no statement may exceed (the protocol's limit is 65,535).
    static let maximumBinds = 60_000

    public func transferCount(_ table: TransferTable) async throws -> Int {
        try await read { connection in
            Int(try await connection.scalar("SELECT COUNT(*) FROM \(unescaped: TransferTable.quote(table.name))", as: Int64.self) ?? 0)
        }
    }

    public func transferRows(_ table: TransferTable, after: [TransferValue]?, limit: Int) async throws -> [[TransferValue]] {
        try await read { connection in
            var bindings = PostgresBindings()
            var sql = "SELECT \(table.quotedColumns) FROM \(TransferTable.quote(table.name))"
            let keys = table.key.map(TransferTable.quote).joined(separator: ", ")
            if let after {
                for value in after { try bindings.append(value) }
                let marks = (1...after.count).map { "$\($0)" }.joined(separator: ", ")
                sql += " WHERE (\(keys)) > (\(marks))"
            }
            sql += " ORDER BY \(keys) LIMIT \(limit)"
            var rows: [[TransferValue]] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: Self.quiet) {
                rows.append(try row.makeRandomAccess().map { try TransferValue($0) })
            }
            return rows
        }
    }

    public func transferWrite(_ table: TransferTable, rows: [[TransferValue]]) async throws {
        guard !rows.isEmpty else { return }
        let width = table.columns.count
        let perStatement = max(1, Self.maximumBinds / width)
        try await write { connection in
            var start = 0
            while start < rows.count {
                let slice = rows[start..<min(rows.count, start + perStatement)]
                var bindings = PostgresBindings(capacity: slice.count * width)
                var tuples: [String] = []
                tuples.reserveCapacity(slice.count)
                for row in slice {
                    guard row.count == width else { throw TransferError("a \(table.name) row has \(row.count) values, not \(width)") }
                    let first = bindings.count
                    for value in row { try bindings.append(value) }
                    tuples.append("(" + (first + 1...first + width).map { "$\($0)" }.joined(separator: ", ") + ")")
                }
                let sql =
                    "INSERT INTO \(TransferTable.quote(table.name)) (\(table.quotedColumns)) VALUES \(tuples.joined(separator: ", "))\(table.conflictClause)"
                try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: Self.quiet)
                start += slice.count
            }
        }
    }

    /// Moves each identity sequence past the largest copied id, so the next row the gateway writes does not
    /// collide with a copied one.
    public func transferFinish() async throws {
        try await write { connection in
            for table in Self.identityTables {
                try await connection.query(
                    """
                    SELECT setval(pg_get_serial_sequence(\(table), 'id'), COALESCE((SELECT MAX(id) FROM \(unescaped: table)), 0) + 1, false)
                    """, logger: Self.quiet)
            }
        }
    }
}

extension PostgresBindings {
    mutating func append(_ value: TransferValue) throws {
        switch value {
        case .null: appendNull()
        case .integer(let integer): append(integer)
        case .real(let real): append(real)
        case .text(let text): append(text)
        case .blob(let data): try append(data)
        }
    }
}

extension TransferValue {
    /// A cell of one of the schema's column types (BIGINT, DOUBLE PRECISION, TEXT, BYTEA).
    init(_ cell: PostgresCell) throws {
        guard cell.bytes != nil else {
            self = .null
            return
        }
        switch cell.dataType {
        case .int8, .int4, .int2: self = .integer(try cell.decode(Int64.self))
        case .float8, .float4: self = .real(try cell.decode(Double.self))
        case .text, .varchar, .name, .bpchar: self = .text(try cell.decode(String.self))
        case .bytea: self = .blob(try cell.decode(Data.self))
        default: throw TransferError("the column \(cell.columnName) has the type \(cell.dataType), which no Trellis table uses")
        }
    }
}
