import Foundation
import GRDB
import Testing

@testable import TrellisStore

@Suite("StatementBindings: values bound straight to a prepared SQLite statement")
struct StatementBindingsTests {
    private static let schema = """
        CREATE TABLE t (
            n INTEGER NOT NULL, big INTEGER, flag INTEGER, real REAL, text TEXT, maybe_text TEXT, maybe_int INTEGER, maybe_real REAL)
        """
    private static let insert = "INSERT INTO t (n, big, flag, real, text, maybe_text, maybe_int, maybe_real) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"

    private struct Values {
        var n: Int
        var big: Int64
        var flag: Bool
        var real: Double
        var text: String
        var maybeText: String?
        var maybeInt: Int?
        var maybeReal: Double?
    }

    private static func bind(_ v: Values, _ bindings: StatementBindings) throws {
        try bindings.bind(v.n, at: 1)
        try bindings.bind(v.big, at: 2)
        try bindings.bind(v.flag, at: 3)
        try bindings.bind(v.real, at: 4)
        try bindings.bind(v.text, at: 5)
        try bindings.bind(v.maybeText, at: 6)
        try bindings.bind(v.maybeInt, at: 7)
        try bindings.bind(v.maybeReal, at: 8)
    }

    /// Each Swift type lands as the SQLite type GRDB's own binding gives it, texts with their exact bytes (an
    /// empty text is not NULL; a NUL inside a text is kept, which a length taken by `strlen` would cut), and a
    /// row of NULLs after a row of values keeps none of them.
    @Test func valuesRoundTripWithTheirTypesAndNothingLeftFromTheRowBefore() throws {
        let queue = try DatabaseQueue()
        let rows = try queue.write { db in
            try db.execute(sql: Self.schema)
            let bindings = try StatementBindings(db.cachedStatement(sql: Self.insert))
            let values = [
                Values(
                    n: -7, big: Int64.max, flag: true, real: 123.5, text: "王小明 😀", maybeText: "a\u{0}b", maybeInt: 42, maybeReal: 0.25),
                Values(n: 0, big: Int64.min, flag: false, real: -0.5, text: "", maybeText: nil, maybeInt: nil, maybeReal: nil),
            ]
            for v in values {
                try Self.bind(v, bindings)
                try bindings.execute()
            }
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT n, big, flag, typeof(flag) AS flag_type, real, typeof(real) AS real_type, text, typeof(text) AS text_type,
                        length(CAST(maybe_text AS BLOB)) AS maybe_text_bytes, typeof(maybe_text) AS maybe_text_type, maybe_int, maybe_real
                    FROM t ORDER BY rowid
                    """)
        }
        try #require(rows.count == 2)
        let full = rows[0]
        #expect(full["n"] as Int == -7)
        #expect(full["big"] as Int64 == Int64.max)
        #expect(full["flag"] as Int == 1)
        #expect(full["flag_type"] as String == "integer")
        #expect(full["real"] as Double == 123.5)
        #expect(full["real_type"] as String == "real")
        #expect(full["text"] as String == "王小明 😀")
        #expect(full["maybe_text_bytes"] as Int == 3)
        #expect(full["maybe_int"] as Int? == 42)
        #expect(full["maybe_real"] as Double? == 0.25)

        let empty = rows[1]
        #expect(empty["n"] as Int == 0)
        #expect(empty["big"] as Int64 == Int64.min)
        #expect(empty["flag"] as Int == 0)
        #expect(empty["text"] as String == "")
        #expect(empty["text_type"] as String == "text")
        #expect(empty["maybe_text_type"] as String == "null")
        #expect(empty["maybe_int"] as Int? == nil)
        #expect(empty["maybe_real"] as Double? == nil)
    }

    /// A parameter that does not exist is an error, not a crash; a row the table refuses is a `DatabaseError`,
    /// and the statement takes the next row after it.
    @Test func errorsAreDatabaseErrorsAndTheStatementGoesOn() throws {
        let queue = try DatabaseQueue()
        let count = try queue.write { db -> Int in
            try db.execute(sql: Self.schema)
            let bindings = try StatementBindings(db.cachedStatement(sql: Self.insert))
            #expect {
                try bindings.bind(1, at: 9)
            } throws: { error in
                (error as? DatabaseError)?.resultCode == .SQLITE_RANGE
            }
            #expect {
                try bindings.bind("x", at: 0)
            } throws: { error in
                (error as? DatabaseError)?.resultCode == .SQLITE_RANGE
            }

            let good = Values(n: 1, big: 2, flag: true, real: 3, text: "t", maybeText: nil, maybeInt: nil, maybeReal: nil)
            try Self.bind(good, bindings)
            try bindings.bindNull(at: 1)  // n is NOT NULL
            #expect {
                try bindings.execute()
            } throws: { error in
                (error as? DatabaseError)?.resultCode == .SQLITE_CONSTRAINT
            }
            try Self.bind(good, bindings)
            try bindings.execute()
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t WHERE n = 1 AND text = 't'") ?? -1
        }
        #expect(count == 1)
    }
}
