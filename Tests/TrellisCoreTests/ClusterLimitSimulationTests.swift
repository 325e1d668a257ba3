import Testing
import TrellisCore

/// Three replicas share a 120 requests/minute bucket through the ledger, under random arrivals, sync orders and
/// store delays: over 20 s they admit no more than one process would (the 120 burst and 2 per second, 160), and
/// not much less. Lost answers and an outage of the store only ever make them admit less.
@Suite("Cluster limits, simulated")
struct ClusterLimitSimulationTests {
    static let singleProcessBound = 120 + 2 * 20

    static func simulation(seed: UInt64) -> LeaseSimulation {
        var sim = LeaseSimulation(seed: seed, replicas: 3, rpm: 120, intervalMs: 200)
        sim.lossChance = 0
        return sim
    }

    @Test("saturated: at most the single-process bound, at least 90% of it", arguments: Array(UInt64(1)...UInt64(30)))
    func saturated(seed: UInt64) {
        var sim = Self.simulation(seed: seed)
        sim.run(durationMs: 20_000, gapMs: 20)
        #expect(sim.admitted <= Self.singleProcessBound, "seed \(seed): \(sim.admitted) admitted")
        #expect(sim.admitted >= Self.singleProcessBound * 90 / 100, "seed \(seed): \(sim.admitted) admitted, \(sim.refused) refused")
    }

    @Test("a slow store that loses answers (committed or not): never above the bound", arguments: Array(UInt64(100)...UInt64(120)))
    func slowAndLossy(seed: UInt64) {
        var sim = Self.simulation(seed: seed)
        sim.maxDelayMs = 900
        sim.lossChance = 0.3
        sim.run(durationMs: 20_000, gapMs: 5)
        #expect(sim.admitted <= Self.singleProcessBound, "seed \(seed): \(sim.admitted) admitted")
    }

    @Test("the store away for 8 s: each replica admits from its third, and the cluster stays within the bound", arguments: Array(UInt64(200)...UInt64(215)))
    func outage(seed: UInt64) {
        var sim = Self.simulation(seed: seed)
        sim.outage = 6_000..<14_000
        sim.run(durationMs: 20_000, gapMs: 20)
        #expect(sim.admitted <= Self.singleProcessBound, "seed \(seed): \(sim.admitted) admitted")
        #expect(sim.admitted >= Self.singleProcessBound * 70 / 100, "seed \(seed): \(sim.admitted) admitted")
    }

    @Test(
        "a bucket forgotten as idle and first met again while the store is away: one share of capacity/N per replica, however many syncs fail",
        arguments: Array(UInt64(400)...UInt64(410)))
    func firstMetDuringOutage(seed: UInt64) {
        var sim = Self.simulation(seed: seed)
        sim.quiet = 2_000..<16_000
        sim.outage = 14_000..<30_000
        sim.run(durationMs: 40_000, gapMs: 20)
        // C + r·t + k·C/N_seen over the 40 s, k = 3 replicas meeting the bucket in the outage: 120 + 80 + 3 × 40.
        #expect(sim.admitted <= 120 + 2 * 40 + 3 * 40, "seed \(seed): \(sim.admitted) admitted")
        // After the store is back, the pool and leases are in debt at most by the outage's overshoot (3 × 40 and the
        // refill at a third of the rate each for 16 s), not by a share for every failed sync.
        let left = sim.pools.values.map { $0.level + sim.holdings.values.joined().reduce(0) { $0 + $1.held } }
        #expect(left.allSatisfy { $0 >= -(3 * 40 + 2 * 16) }, "seed \(seed): \(left) left in the pool and leases")
    }

    @Test("light traffic below the limit is all admitted", arguments: Array(UInt64(300)...UInt64(305)))
    func light(seed: UInt64) {
        var sim = Self.simulation(seed: seed)
        sim.run(durationMs: 20_000, gapMs: 400)
        #expect(sim.refused == 0 && sim.admitted > 20, "\(sim.admitted) admitted, \(sim.refused) refused")
    }
}
