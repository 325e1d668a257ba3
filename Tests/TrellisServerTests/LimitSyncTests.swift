import Foundation
import Logging
import Synchronization
import Testing
import TrellisCore
import TrellisStore

@testable import TrellisServer

/// `LimitSync` against a store whose syncs can be held: a request waits for a sync at most its wait limit even
/// when the store never answers, and a process that stops hands its leases back even when a round was already
/// waiting to start.
@Suite("Lease syncs")
struct LimitSyncTests {
    static let demands = [LeaseDemand(bucket: .perMinute("key:k1:rpm", 60), amount: 1, which: .keyRequests)]

    static func sync(_ store: GatedLimitStore) -> LimitSync {
        // 100 ms interval: the wait limit is max(1 s, 5 × 100 ms) = 1 s.
        LimitSync(store: store, intervalMs: 100, clock: { 100 }, logger: Logger(label: "test"))
    }

    @Test("A request whose sync hangs in the store is decided at the wait limit, not when the store answers")
    func requestWaitIsBounded() async throws {
        let store = GatedLimitStore(held: true)
        let sync = Self.sync(store)
        // A periodic round hangs in the store (PostgreSQL blackholed); the request's round queues behind it.
        let periodic = Task { await sync.periodicRound() }
        try await store.waitForCalls(1)
        // The store answers only after 30 s: far beyond the 1 s wait limit, so only the bug can reach it.
        let releaser = Task {
            try? await Task.sleep(for: .seconds(30))
            store.release()
        }
        let decision = await sync.admit(Self.demands)
        let stillHeld = store.isHeld
        store.release()
        releaser.cancel()
        await periodic.value
        #expect(stillHeld, "the request waited until the store answered")
        guard case .refused(let which, _, _) = decision else {
            Issue.record("expected a refusal (nothing known of the pool), got \(decision)")
            return
        }
        #expect(which == .keyRequests)
    }

    @Test("Stopping with a round waiting to start still hands every lease back")
    func releaseAllAfterPendingRound() async throws {
        let store = GatedLimitStore(held: false)
        let sync = Self.sync(store)
        // A lease of 10 requests, one taken.
        guard case .admitted = await sync.admit(Self.demands) else {
            Issue.record("the first request was not admitted")
            return
        }
        store.hold()
        // A periodic round hangs in the store; another waits to start behind it; then the process stops.
        let running = Task { await sync.periodicRound() }
        try await store.waitForCalls(2)
        let pending = Task.immediate { await sync.periodicRound() }
        let stop = Task.immediate { await sync.releaseAll() }
        store.release()
        await running.value
        await pending.value
        await stop.value
        let last = try #require(store.requests.last)
        let report = try #require(last.reports.first { $0.bucket.id == "key:k1:rpm" })
        #expect(report.held == 0 && report.returned > 0 && !report.active, "the last sync was not a release: \(report)")
    }
}

/// A `LimitStore` that records every sync and, while held, does not answer (whether cancelled or not) until
/// released, like a store behind a connection that died without a word. Answers top each reported lease up to
/// 10 with 100 left in the pool.
final class GatedLimitStore: LimitStore {
    private struct State {
        var held: Bool
        var waiting: [CheckedContinuation<Void, Never>] = []
        var requests: [LeaseSync] = []
    }

    private let state: Mutex<State>

    init(held: Bool) {
        state = Mutex(State(held: held))
    }

    var sharesLimits: Bool { true }
    var isHeld: Bool { state.withLock { $0.held } }
    var requests: [LeaseSync] { state.withLock { $0.requests } }

    func hold() {
        state.withLock { $0.held = true }
    }

    func release() {
        let waiting = state.withLock { s in
            s.held = false
            defer { s.waiting = [] }
            return s.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Waits (polling, at most 60 s) until `count` syncs have reached the store.
    func waitForCalls(_ count: Int) async throws {
        let end = ContinuousClock.now + .seconds(60)
        while requests.count < count {
            guard ContinuousClock.now < end else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func syncLeases(_ request: LeaseSync) async throws -> LeaseSyncAnswer {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let answerNow = state.withLock { s in
                s.requests.append(request)
                if s.held { s.waiting.append(continuation) }
                return !s.held
            }
            if answerNow { continuation.resume() }
        }
        let grants = request.reports.map {
            LeaseGrant(bucketID: $0.bucket.id, change: max(0, 10 - $0.held), release: 0, poolLevel: 100, holders: 1, leased: true)
        }
        return LeaseSyncAnswer(grants: grants, liveReplicas: 1)
    }
}
