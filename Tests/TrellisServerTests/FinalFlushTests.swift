import Foundation
import Logging
import OpenAIWire
import Testing
import TrellisCore
import TrellisStore
import TrellisStoreTestSupport

@testable import TrellisServer

/// The usage recorder's final flush after a shutdown cut short (a second signal, or the grace time run out):
/// rows of requests still unwinding, and captured interactions, are written too.
@Suite struct FinalFlushTests {
    static func event(_ id: String) -> UsageEvent {
        UsageEvent(
            requestID: id, at: Date(timeIntervalSince1970: 1_790_000_000), endpoint: "chat", tenantID: "tnt_a", keyID: "key_1", endUser: nil,
            model: "assistant", modelVersion: 1, upstream: "local", promptTokens: 10, completionTokens: 20, estimated: false, latencyMs: 12,
            ttftMs: nil, status: 499, errorCode: "client_closed", stream: true)
    }

    static func recorder(_ store: any TrellisStoreEngine, openRowsWait: Duration) -> UsageRecorder {
        UsageRecorder(
            store: store, capacity: 1_000, batchSize: 100, flushInterval: .seconds(3_600), logger: Logger(label: "test"),
            openRowsWait: openRowsWait)
    }

    @Test("cancelled: a row recorded after the final flush began (a stream's relay unwinding) is still written")
    func rowRecordedAfterCancellationIsWritten() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        // A bound far longer than the test: only a final flush that does not wait misses the row.
        let recorder = Self.recorder(temp.store, openRowsWait: .seconds(600))
        let open = recorder.openRow()
        recorder.record(Self.event("req_early"))
        let running = Task { try await recorder.run() }
        running.cancel()
        try await waitUntil { recorder.finalFlushStarted }
        recorder.record(Self.event("req_late"))
        open.close()
        try await running.value
        #expect(recorder.openRows == 0)
        #expect(try await temp.store.usageEvents().map(\.requestID).sorted() == ["req_early", "req_late"])
    }

    @Test("a request that never records does not hold the final flush past its bound; what is buffered is written")
    func openRowWaitIsBounded() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        let recorder = Self.recorder(temp.store, openRowsWait: .milliseconds(20))
        let stuck = recorder.openRow()
        recorder.record(Self.event("req_done"))
        await recorder.flushFinal()
        #expect(recorder.openRows == 1)
        #expect(try await temp.store.usageEvents().map(\.requestID) == ["req_done"])
        stuck.close()
        stuck.close()
        #expect(recorder.openRows == 0, "closed once, however often close is called")
    }

    @Test("an open row is closed when the last copy of what holds it goes away")
    func openRowClosesOnRelease() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        let recorder = Self.recorder(temp.store, openRowsWait: .zero)
        do {
            let row = recorder.openRow()
            #expect(recorder.openRows == 1)
            _ = row
        }
        #expect(recorder.openRows == 0)
    }

    @Test("captured interactions still pending are written by the final flush")
    func capturesAreWrittenByTheFinalFlush() async throws {
        let temp = try TemporaryStore()
        defer { temp.remove() }
        let recorder = Self.recorder(temp.store, openRowsWait: .zero)
        for i in 0..<2 {
            recorder.capture(
                CapturedInteraction(
                    requestID: "req_capture_\(i)", tenantID: "tnt_a", model: "assistant", modelVersion: 1, messages: ["hello"], answer: "hi",
                    retentionDays: 30))
        }
        await recorder.flushFinal()
        #expect(recorder.pendingCaptures == 0)
        // Both were written: purging as if a year had passed finds them.
        #expect(try await temp.store.purgeInteractions(now: Date().addingTimeInterval(365 * 86_400)) == 2)
    }

    @Test("every request's accounting is closed once its row is recorded (plain and streamed answers)")
    func accountingsClose() async throws {
        try await TestGateway.withStandardSetup { gw, _, key in
            let plain = try await gw.request(.POST, "/v1/chat/completions", key: key, json: ShutdownDrainTests.chat("echo"))
            #expect(plain.status == 200)
            let streamed = try await gw.stream("/v1/chat/completions", key: key, json: ShutdownDrainTests.chat("echo", stream: true))
            _ = try await readEvents(streamed)
            // A row being written by a periodic flush is neither pending nor written yet: wait for both to be
            // counted (a row never recorded would keep the count at 1 past the deadline).
            try await waitUntil { gw.gateway.usage.openRows == 0 && gw.gateway.usage.pendingCount + gw.gateway.usage.writtenCount == 2 }
            #expect(gw.gateway.usage.pendingCount + gw.gateway.usage.writtenCount == 2)
        }
    }
}
