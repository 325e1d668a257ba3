import Foundation
import OpenAIWire
import Synchronization
import Testing
import TrellisCore
import TrellisServer
import TrellisStore
import TrellisStoreTestSupport

/// `trellis store copy`: a deployment filled through the store's own operations moves SQLite → PostgreSQL →
/// SQLite, row for row, and reads the same through the store's operations on every engine.
@Suite("Store copy between engines")
struct StoreCopyTests {
    static let at = Date(timeIntervalSince1970: 1_764_547_200)  // 2025-12-01

    @Test("SQLite to PostgreSQL and back: every table, every row, the same answers through the store; keys keep working")
    func roundTrip() async throws {
        let source = try await StoreEngineFactory.sqlite.make()
        defer { source.remove() }
        let secret = try await Self.fill(source.store)
        let sourceDump = try await Self.dump(source.store)
        for table in TransferTable.all {
            #expect(sourceDump[table.name]?.isEmpty == false, "the filled store has rows in \(table.name)")
        }

        let postgres = try await StoreEngineFactory.postgres.make()
        defer { postgres.remove() }
        let progress = ProgressLog()
        let report = try await StoreCopy.copy(from: source.store, to: postgres.store, batchSize: 3, progress: { progress.append($0) })
        #expect(report.matches, "row counts: \(report.counts)")
        #expect(report.counts.map(\.table) == TransferTable.all.map(\.name))
        #expect(report.counts.first { $0.table == "usage" }?.source == 8)
        // Small batches: progress lines as the rows move, one final line per table.
        let lines = progress.entries
        #expect(lines.filter(\.done).map(\.table) == TransferTable.all.map(\.name))
        #expect(lines.contains { $0.table == "usage" && !$0.done && $0.copied == 3 && $0.total == 8 })
        #expect(try await Self.dump(postgres.store) == sourceDump, "every row moved unchanged")
        try await Self.expectSameAnswers(source.store, postgres.store, secret: secret)

        let back = try await StoreEngineFactory.sqlite.make()
        defer { back.remove() }
        let again = try await StoreCopy.copy(from: postgres.store, to: back.store, batchSize: 1000)
        #expect(again.matches, "row counts: \(again.counts)")
        #expect(try await Self.dump(back.store) == sourceDump, "and back again")
        try await Self.expectSameAnswers(source.store, back.store, secret: secret)
    }

    @Test("after a copy to PostgreSQL, new rows take ids after the copied ones (identity sequences moved on)")
    func newRowsAfterCopy() async throws {
        let source = try await StoreEngineFactory.sqlite.make()
        defer { source.remove() }
        _ = try await Self.fill(source.store)
        let postgres = try await StoreEngineFactory.postgres.make()
        defer { postgres.remove() }
        _ = try await StoreCopy.copy(from: source.store, to: postgres.store)
        let before = try await Self.dump(postgres.store)

        let store = postgres.store
        _ = try await store.createTenant(name: "initech", actor: "test", now: Self.at)  // an audit row
        try await store.insertUsage([Self.usage(100, tenantID: "tnt_x", endUser: nil)])
        let owner = try #require(try await store.usageOwner(requestID: "req_100"))
        _ = try await store.insertFeedback(requestID: "req_100", owner: owner, keyID: owner.keyID, rating: 1, comment: nil, correction: nil, now: Self.at)
        let kb = try #require(try await store.loadSnapshot(now: Self.at).allKnowledgeBases.first)
        let write = try await store.insertDocument(
            knowledgeBase: kb, title: "new", contentType: "text/plain", sha256: "new", bytes: 3, metadata: nil, chunks: [Self.chunk(0, "fresh rows")],
            actor: "test", now: Self.at)
        let after = try await Self.dump(store)
        for table in ["audit_log", "usage", "feedback", "chunks"] {
            let oldIDs = Set(before[table, default: []].map { $0[0] })
            let newIDs = Set(after[table, default: []].map { $0[0] }).subtracting(oldIDs)
            #expect(!newIDs.isEmpty, "\(table) has a new row")
            let largest = oldIDs.compactMap { value -> Int64? in if case .integer(let id) = value { id } else { nil } }.max() ?? 0
            for case .integer(let id) in newIDs { #expect(id > largest, "\(table): a new id after the copied ones") }
        }
        #expect(write.chunkIDs.count == 1)
    }

    @Test("a target that holds data is refused, names the table and is left unchanged")
    func refusesATargetWithData() async throws {
        let source = try await StoreEngineFactory.sqlite.make()
        defer { source.remove() }
        _ = try await Self.fill(source.store)
        let postgres = try await StoreEngineFactory.postgres.make()
        defer { postgres.remove() }
        _ = try await StoreCopy.copy(from: source.store, to: postgres.store)
        let copied = try await Self.dump(postgres.store)

        let refusal = await #expect(throws: StoreCopy.Refusal.self) {
            _ = try await StoreCopy.copy(from: source.store, to: postgres.store)
        }
        #expect(refusal == .targetNotEmpty(table: "tenants", rows: 2))
        #expect(try await Self.dump(postgres.store) == copied, "nothing written")

        // Any table counts, not only the catalog's: a store with nothing but usage rows is not empty.
        let usageOnly = try await StoreEngineFactory.sqlite.make()
        defer { usageOnly.remove() }
        try await usageOnly.store.insertUsage([Self.usage(1, tenantID: "tnt_x", endUser: nil)])
        let before = try await Self.dump(usageOnly.store)
        let second = await #expect(throws: StoreCopy.Refusal.self) {
            _ = try await StoreCopy.copy(from: postgres.store, to: usageOnly.store)
        }
        #expect(second == .targetNotEmpty(table: "usage", rows: 1))
        #expect(try await Self.dump(usageOnly.store) == before)
    }

    @Test("copying a store onto itself is refused before anything is opened")
    func refusesTheSameStore() async throws {
        let location = StoreLocation.sqlite(path: "/nonexistent/trellis.sqlite")
        await #expect(throws: StoreCopy.Refusal.sameStore) {
            _ = try await StoreCopy.copy(from: location, to: location)
        }
    }

    @Test("a SQLite source that does not exist is refused, and not created (it would copy an empty store)")
    func refusesAMissingSource() async throws {
        let target = try await StoreEngineFactory.sqlite.make()
        defer { target.remove() }
        let missing = target.directory.appendingPathComponent("typo.sqlite").path
        await #expect(throws: StoreCopy.Refusal.noSource(missing)) {
            _ = try await StoreCopy.copy(from: .sqlite(path: missing), to: target.location)
        }
        #expect(!FileManager.default.fileExists(atPath: missing))
    }
}

/// Progress reports, collected across the copy's calls.
final class ProgressLog: Sendable {
    private let stored = Mutex<[StoreCopy.Progress]>([])

    func append(_ progress: StoreCopy.Progress) { stored.withLock { $0.append(progress) } }
    var entries: [StoreCopy.Progress] { stored.withLock { $0 } }
}
