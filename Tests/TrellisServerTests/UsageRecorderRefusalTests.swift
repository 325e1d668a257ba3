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
private final class RefusingStore: UsageStore, FlywheelStore, Sendable {
    let inner: any TrellisStoreEngine
    let poisoned: String
    let away: Bool

    init(_ inner: any TrellisStoreEngine, poisoned: String, away: Bool = false) {
        self.inner = inner
        self.poisoned = poisoned
        self.away = away
    }

    func insertUsage(_ events: [UsageEvent]) async throws {
        if away { throw StoreFailure.unavailable() }
        if events.contains(where: { $0.requestID == poisoned }) { throw TrellisError.invalidRequest("refused", code: "invalid_text") }
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
            store: RefusingStore(temp.store, poisoned: "req_4"), capacity: 1_000, batchSize: 100, flushInterval: .seconds(60),
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
            store: RefusingStore(temp.store, poisoned: "none", away: true), capacity: 1_000, batchSize: 100, flushInterval: .seconds(60),
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
