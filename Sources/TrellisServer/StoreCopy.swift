import Foundation
import Logging
import TrellisStore

/// `trellis store copy`: a whole deployment from one store to another (SQLite to PostgreSQL and back), table
/// by table in batches, each batch one transaction on the target; then the row counts of every table compared.
/// Keys keep working on the copy: only their digests are stored, and they move unchanged.
///
/// The target must hold no data (its migrations' own rows aside); the source should have no gateway writing to
/// it while it is copied (rows written meanwhile may or may not move; the comparison at the end shows it).
public enum StoreCopy {
    /// How far one table has got.
    public struct Progress: Sendable {
        public var table: String
        public var copied: Int
        public var total: Int
        public var done: Bool
    }

    /// One table's row counts after the copy.
    public struct Count: Sendable, Equatable {
        public var table: String
        public var source: Int
        public var target: Int
        public var matches: Bool { source == target }
    }

    public struct Report: Sendable {
        public var counts: [Count]
        public var matches: Bool { counts.allSatisfy(\.matches) }
    }

    public enum Refusal: Error, Sendable, CustomStringConvertible, Equatable {
        /// The target already holds rows in this table.
        case targetNotEmpty(table: String, rows: Int)
        case sameStore
        /// A SQLite source file that does not exist (opening it would create an empty store).
        case noSource(String)
        case notTransferable(String)

        public var description: String {
            switch self {
            case .targetNotEmpty(let table, let rows):
                "the target already holds data (\(rows) row\(rows == 1 ? "" : "s") in \(table)); copy into a new, empty database"
            case .sameStore: "the source and the target are the same store"
            case .noSource(let path): "there is no SQLite database at \(path)"
            case .notTransferable(let engine): "the store engine \(engine) cannot be copied"
            }
        }
    }

    /// Opens both stores (migrating each: the target's schema is created here), copies, and closes them.
    public static func copy(
        from source: StoreLocation, to target: StoreLocation, batchSize: Int = 2000, logger: Logger = Logger(label: "trellis.store.copy"),
        operationTimeout: Duration = .seconds(120), progress: @Sendable (Progress) -> Void = { _ in }
    ) async throws -> Report {
        guard source != target else { throw Refusal.sameStore }
        if case .sqlite(let path) = source, !FileManager.default.fileExists(atPath: path) { throw Refusal.noSource(path) }
        let from = try makeStore(source, logger: logger, operationTimeout: operationTimeout)
        defer { (from as? PostgresStore)?.shutdown() }
        try await from.prepare()
        let to = try makeStore(target, logger: logger, operationTimeout: operationTimeout)
        defer { (to as? PostgresStore)?.shutdown() }
        try await to.prepare()
        return try await copy(from: from, to: to, batchSize: batchSize, progress: progress)
    }

    /// Copies every table of `source` into `target`, both already migrated.
    public static func copy(
        from source: any TrellisStoreEngine, to target: any TrellisStoreEngine, batchSize: Int = 2000,
        progress: @Sendable (Progress) -> Void = { _ in }
    ) async throws -> Report {
        let reader = try transfer(source)
        let writer = try transfer(target)
        try await refuseData(in: writer)
        let batch = max(1, batchSize)
        var totals: [String: Int] = [:]
        for table in TransferTable.all {
            let total = try await reader.transferCount(table)
            totals[table.name] = total
            var copied = 0
            var after: [TransferValue]?
            while true {
                let rows = try await reader.transferRows(table, after: after, limit: batch)
                guard let last = rows.last else { break }
                try await writer.transferWrite(table, rows: rows)
                copied += rows.count
                after = table.key(of: last)
                if rows.count < batch { break }
                progress(Progress(table: table.name, copied: copied, total: max(total, copied), done: false))
            }
            progress(Progress(table: table.name, copied: copied, total: max(total, copied), done: true))
        }
        try await writer.transferFinish()
        return try await compare(source: reader, target: writer)
    }

    /// The row counts of every table on both sides.
    public static func compare(source: any StoreTransfer, target: any StoreTransfer) async throws -> Report {
        var counts: [Count] = []
        for table in TransferTable.all {
            counts.append(Count(table: table.name, source: try await source.transferCount(table), target: try await target.transferCount(table)))
        }
        return Report(counts: counts)
    }

    /// Refuses a target with any row in a table it would be copied into (the migrations' generations aside).
    static func refuseData(in target: any StoreTransfer) async throws {
        for table in TransferTable.all where !table.mergesOnKey {
            let rows = try await target.transferCount(table)
            if rows > 0 { throw Refusal.targetNotEmpty(table: table.name, rows: rows) }
        }
    }

    static func transfer(_ store: any TrellisStoreEngine) throws -> any StoreTransfer {
        guard let transfer = store as? any StoreTransfer else { throw Refusal.notTransferable("\(type(of: store))") }
        return transfer
    }
}
