import Foundation
import Logging
import OpenAIWire
import Synchronization
import Testing
import TrellisCore
import TrellisStore
import TrellisStoreTestSupport

@testable import TrellisServer

/// Counts a store's usage writes, and runs `during` inside each one, as requests that finish while a batch is on its
/// way to the store record their rows.
private final class FlushProbe: Sendable {
    let writes = Mutex<[Int]>([])
    let during = Mutex<(@Sendable () -> Void)?>(nil)
    let next = Mutex(250)
}

@Suite("Usage flushes under steady traffic")
struct UsageRecorderFlushTests {
    @Test("a flush writes the rows buffered when it began, in full batches; rows recorded meanwhile wait for the next one")
    func flushIsBoundedByWhatWasBuffered() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        let probe = FlushProbe()
        let store = HookedUsageStore(temp.store) { events in
            probe.writes.withLock { $0.append(events.count) }
            probe.during.withLock { $0 }?()
        }
        let recorder = UsageRecorder(
            store: store, capacity: 10_000, batchSize: 100, flushInterval: .seconds(60), logger: Logger(label: "test"))
        for i in 0..<250 { recorder.record(UsageRecorderRefusalTests.event(i)) }
        // Seven rows arrive during every write, for the first 60 writes (a flush that kept taking them would make
        // about 60 writes of 7 rows each).
        probe.during.withLock {
            $0 = {
                let start = probe.next.withLock { n -> Int? in
                    guard n < 250 + 60 * 7 else { return nil }
                    defer { n += 7 }
                    return n
                }
                if let start { for i in start..<start + 7 { recorder.record(UsageRecorderRefusalTests.event(i)) } }
            }
        }
        await recorder.flush()
        #expect(probe.writes.withLock { $0 } == [100, 100, 50])
        #expect(recorder.writtenCount == 250)
        #expect(recorder.pendingCount == 21)

        // The next flush takes the rows that waited, and again only those.
        probe.during.withLock { $0 = nil }
        await recorder.flush()
        #expect(probe.writes.withLock { $0 } == [100, 100, 50, 21])
        #expect(recorder.writtenCount == 271)
        #expect(recorder.pendingCount == 0)
        #expect(try await temp.store.usageEvents().count == 271)
    }

    @Test("a flush returns only once the interactions a concurrent flush took are written")
    func flushWaitsForCapturesAnotherFlushIsWriting() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        // The first flush's interaction write is held until the second flush has written its usage row, and then a
        // little longer: the second flush passes however long that is, while one that did not wait would return
        // first and find the interaction missing.
        let (held, hold) = AsyncStream<Void>.makeStream()
        let (entered, enter) = AsyncStream<Void>.makeStream()
        let store = HookedUsageStore(
            temp.store,
            beforeInteraction: {
                enter.yield()
                for await _ in held { break }
                try? await Task.sleep(for: .milliseconds(100))
            },
            afterInsert: { hold.yield() }, beforeInsert: { _ in })
        let recorder = UsageRecorder(
            store: store, capacity: 100, batchSize: 100, flushInterval: .seconds(60), logger: Logger(label: "test"))
        recorder.capture(
            CapturedInteraction(
                requestID: "req_capture", tenantID: "tnt_a", model: "assistant", modelVersion: 1, messages: ["hello"], answer: "hi",
                retentionDays: 30))
        let first = Task { await recorder.flush() }
        for await _ in entered { break }
        #expect(recorder.pendingCaptures == 0, "the first flush took the interaction")

        recorder.record(UsageRecorderRefusalTests.event(1))
        await recorder.flush()
        #expect(try await temp.store.interactionCount() == 1, "the second flush returned before the interaction was written")
        #expect(try await temp.store.usageEvents().count == 1)
        await first.value
    }
}
