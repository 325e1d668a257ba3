import Foundation
import OpenAIWire

/// Two model versions compared over the same evaluation items: how many items got better, worse or stayed the
/// same going from `a` to `b`, the mean change in score, and a paired Student-t confidence interval for it.
///
/// Pairing removes the items' own difficulty from the comparison: an item both versions find hard counts only
/// through the change in its score, so a small real improvement shows up over far fewer items than comparing the
/// two mean scores would need. The interval is mean ± t(1 − α/2, n − 1) · s / √n over the per-item differences
/// b − a, with s their sample standard deviation. It assumes the items are a sample from the kind of requests the
/// model will serve; with scores of 0 and 1 and a few dozen items it is a fair guide, not an exact test.
public struct PairedComparison: Sendable, Equatable {
    /// Items scored by both versions: the pairs the figures are computed from.
    public var n: Int
    /// Items whose score went up from `a` to `b`.
    public var better: Int
    /// Items whose score went down.
    public var worse: Int
    /// Items whose score did not change (within 10⁻⁹).
    public var same: Int
    /// Mean of b − a; nil when there are no pairs.
    public var meanDifference: Double?
    /// The confidence interval of the mean difference; nil with fewer than 2 pairs.
    public var ciLow: Double?
    public var ciHigh: Double?
    /// The interval's confidence level, such as 0.95.
    public var confidence: Double

    /// Whether the interval excludes 0, so the change is unlikely to be chance at this confidence. Differences that
    /// are all equal and not zero count as significant: their interval has no width.
    public var significant: Bool {
        guard let ciLow, let ciHigh else { return false }
        return ciLow > 0 || ciHigh < 0
    }

    /// Compares per-item scores, `a[i]` and `b[i]` being the same item's. A nil or non-finite score (the call
    /// failed) leaves its item out of both; items beyond the shorter array are left out too. A `confidence`
    /// outside (0, 1) is taken as 0.95.
    public static func compare(_ a: [Double?], _ b: [Double?], confidence: Double = 0.95) -> PairedComparison {
        let level = confidence > 0 && confidence < 1 ? confidence : 0.95
        var differences: [Double] = []
        for (x, y) in zip(a, b) {
            guard let x, let y, x.isFinite, y.isFinite else { continue }
            differences.append(y - x)
        }
        var result = PairedComparison(n: differences.count, better: 0, worse: 0, same: 0, meanDifference: nil, ciLow: nil, ciHigh: nil, confidence: level)
        for d in differences {
            if abs(d) <= 1e-9 {
                result.same += 1
            } else if d > 0 {
                result.better += 1
            } else {
                result.worse += 1
            }
        }
        guard let first = differences.first else { return result }
        if differences.allSatisfy({ $0 == first }) {
            result.meanDifference = first
            if differences.count >= 2 {
                result.ciLow = first
                result.ciHigh = first
            }
            return result
        }
        let count = Double(differences.count)
        let mean = differences.reduce(0, +) / count
        result.meanDifference = mean
        guard differences.count >= 2 else { return result }
        let squares = differences.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        let standardError = (squares / (count - 1)).squareRoot() / count.squareRoot()
        let half = tQuantile((1 + level) / 2, degreesOfFreedom: differences.count - 1) * standardError
        result.ciLow = mean - half
        result.ciHigh = mean + half
        return result
    }

    /// `{"n", "better", "worse", "same", "mean_difference", "ci_low", "ci_high", "confidence", "significant"}`,
    /// the figures rounded to 6 decimal places and null where there are none.
    public var json: JSONValue {
        func rounded(_ value: Double?) -> JSONValue {
            guard let value else { return .null }
            return .double((value * 1_000_000).rounded() / 1_000_000)
        }
        return [
            "n": .int(n), "better": .int(better), "worse": .int(worse), "same": .int(same), "mean_difference": rounded(meanDifference),
            "ci_low": rounded(ciLow), "ci_high": rounded(ciHigh), "confidence": .double(confidence), "significant": .bool(significant),
        ]
    }

    // MARK: The t distribution

    /// The `p` quantile of Student's t distribution with `degreesOfFreedom` (at least 1): the t with P(T ≤ t) = p.
    /// Up to 300 degrees of freedom it inverts the exact distribution function, written with the regularized
    /// incomplete beta function, by bisection (accurate to about 10⁻¹⁰); above, it uses the Cornish–Fisher expansion
    /// around the normal quantile (Abramowitz & Stegun 26.7.5), whose error there is below 10⁻⁸. `p` outside (0, 1)
    /// gives ±infinity, NaN gives NaN.
    public static func tQuantile(_ p: Double, degreesOfFreedom: Int) -> Double {
        guard !p.isNaN else { return .nan }
        if p <= 0 { return -.infinity }
        if p >= 1 { return .infinity }
        if p < 0.5 { return -tQuantile(1 - p, degreesOfFreedom: degreesOfFreedom) }
        if p == 0.5 { return 0 }
        let df = Double(max(1, degreesOfFreedom))
        if df > 300 { return cornishFisher(normalQuantile(p), df: df) }
        // P(|T| > t) = I_x(df/2, 1/2) with x = df / (df + t²), increasing in x: find the x with the wanted tail.
        let tail = 2 * (1 - p)
        var low = 0.0
        var high = 1.0
        for _ in 0..<200 {
            let mid = (low + high) / 2
            if mid == low || mid == high { break }
            if regularizedIncompleteBeta(mid, a: df / 2, b: 0.5) < tail { low = mid } else { high = mid }
        }
        let x = (low + high) / 2
        return (df * (1 - x) / x).squareRoot()
    }

