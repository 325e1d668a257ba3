import Foundation
import Testing
import TrellisCore

@Suite("Histogram")
struct HistogramTests {
    /// The exact `q` quantile by the same rank rule the histogram uses: the ⌈q·n⌉-th smallest value.
    static func exact(_ sorted: [Double], _ q: Double) -> Double {
        let rank = max(1, Int((q * Double(sorted.count)).rounded(.up)))
        return sorted[rank - 1]
    }

    /// Log-normal latencies around `median` ms, from a seeded generator.
    static func latencies(count: Int, median: Double, sigma: Double, seed: UInt64) -> [Double] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &rng)
            let u2 = Double.random(in: 0..<1, using: &rng)
            return median * exp(sigma * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
        }
    }

    @Test("empty: no quantile, no total")
    func empty() {
        let h = Histogram()
        #expect(h.total == 0)
        #expect(h.quantile(0.5) == nil)
        #expect(h.counts.count == Histogram.bucketCount)
    }

    @Test(
        "quantiles are within a bucket's width (7%) of the exact value on generated data",
        arguments: [(median: 900.0, sigma: 0.6, seed: UInt64(1)), (median: 35.0, sigma: 1.2, seed: 2), (median: 4.0, sigma: 0.3, seed: 3)])
    func quantilesWithinABucket(median: Double, sigma: Double, seed: UInt64) throws {
        let values = Self.latencies(count: 20_000, median: median, sigma: sigma, seed: seed)
        var h = Histogram()
        for v in values { h.add(v) }
        #expect(h.total == values.count)
        let sorted = values.sorted()
        for q in [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0] {
            let approx = try #require(h.quantile(q))
            let exact = Self.exact(sorted, q)
            let ratio = approx / exact
            #expect(ratio > 1 / 1.07 && ratio < 1.07, "q=\(q): histogram \(approx) ms vs exact \(exact) ms")
        }
    }

    @Test("a quantile on a single value is that value, within the bucket")
    func singleValue() throws {
        for v in [0.5, 1.0, 12.3, 250.0, 1_234.5, 60_000.0] {
            var h = Histogram()
            h.add(v)
            let q = try #require(h.quantile(0.5))
            #expect(q / v > 1 / 1.07 && q / v < 1.07, "\(v) → \(q)")
            #expect(h.quantile(0) == h.quantile(1), "one value: every quantile is its bucket")
        }
    }

    @Test("quantiles are monotonic in q")
    func monotonic() throws {
        var h = Histogram()
        for v in Self.latencies(count: 5_000, median: 200, sigma: 1, seed: 9) { h.add(v) }
        var last = 0.0
        for i in 0...100 {
            let q = try #require(h.quantile(Double(i) / 100))
            #expect(q >= last)
            last = q
        }
    }

    @Test("tiny, zero, negative and non-finite values land in the first bucket; huge ones in the last")
    func extremes() throws {
        var h = Histogram()
        for v in [0.0, -5, 0.05, .nan, .infinity] { h.add(v) }
        #expect(h.counts[0] == 5)
        var big = Histogram()
        big.add(1e12)
        #expect(big.counts[Histogram.bucketCount - 1] == 1)
    }

    @Test("merge equals adding every value to one histogram")
    func mergeEqualsAddAll() {
        let a = Self.latencies(count: 3_000, median: 100, sigma: 0.8, seed: 4)
        let b = Self.latencies(count: 2_000, median: 800, sigma: 0.5, seed: 5)
        var ha = Histogram()
        var hb = Histogram()
        var all = Histogram()
        for v in a {
            ha.add(v)
            all.add(v)
        }
        for v in b {
            hb.add(v)
            all.add(v)
        }
        var merged = ha
        merged.merge(hb)
        #expect(merged == all)
        #expect(merged.total == 5_000)
        #expect(merged.quantile(0.95) == all.quantile(0.95))
        // Merging is commutative.
        var other = hb
        other.merge(ha)
        #expect(other == merged)
    }

    @Test("encode and decode round-trip; a wrong-sized blob decodes as empty")
    func encodeDecode() {
        var h = Histogram()
        for v in Self.latencies(count: 10_000, median: 500, sigma: 1.5, seed: 6) { h.add(v) }
        // A count past 16 bits, to exercise every byte.
        for _ in 0..<70_000 { h.add(42) }
        let decoded = Histogram(encoded: h.encoded)
        #expect(decoded == h)
        #expect(decoded.total == 80_000)
        #expect(Histogram(encoded: Histogram().encoded) == Histogram())
        #expect(Histogram(encoded: [1, 2, 3]) == Histogram())
        #expect(Histogram(encoded: []).total == 0)
    }

    @Test("the encoding is sparse: a few requests take a few bytes; the dense form of earlier versions still reads")
    func sparseAndDense() {
        var h = Histogram()
        for v in [12.0, 12.0, 250, 3_000] { h.add(v) }
        let sparse = h.encoded
        #expect(sparse.count == 1 + 5 * 3, "three buckets in use")
        #expect(Histogram(encoded: sparse) == h)
        // The dense form: every bucket as a little-endian UInt32.
        var dense: [UInt8] = []
        for c in h.counts { dense += [UInt8(c & 0xFF), UInt8((c >> 8) & 0xFF), UInt8((c >> 16) & 0xFF), UInt8(c >> 24)] }
        #expect(dense.count == 1024)
        #expect(Histogram(encoded: dense) == h)
        // Merging straight from bytes equals merging decoded histograms, and saturates instead of wrapping.
        var merged = h
        merged.merge(encoded: sparse)
        var expected = h
        expected.merge(h)
        #expect(merged == expected && merged.total == 8)
        var full = Histogram()
        full.merge(encoded: [0x53, 7, 0xFF, 0xFF, 0xFF, 0xFF])
        full.merge(encoded: [0x53, 7, 0x02, 0, 0, 0])
        #expect(full.counts[7] == .max)
        #expect(Histogram(encoded: [0x53, 7, 1, 0]) == Histogram(), "a truncated pair is refused whole")
    }
}
