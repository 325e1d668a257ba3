import Foundation
import Logging
import OpenAIWire
import Synchronization
import Testing
import TrellisCore
import TrellisServer
import TrellisStore
import TrellisStoreTestSupport

/// A real store that refuses, on purpose, every batch holding one poisoned request (as PostgreSQL refuses text it
/// cannot hold), or everything while it is "away".
private func refusingStore(_ inner: any TrellisStoreEngine, poisoned: String, away: Bool = false) -> HookedUsageStore {
    HookedUsageStore(inner) { events in
        if away { throw StoreFailure.unavailable() }
        if events.contains(where: { $0.requestID == poisoned }) { throw TrellisError.invalidRequest("refused", code: "invalid_text") }
    }
}

@Suite("Usage rows the store refuses")
struct UsageRecorderRefusalTests {
    static func event(_ i: Int) -> UsageEvent {
        UsageEvent(
            requestID: "req_\(i)", at: Date(timeIntervalSince1970: 1_790_000_000 + Double(i)), endpoint: "/v1/chat/completions",
            tenantID: "tnt_a", keyID: "key_1", endUser: "u\(i % 3)", model: "assistant", modelVersion: 1, upstream: "local",
            promptTokens: 10, completionTokens: 20, estimated: false, latencyMs: 12, ttftMs: nil, status: 200, errorCode: nil, stream: false)
    }

    @Test("a row the store refuses is dropped and counted; the rest of its batch and every later row are written")
    func poisonedRowDoesNotBlockTheRest() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        let dropped = DropCount()
        let recorder = UsageRecorder(
            store: refusingStore(temp.store, poisoned: "req_4"), capacity: 1_000, batchSize: 100, flushInterval: .seconds(60),
            logger: Logger(label: "test"), onDrop: { n, _ in dropped.add(n) })
        for i in 0..<10 { recorder.record(Self.event(i)) }
        await recorder.flush()
        #expect(recorder.writtenCount == 9)
        #expect(recorder.droppedCount == 1)
        #expect(dropped.value == 1)
        #expect(recorder.pendingCount == 0)
        recorder.record(Self.event(10))
        await recorder.flush()
        #expect(recorder.writtenCount == 10)
        #expect(try await temp.store.usageEvents().map(\.requestID).sorted() == (0...10).filter { $0 != 4 }.map { "req_\($0)" }.sorted())
    }

    @Test("an end-user id with a NUL character is refused at the door (400 naming user), on both engines alike")
    func nulUserIsRefused() throws {
        #expect(throws: TrellisError.invalidField("user", "must not contain a NUL character")) { try ChatRequest.endUser(.string("a\u{0}b")) }
        #expect(try ChatRequest.endUser(.string("王小明")) == "王小明")
    }

    @Test("while the store is away a batch waits in the buffer whole: nothing is dropped")
    func unavailableKeepsTheBatch() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        let recorder = UsageRecorder(
            store: refusingStore(temp.store, poisoned: "none", away: true), capacity: 1_000, batchSize: 100, flushInterval: .seconds(60),
            logger: Logger(label: "test"))
        for i in 0..<10 { recorder.record(Self.event(i)) }
        await recorder.flush()
        #expect(recorder.writtenCount == 0)
        #expect(recorder.droppedCount == 0)
        #expect(recorder.pendingCount == 10)
    }
}

private final class DropCount: Sendable {
    private let count = Mutex(0)
    func add(_ n: Int) { count.withLock { $0 += n } }
    var value: Int { count.withLock { $0 } }
}
