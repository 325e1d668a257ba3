import Foundation
import Logging
import Synchronization
import TrellisCore
import TrellisStore

/// This replica's leases on the limits the replicas share through PostgreSQL (`LeaseBook`, behind a lock), and
/// their syncs with the store (`LimitStore.syncLeases`): one round every `limits.sync_interval_ms`
/// (`LimitSyncService`), and one at once when a request finds its lease short while the pool may have tokens.
/// Rounds run one at a time; the requests that ask for one while another waits to start share it, so concurrent
/// misses cost one round trip.
final class LimitSync: Sendable {
    let store: any LimitStore
    /// This process among the replicas: random per start.
    let replica = "r_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
    let startedMs = Int64(Date().timeIntervalSince1970 * 1_000)
    let settings: LeaseBook.Settings
    let clock: @Sendable () -> Double
    let logger: Logger
    /// How long a request waits for the round it asked for before it is decided on what is known.
    let waitLimit: Duration
    private let book: Mutex<LeaseBook>
    private let rounds = SyncRounds()
    private let failing = Mutex(false)
    private let completed = Mutex(0)
    /// Set by `releaseAll`: every round that starts from then on hands every lease back, so that a round already
    /// waiting to start when the process stops (which `releaseAll` shares) is a final one too.
    private let stopping = Mutex(false)

    init(store: any LimitStore, intervalMs: Int, clock: @escaping @Sendable () -> Double, logger: Logger) {
        self.store = store
        self.settings = LeaseBook.Settings(interval: Double(intervalMs) / 1_000)
        self.clock = clock
        self.logger = logger
        self.waitLimit = .milliseconds(max(1_000, 5 * intervalMs))
        self.book = Mutex(LeaseBook(settings: settings))
    }

    /// Live replicas at the last sync (1 until the first).
    var liveReplicas: Int { book.withLock { $0.replicas } }

    /// Rounds that reached the store and came back (a test hook).
    var roundsCompleted: Int { completed.withLock { $0 } }

    /// Takes a request's demands from the leases, syncing first when a lease is short and the pool may have tokens.
    func admit(_ demands: [LeaseDemand]) async -> LeaseBook.Decision {
        let first = book.withLock { $0.admit(demands, now: clock(), mayWait: true) }
        guard case .sync = first else { return first }
        await rounds.awaitNext(within: waitLimit) { await self.round() }
        return book.withLock { $0.admit(demands, now: clock(), mayWait: false) }
    }

    /// A request ended having used `delta` tokens more (negative: fewer) than it reserved.
    func settle(_ demands: [LeaseDemand], delta: Double) {
        guard delta != 0 else { return }
        book.withLock { $0.settle(demands, delta: delta) }
    }

    /// The periodic round, after any round already waiting to start.
    func periodicRound() async {
        await rounds.next { await self.round() }.value
    }

    /// The last round of a process that stops: every lease handed back to the pool. Marks the process as stopping
    /// before it asks for a round, so the round it gets (the one waiting to start, or a new one) reads the mark
    /// when it starts.
    func releaseAll() async {
        stopping.withLock { $0 = true }
        await rounds.next { await self.round() }.value
    }

    /// Whether the previous round failed; records whether this one did.
    private func wasFailing(becomes now: Bool) -> Bool {
        failing.withLock { state in
            let before = state
            state = now
            return before
        }
    }

    /// One sync: the reports made now, the pool's answers applied (or, on failure, what must be reported again kept);
    /// once the process is stopping, every lease handed back.
    func round() async {
        let final = stopping.withLock { $0 }
        let now = clock()
        let reports = book.withLock { final ? $0.releaseAll(now: now) : $0.reports(now: now) }
        let number = completed.withLock { $0 }
        let forfeitMs = Int64(settings.forfeitAfter * 1_000)
        let request = LeaseSync(
            replica: String(replica), startedMs: startedMs, reports: reports, ledger: LeaseLedger(forfeitAfterMs: forfeitMs), liveWithinMs: forfeitMs,
            housekeeping: number % 5_000 == 1)
        do {
            let answer = try await store.syncLeases(request)
            book.withLock { $0.apply(answer.grants, sentAt: now, replicas: answer.liveReplicas) }
            completed.withLock { $0 += 1 }
            if wasFailing(becomes: false) { logger.notice("cluster limits in sync again") }
        } catch {
            book.withLock { $0.failed(reports) }
            if !wasFailing(becomes: true) {
                logger.warning(
                    "cluster limits cannot sync; after the lease validity each replica admits from its share (limits divided by the replicas last seen)",
                    metadata: ["problem": "\(StoreFailure.describe(error))", "validity_ms": "\(Int(settings.leaseValidity * 1_000))"])
            }
        }
    }
}

/// Sync rounds, one at a time. `next` answers a round that starts after the call: the one already waiting to start
/// (it will read the caller's demand when it starts), or a new one queued behind the round running now.
final class SyncRounds: Sendable {
    private struct State {
        var running: Task<Void, Never>?
        var pending: Task<Void, Never>?
    }

    private let state = Mutex(State())

    func next(_ body: @escaping @Sendable () async -> Void) -> Task<Void, Never> {
        state.withLock { s in
            if let pending = s.pending { return pending }
            let previous = s.running
            let task = Task {
                await previous?.value
                self.started()
                await body()
            }
            s.pending = task
            return task
        }
    }

    private func started() {
        state.withLock { s in
            s.running = s.pending
            s.pending = nil
        }
    }

    /// Waits for the next round, at most `limit` (or until the caller is cancelled): then returns at once, and
    /// the round goes on without the caller. (`round.value` does not end on cancellation, and a round may hang
    /// in the store up to its deadline, after the one running before it: a wait that must end with that await, as
    /// in a task group, would last both rounds.)
    func awaitNext(within limit: Duration, _ body: @escaping @Sendable () async -> Void) async {
        let round = next(body)
        _ = try? await withDeadline(limit, onTimeout: { CancellationError() }) { await round.value }
    }
}

/// Runs `LimitSync`'s periodic rounds once the store is started; on graceful shutdown, a last round hands every
/// lease back, so that the other replicas get this one's share at once instead of after the forfeit time.
struct LimitSyncService: PeriodicService {
    let gateway: Gateway
    let sync: LimitSync
    var interval: Duration { .milliseconds(Int64(sync.settings.interval * 1_000)) }
    var waitsBeforeFirstRound: Bool { false }

    func round() async {
        guard gateway.readiness.isStarted else { return }
        await sync.periodicRound()
    }

    func run() async throws {
        await runRounds()
        if gateway.readiness.isStarted { await sync.releaseAll() }
    }
}
