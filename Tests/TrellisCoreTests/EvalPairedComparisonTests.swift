import Foundation
import OpenAIWire
import Testing
import TrellisCore

/// Paired comparison of two versions' scores, its t interval, and latency percentiles.
@Suite struct PairedComparisonTests {
    @Test(arguments: [
        // (p, df, t) from standard t tables.
        (0.975, 1, 12.7062), (0.975, 2, 4.3027), (0.975, 3, 3.1824), (0.975, 9, 2.2622), (0.975, 29, 2.0452),
        (0.975, 60, 2.0003), (0.975, 120, 1.9799), (0.975, 1_000_000, 1.9600), (0.95, 10, 1.8125), (0.995, 29, 2.7564),
        (0.995, 1, 63.6567), (0.9995, 5, 6.8688), (0.995, 500, 2.5857), (0.975, 1_000, 1.9623), (0.9, 4, 1.5332),
    ])
    func tQuantileMatchesTables(p: Double, df: Int, t: Double) {
        #expect(abs(PairedComparison.tQuantile(p, degreesOfFreedom: df) - t) < 1e-3, "t(\(p), \(df))")
    }

    @Test func tQuantileMatchesClosedForms() {
        // df = 1 is the Cauchy distribution, t = tan(π(p − ½)); df = 2 has t = (2p − 1) / √(2p(1 − p)).
        for p in stride(from: 0.51, through: 0.999, by: 0.037) {
            let cauchy = tan(Double.pi * (p - 0.5))
            #expect(abs(PairedComparison.tQuantile(p, degreesOfFreedom: 1) - cauchy) < 1e-6 * max(1, cauchy), "df 1, p \(p)")
            let two = (2 * p - 1) / (2 * p * (1 - p)).squareRoot()
            #expect(abs(PairedComparison.tQuantile(p, degreesOfFreedom: 2) - two) < 1e-6 * max(1, two), "df 2, p \(p)")
        }
    }

    @Test func tQuantileIsSymmetricAndContinuousAcrossMethods() {
        #expect(PairedComparison.tQuantile(0.5, degreesOfFreedom: 7) == 0)
        #expect(PairedComparison.tQuantile(0.025, degreesOfFreedom: 9) == -PairedComparison.tQuantile(0.975, degreesOfFreedom: 9))
        #expect(PairedComparison.tQuantile(0, degreesOfFreedom: 3) == -.infinity)
        #expect(PairedComparison.tQuantile(1, degreesOfFreedom: 3) == .infinity)
        // The exact inversion (≤ 300) and the expansion (> 300) agree at the switch.
        for p in [0.9, 0.975, 0.995, 0.9995] {
            let exact = PairedComparison.tQuantile(p, degreesOfFreedom: 300)
            let expanded = PairedComparison.tQuantile(p, degreesOfFreedom: 301)
            #expect(exact > expanded && exact - expanded < 5e-4, "p \(p)")
        }
    }

    @Test func handComputedExample() {
        // Differences b − a: 0.1, 0.2, 0, 0.2. Mean 0.125; squared deviations sum to 0.0275, s² = 0.0275 / 3,
        // s = 0.095743, s/√4 = 0.047871; t(0.975, 3) = 3.182446, half-width 0.152348.
        let c = PairedComparison.compare([0.5, 0.6, 0.7, 0.8], [0.6, 0.8, 0.7, 1.0])
        #expect(c.n == 4 && c.better == 3 && c.worse == 0 && c.same == 1)
        #expect(abs((c.meanDifference ?? 0) - 0.125) < 1e-9)
        #expect(abs((c.ciLow ?? 0) - (0.125 - 0.152348)) < 1e-5)
        #expect(abs((c.ciHigh ?? 0) - (0.125 + 0.152348)) < 1e-5)
        #expect(!c.significant, "the interval holds 0")
        let expected: JSONValue = [
            "n": 4, "better": 3, "worse": 0, "same": 1, "mean_difference": 0.125, "ci_low": -0.027348, "ci_high": 0.277348, "confidence": 0.95,
            "significant": false,
        ]
        #expect(c.json == expected)
    }

