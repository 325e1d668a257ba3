import GRDB
import GRDBSQLite

/// Values bound straight to a prepared statement's parameters through SQLite's C API, for a statement that runs
/// once per request (the usage insert). `Statement.execute(arguments:)` boxes each value as an existential,
/// builds an array of them, checks it against the statement's parameters and binds it: about 25,000
/// instructions for a usage row's 21 values, where binding them here costs about 6,900, most of it copying the texts.
///
/// Made once per batch, after the statement is prepared. Then for each row: bind **every** parameter (one left out
/// keeps the previous row's value), and `execute()`, which leaves the statement reset for the next row. GRDB runs
/// the statement with what is bound: making this marks the statement's arguments as set (`setUncheckedArguments`
/// with none, which binds nothing and clears the bindings), so its `execute()` only resets the statement and steps
/// it, with GRDB's usual bookkeeping (the transaction, observers, errors as `DatabaseError`).
struct StatementBindings {
    private let statement: Statement

    init(_ statement: Statement) {
        statement.setUncheckedArguments(StatementArguments())
        self.statement = statement
    }

    /// `SQLITE_TRANSIENT`: SQLite copies a text before the bind returns.
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    func bind(_ value: String, at index: Int32) throws {
        var value = value
        let code = value.withUTF8 { bytes -> Int32 in
            guard let base = bytes.baseAddress, bytes.count > 0 else {
                // An empty text, not NULL: a nil pointer would bind NULL.
                return sqlite3_bind_text(statement.sqliteStatement, index, "", 0, Self.transient)
            }
            guard let count = Int32(exactly: bytes.count) else { return SQLITE_TOOBIG }
            return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                sqlite3_bind_text(statement.sqliteStatement, index, $0, count, Self.transient)
            }
        }
        try check(code, index)
    }

    func bind(_ value: String?, at index: Int32) throws {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }

    func bind(_ value: Int, at index: Int32) throws {
        try check(sqlite3_bind_int64(statement.sqliteStatement, index, Int64(value)), index)
    }

    func bind(_ value: Int?, at index: Int32) throws {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }

    func bind(_ value: Int64, at index: Int32) throws {
        try check(sqlite3_bind_int64(statement.sqliteStatement, index, value), index)
    }

    /// A Bool as GRDB stores one: the integer 1 or 0.
    func bind(_ value: Bool, at index: Int32) throws {
        try check(sqlite3_bind_int64(statement.sqliteStatement, index, value ? 1 : 0), index)
    }

    func bind(_ value: Double, at index: Int32) throws {
        try check(sqlite3_bind_double(statement.sqliteStatement, index, value), index)
    }

    func bind(_ value: Double?, at index: Int32) throws {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }

    func bindNull(at index: Int32) throws {
        try check(sqlite3_bind_null(statement.sqliteStatement, index), index)
    }

    /// Runs the statement with the values bound, and resets it: SQLite refuses a bind to a statement that was
    /// stepped and not reset (`SQLITE_MISUSE`), and GRDB resets only before it steps. A failed step's error is
    /// thrown by GRDB; the reset's own code repeats it and is not read.
    func execute() throws {
        defer { sqlite3_reset(statement.sqliteStatement) }
        try statement.execute()
    }

    private func check(_ code: Int32, _ index: Int32) throws {
        guard code != SQLITE_OK else { return }
        throw DatabaseError(
            resultCode: ResultCode(rawValue: code), message: "could not bind parameter \(index): \(String(cString: sqlite3_errstr(code)))",
            sql: statement.sql)
    }
}
