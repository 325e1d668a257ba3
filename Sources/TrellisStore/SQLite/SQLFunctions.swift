import Foundation
import GRDB
import TrellisCore

/// `trellis_hist_merge(blob)`: an SQL aggregate that merges encoded histograms (`Histogram.merge(encoded:)`)
/// into one, so a report groups and merges in one pass over the roll-ups.
struct HistogramMerge: DatabaseAggregate {
    static let function = DatabaseFunction("trellis_hist_merge", argumentCount: 1, pure: true, aggregate: HistogramMerge.self)

    var histogram = Histogram()

    init() {}

    mutating func step(_ values: [DatabaseValue]) throws {
        if let bytes = Data.fromDatabaseValue(values[0]) { histogram.merge(encoded: bytes) }
    }

    func finalize() throws -> (any DatabaseValueConvertible)? {
        Data(histogram.encoded)
    }
}

/// `trellis_users_count(blob)`: the number of distinct end users across `UserSet`s. The hashes are gathered
/// into an array and counted once sorted at the end: appending is several times cheaper than inserting into
/// a hash set, and a month of roll-ups carries hundreds of thousands of them.
struct UserCount: DatabaseAggregate {
    static let function = DatabaseFunction("trellis_users_count", argumentCount: 1, pure: true, aggregate: UserCount.self)

    var hashes: [UInt64] = []

    init() {}

    mutating func step(_ values: [DatabaseValue]) throws {
        if let bytes = Data.fromDatabaseValue(values[0]) { UserSet.append(encoded: bytes, to: &hashes) }
    }

    func finalize() throws -> (any DatabaseValueConvertible)? {
        UserSet.distinctCount(hashes)
    }
}

/// `trellis_users_union(blob)`: the union of `UserSet`s, encoded as one.
struct UserUnion: DatabaseAggregate {
    static let function = DatabaseFunction("trellis_users_union", argumentCount: 1, pure: true, aggregate: UserUnion.self)

    var users = Set<UInt64>()

    init() {}

    mutating func step(_ values: [DatabaseValue]) throws {
        if let bytes = Data.fromDatabaseValue(values[0]) { UserSet.insert(encoded: bytes, into: &users) }
    }

    func finalize() throws -> (any DatabaseValueConvertible)? {
        Data(UserSet.encode(users))
    }
}