    @Test func passFailImprovementIsSignificant() {
        // Ten 0/1 items: seven go from fail to pass, three stay. Mean 0.7, s = √(2.1 / 9) = 0.483046, s/√10 =
        // 0.152753; t(0.975, 9) = 2.262157, half-width 0.345550.
        let a: [Double?] = Array(repeating: 0, count: 10)
        let b: [Double?] = [1, 0, 1, 1, 0, 1, 0, 1, 1, 1]
        let c = PairedComparison.compare(a, b)
        #expect(c.better == 7 && c.same == 3 && c.worse == 0)
        #expect(abs((c.ciLow ?? 0) - 0.354450) < 1e-5)
        #expect(abs((c.ciHigh ?? 0) - 1.045550) < 1e-5)
        #expect(c.significant)
        // Swapping the versions mirrors everything.
        let back = PairedComparison.compare(b, a)
        #expect(back.worse == 7 && back.better == 0)
        #expect(abs((back.ciHigh ?? 0) + 0.354450) < 1e-5 && back.significant)
        // At 99% the interval is wider: t(0.995, 9) = 3.249836.
        let wide = PairedComparison.compare(a, b, confidence: 0.99)
        #expect(abs((wide.ciLow ?? 0) - (0.7 - 3.249836 * 0.152753)) < 1e-5)
    }

    @Test func failedItemsAreSkippedPairwise() {
        let c = PairedComparison.compare([1, nil, 0, 0.5, .nan], [1, 1, nil, 0.75, 1])
        #expect(c.n == 2, "only items 0 and 3 have both scores")
        #expect(c.same == 1 && c.better == 1)
        #expect(PairedComparison.compare([1, 1, 1], [1]).n == 1, "items past the shorter list are left out")
    }

    @Test func smallAndDegenerateSamples() {
        let none = PairedComparison.compare([], [])
        #expect(none.n == 0 && none.meanDifference == nil && none.ciLow == nil && !none.significant)
        #expect(none.json["mean_difference"] == .null)
        let one = PairedComparison.compare([0.25], [0.75])
        #expect(one.n == 1 && one.meanDifference == 0.5 && one.ciLow == nil && one.ciHigh == nil && !one.significant)
        let equal = PairedComparison.compare([0, 0, 0], [0.5, 0.5, 0.5])
        #expect(equal.ciLow == 0.5 && equal.ciHigh == 0.5, "all differences equal: a zero-width interval at the mean")
        #expect(equal.significant)
        let unchanged = PairedComparison.compare([0.3, 0.9], [0.3, 0.9])
        #expect(unchanged.same == 2 && unchanged.ciLow == 0 && unchanged.ciHigh == 0 && !unchanged.significant)
        #expect(PairedComparison.compare([0, 1], [1, 1], confidence: 7).confidence == 0.95, "an impossible level falls back to 0.95")
    }

    @Test func nearestRankPercentiles() throws {
        let latencies = Array(1...100).shuffled()
        let s = try #require(EvalPercentiles.summary(latencies))
        #expect(s.p50 == 50 && s.p90 == 90 && s.p99 == 99)
        #expect(EvalPercentiles.nearestRank(50, of: [120, 80]) == 80, "the p50 of two is the faster, never a mean")
        #expect(EvalPercentiles.nearestRank(99, of: [5, 1, 3]) == 5)
        #expect(EvalPercentiles.nearestRank(0, of: [5, 1, 3]) == 1)
        #expect(EvalPercentiles.nearestRank(100, of: [5, 1, 3]) == 5)
        // 10 values: p90 is rank 9, p99 rank 10.
        let ten = try #require(EvalPercentiles.summary([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]))
        #expect(ten.p50 == 50 && ten.p90 == 90 && ten.p99 == 100)
        #expect(EvalPercentiles.summary([Int]()) == nil)
        #expect(EvalPercentiles.nearestRank(50, of: [Double]()) == nil)
    }
}
