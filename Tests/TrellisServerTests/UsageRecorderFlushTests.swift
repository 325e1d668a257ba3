import Foundation
import Logging
import OpenAIWire
import Synchronization
import Testing
import TrellisCore
import TrellisServer
import TrellisStore
import TrellisStoreTestSupport

/// A real store that runs `during` inside each batch write, as requests that finish while a batch is on its way to
/// the store record their rows; counts the writes.
private final class ArrivingStore: UsageStore, FlywheelStore, Sendable {
    let inner: any TrellisStoreEngine
    let writes = Mutex<[Int]>([])
    let during = Mutex<(@Sendable () -> Void)?>(nil)

    init(_ inner: any TrellisStoreEngine) { self.inner = inner }

    func insertUsage(_ events: [UsageEvent]) async throws {
        writes.withLock { $0.append(events.count) }
        during.withLock { $0 }?()
        try await inner.insertUsage(events)
    }
    func tokensThisMonth(_ month: String) async throws -> [String: Int] { try await inner.tokensThisMonth(month) }
    func usageReport(_ query: UsageQuery) async throws -> [UsageRow] { try await inner.usageReport(query) }
    func usageOwner(requestID: String) async throws -> UsageOwner? { try await inner.usageOwner(requestID: requestID) }
    func insertFeedback(
        requestID: String, owner: UsageOwner, keyID: String, rating: Int, comment: String?, correction: String?, now: Date
    ) async throws -> Int64 {
        try await inner.insertFeedback(requestID: requestID, owner: owner, keyID: keyID, rating: rating, comment: comment, correction: correction, now: now)
    }
    func insertInteraction(
        requestID: String, tenantID: String, model: String, modelVersion: Int?, messages: JSONValue, answer: String, retentionDays: Int, now: Date
    ) async throws {
        try await inner.insertInteraction(
            requestID: requestID, tenantID: tenantID, model: model, modelVersion: modelVersion, messages: messages, answer: answer,
            retentionDays: retentionDays, now: now)
    }
    func purgeInteractions(now: Date) async throws -> Int { try await inner.purgeInteractions(now: now) }
    func ratedInteractions(tenantID: String?, model: String?, afterRequestID: String?, limit: Int) async throws -> [RatedInteraction] {
        try await inner.ratedInteractions(tenantID: tenantID, model: model, afterRequestID: afterRequestID, limit: limit)
    }
}

@Suite("Usage flushes under steady traffic")
struct UsageRecorderFlushTests {
    @Test("a flush writes the rows buffered when it began, in full batches; rows recorded meanwhile wait for the next one")
    func flushIsBoundedByWhatWasBuffered() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        let store = ArrivingStore(temp.store)
        let recorder = UsageRecorder(
            store: store, capacity: 10_000, batchSize: 100, flushInterval: .seconds(60), logger: Logger(label: "test"))
        for i in 0..<250 { recorder.record(UsageRecorderRefusalTests.event(i)) }
        // Seven rows arrive during every write, for the first 60 writes (a flush that kept taking them would make
        // about 60 writes of 7 rows each).
        let next = Mutex(250)
        store.during.withLock {
            $0 = {
                let start = next.withLock { n -> Int? in
                    guard n < 250 + 60 * 7 else { return nil }
                    defer { n += 7 }
                    return n
                }
                if let start { for i in start..<start + 7 { recorder.record(UsageRecorderRefusalTests.event(i)) } }
            }
        }
        await recorder.flush()
        #expect(store.writes.withLock { $0 } == [100, 100, 50])
        #expect(recorder.writtenCount == 250)
        #expect(recorder.pendingCount == 21)

        // The next flush takes the rows that waited, and again only those.
        store.during.withLock { $0 = nil }
        await recorder.flush()
        #expect(store.writes.withLock { $0 } == [100, 100, 50, 21])
        #expect(recorder.writtenCount == 271)
        #expect(recorder.pendingCount == 0)
        #expect(try await temp.store.usageEvents().count == 271)
    }
}
