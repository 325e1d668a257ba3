import TrellisCore

/// A seeded generator, so that a failing interleaving can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Replicas sharing buckets through an in-memory pool, driven by discrete events at random times: requests arrive
/// at random replicas; each replica syncs every interval (jittered) and at once when a request asks; a sync's
/// reports are made when it starts, committed to the pool after a random delay, and applied after another (or lost:
/// the commit may or may not have happened). Time is milliseconds, the pool's clock and every replica's alike.
struct LeaseSimulation {
    struct Replica {
        var book: LeaseBook
        var syncing = false
        var wantsSync = false
        /// Requests waiting for a sync that started after they arrived: (arrival, the round they wait for).
        var waiting: [(at: Int64, round: Int)] = []
        var rounds = 0
        var applied = 0
    }

    enum Event {
        case arrival(replica: Int)
        case periodic(replica: Int)
        case commit(replica: Int, reports: [LeaseReport], sentAt: Int64, round: Int, lost: Bool)
        case apply(replica: Int, grants: [LeaseGrant]?, sentAt: Int64, round: Int, replicas: Int)
        case deadline(replica: Int, arrival: Int64)
    }

    var rng: SplitMix64
    let ledger: LeaseLedger
    let demand: LeaseDemand
    let intervalMs: Int64
    var replicas: [Replica]
    var pools: [String: LeasePool] = [:]
    var holdings: [String: [LeaseHolding]] = [:]
    var events: [(at: Int64, seq: Int, event: Event)] = []
    var seq = 0
    var admitted = 0
    var refused = 0
    /// Chance that a sync's answer is lost (after or before its commit), and the longest store delay.
    var lossChance = 0.05
    var maxDelayMs: Int64 = 120
    var deadlineMs: Int64 = 300
    /// While the clock is in this range, every sync fails without reaching the store.
    var outage: Range<Int64>?
    /// No requests arrive while the clock is in this range.
    var quiet: Range<Int64>?

    init(seed: UInt64, replicas n: Int, rpm: Int, intervalMs: Int64) {
        rng = SplitMix64(state: seed)
        self.intervalMs = intervalMs
        let settings = LeaseBook.Settings(interval: Double(intervalMs) / 1_000)
        ledger = LeaseLedger(forfeitAfterMs: Int64(settings.forfeitAfter * 1_000))
        demand = LeaseDemand(bucket: .perMinute("key:k:rpm", rpm), amount: 1, which: .keyRequests)
        replicas = Array(repeating: Replica(book: LeaseBook(settings: settings)), count: n)
    }

    mutating func schedule(_ at: Int64, _ event: Event) {
        seq += 1
        let index = events.firstIndex { $0.at > at } ?? events.count
        events.insert((at, seq, event), at: index)
    }

    /// Runs `durationMs` with requests arriving every `gapMs` on average at uniformly random replicas.
    mutating func run(durationMs: Int64, gapMs: Int64) {
        for r in replicas.indices { schedule(Int64.random(in: 0..<intervalMs, using: &rng), .periodic(replica: r)) }
        var t: Int64 = 0
        while t < durationMs {
            let replica = Int.random(in: 0..<replicas.count, using: &rng)
            if !(quiet?.contains(t) ?? false) { schedule(t, .arrival(replica: replica)) }
            t += Int64.random(in: 1...(2 * gapMs), using: &rng)
        }
        while !events.isEmpty {
            let (at, _, event) = events.removeFirst()
            guard at <= durationMs else { continue }
            handle(event, at: at)
        }
    }

    mutating func handle(_ event: Event, at now: Int64) {
        switch event {
        case .arrival(let r):
            decide(r, now: now, mayWait: true)
        case .periodic(let r):
            startSync(r, now: now)
            schedule(now + intervalMs + Int64.random(in: -intervalMs / 4...intervalMs / 4, using: &rng), .periodic(replica: r))
        case .commit(let r, let reports, let sentAt, let round, let lost):
            let grants = reports.map { commit($0, replica: r, now: now) }
            let live = replicas.count
            schedule(
                now + Int64.random(in: 0...maxDelayMs / 2, using: &rng),
                .apply(replica: r, grants: lost ? nil : grants, sentAt: sentAt, round: round, replicas: live))
        case .apply(let r, let grants, let sentAt, let round, let live):
            finishSync(r, grants: grants, reportsSentAt: sentAt, round: round, replicas: live, now: now)
        case .deadline(let r, let arrival):
            if let index = replicas[r].waiting.firstIndex(where: { $0.at == arrival }) {
                replicas[r].waiting.remove(at: index)
                decide(r, now: now, mayWait: false)
            }
        }
    }

    mutating func decide(_ r: Int, now: Int64, mayWait: Bool) {
        switch replicas[r].book.admit([demand], now: Double(now) / 1_000, mayWait: mayWait) {
        case .admitted:
            admitted += 1
        case .refused:
            refused += 1
        case .sync:
            replicas[r].waiting.append((now, replicas[r].rounds + 1))
            schedule(now + deadlineMs, .deadline(replica: r, arrival: now))
            if replicas[r].syncing { replicas[r].wantsSync = true } else { startSync(r, now: now) }
        }
    }

    mutating func startSync(_ r: Int, now: Int64) {
        guard !replicas[r].syncing else {
            replicas[r].wantsSync = true
            return
        }
        replicas[r].syncing = true
        replicas[r].rounds += 1
        let reports = replicas[r].book.reports(now: Double(now) / 1_000)
        // A lost answer: half the time the commit happened anyway.
        let down = outage?.contains(now) ?? false
        let lost = down || Double.random(in: 0..<1, using: &rng) < lossChance
        let commits = !down && (!lost || Bool.random(using: &rng))
        let at = now + Int64.random(in: 0...maxDelayMs / 2, using: &rng)
        if commits {
            schedule(at, .commit(replica: r, reports: reports, sentAt: now, round: replicas[r].rounds, lost: lost))
        } else {
            schedule(at, .apply(replica: r, grants: nil, sentAt: now, round: replicas[r].rounds, replicas: replicas.count))
            failedReports[r] = reports
        }
        pendingReports[r] = reports
    }

    var pendingReports: [Int: [LeaseReport]] = [:]
    var failedReports: [Int: [LeaseReport]] = [:]

    mutating func finishSync(_ r: Int, grants: [LeaseGrant]?, reportsSentAt: Int64, round: Int, replicas live: Int, now: Int64) {
        if let grants {
            replicas[r].book.apply(grants, sentAt: Double(reportsSentAt) / 1_000, replicas: live)
        } else {
            replicas[r].book.failed(pendingReports[r] ?? [])
        }
        replicas[r].syncing = false
        let ready = replicas[r].waiting.filter { $0.round <= round }
        replicas[r].waiting.removeAll { $0.round <= round }
        for _ in ready { decide(r, now: now, mayWait: false) }
        if replicas[r].wantsSync {
            replicas[r].wantsSync = false
            startSync(r, now: now)
        }
    }

    /// The store's side of one report: the ledger on the pool and leases, as one transaction.
    mutating func commit(_ report: LeaseReport, replica r: Int, now: Int64) -> LeaseGrant {
        let id = report.bucket.id
        let outcome = ledger.sync(pool: pools[id], holdings: holdings[id] ?? [], report: report, replica: "r\(r)", nowMs: now, replicas: replicas.count)
        pools[id] = outcome.pool
        var rows = (holdings[id] ?? []).filter { $0.replica != "r\(r)" && !outcome.forfeited.contains($0.replica) }
        if let lease = outcome.lease { rows.append(lease) }
        holdings[id] = rows
        return outcome.grant
    }
}