    /// t ≈ z + g₁/ν + g₂/ν² + g₃/ν³ + g₄/ν⁴.
    static func cornishFisher(_ z: Double, df: Double) -> Double {
        let z2 = z * z
        let g1 = (z2 + 1) * z / 4
        let g2 = ((5 * z2 + 16) * z2 + 3) * z / 96
        let g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384
        let g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160
        return z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df
    }

    /// The standard normal quantile: Acklam's rational approximation (relative error below 1.2 · 10⁻⁹), for
    /// 0 < p < 1.
    static func normalQuantile(_ p: Double) -> Double {
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let pLow = 0.02425
        if p < pLow {
            let q = (-2 * log(p)).squareRoot()
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        if p > 1 - pLow { return -normalQuantile(1 - p) }
        let q = p - 0.5
        let r = q * q
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    }

    /// I_x(a, b), by the continued fraction of Numerical Recipes §6.4 (modified Lentz), on whichever side of the
    /// mean converges fast.
    static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * log(x) + b * log(1 - x)
        let front = exp(logFront)
        if x < (a + 1) / (a + b + 2) { return front * betaContinuedFraction(x, a: a, b: b) / a }
        return 1 - front * betaContinuedFraction(1 - x, a: b, b: a) / b
    }

    private static func betaContinuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        func guarded(_ v: Double) -> Double { abs(v) < tiny ? tiny : v }
        var c = 1.0
        var d = 1 / guarded(1 - (a + b) * x / (a + 1))
        var h = d
        for m in 1...1_000 {
            let m = Double(m)
            let even = m * (b - m) * x / ((a - 1 + 2 * m) * (a + 2 * m))
            d = 1 / guarded(1 + even * d)
            c = guarded(1 + even / c)
            h *= d * c
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1 + 2 * m))
            d = 1 / guarded(1 + odd * d)
            c = guarded(1 + odd / c)
            let step = d * c
            h *= step
            if abs(step - 1) < 1e-15 { break }
        }
        return h
    }

    /// ln Γ(x) for x > 0, by the Lanczos approximation (g = 7, 9 terms; about 15 significant digits). Written out
    /// rather than calling the C library's `lgamma`, which sets the process-wide `signgam` on some platforms.
    static func logGamma(_ x: Double) -> Double {
        if x < 0.5 { return log(Double.pi / sin(Double.pi * x)) - logGamma(1 - x) }
        let coefficients = [
            0.999_999_999_999_809_93, 676.520_368_121_885_1, -1_259.139_216_722_402_8, 771.323_428_777_653_13,
            -176.615_029_162_140_59, 12.507_343_278_686_905, -0.138_571_095_265_720_12, 9.984_369_578_019_571_6e-6,
            1.505_632_735_149_311_6e-7,
        ]
        let y = x - 1
        var sum = coefficients[0]
        for i in 1..<coefficients.count { sum += coefficients[i] / (y + Double(i)) }
        let t = y + 7.5
        return 0.5 * log(2 * Double.pi) + (y + 0.5) * log(t) - t + log(sum)
    }
}

/// Percentiles of latencies (or any values) by the nearest-rank method: the p-th percentile is the smallest value
/// with at least p % of the values at or below it, the value at rank ⌈p/100 · n⌉ in ascending order. It is always one
/// of the values, never an interpolation, so a p50 of two answers is the faster one's time.
public enum EvalPercentiles {
    /// The `p`-th percentile (0 < p ≤ 100; 0 or less gives the minimum) of `values`; nil when there are none.
    public static func nearestRank<T: Comparable>(_ p: Double, of values: [T]) -> T? {
        nearestRank(p, sorted: values.sorted())
    }

    /// p50, p90 and p99, sorting once; nil when there are no values.
    public static func summary<T: Comparable>(_ values: [T]) -> (p50: T, p90: T, p99: T)? {
        let sorted = values.sorted()
        guard let p50 = nearestRank(50, sorted: sorted), let p90 = nearestRank(90, sorted: sorted), let p99 = nearestRank(99, sorted: sorted) else {
            return nil
        }
        return (p50, p90, p99)
    }

    private static func nearestRank<T>(_ p: Double, sorted: [T]) -> T? {
        guard !sorted.isEmpty, !p.isNaN else { return nil }
        let rank = (min(100, max(0, p)) * Double(sorted.count) / 100).rounded(.up)
        return sorted[min(sorted.count, max(1, Int(rank))) - 1]
    }
}
