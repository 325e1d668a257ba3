/// A latency histogram with logarithmic buckets (about 7% wide, from 0.1 ms to over an hour), small enough
/// to keep per day and group in the usage roll-ups and to merge by adding counts. Percentiles read from it
/// are within a bucket's width of the exact value.
public struct Histogram: Sendable, Equatable {
    public static let bucketCount = 256
    static let base = 1.07
    static let smallest = 0.1  // ms

    public private(set) var counts: [UInt32]

    public init() {
        counts = Array(repeating: 0, count: Self.bucketCount)
    }

    public init(encoded: [UInt8]) {
        self.init()
        guard encoded.count == Self.bucketCount * 4 else { return }
        for i in 0..<Self.bucketCount {
            let o = i * 4
            counts[i] = UInt32(encoded[o]) | UInt32(encoded[o + 1]) << 8 | UInt32(encoded[o + 2]) << 16 | UInt32(encoded[o + 3]) << 24
        }
    }

    public var encoded: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.bucketCount * 4)
        for c in counts {
            out.append(UInt8(c & 0xFF))
            out.append(UInt8((c >> 8) & 0xFF))
            out.append(UInt8((c >> 16) & 0xFF))
            out.append(UInt8(c >> 24))
        }
        return out
    }

    public var total: Int { counts.reduce(0) { $0 + Int($1) } }

    static func bucket(_ ms: Double) -> Int {
        guard ms.isFinite, ms > smallest else { return 0 }
        let i = Int((log(ms / smallest) / log(base)).rounded(.down)) + 1
        return min(max(i, 0), bucketCount - 1)
    }

    /// The upper edge of a bucket, in milliseconds.
    static func upperBound(_ i: Int) -> Double {
        i == 0 ? smallest : smallest * pow(base, Double(i))
    }

    public mutating func add(_ ms: Double) {
        let i = Self.bucket(ms)
        if counts[i] < .max { counts[i] += 1 }
    }

    public mutating func merge(_ other: Histogram) {
        for i in 0..<Self.bucketCount {
            let (sum, overflow) = counts[i].addingReportingOverflow(other.counts[i])
            counts[i] = overflow ? .max : sum
        }
    }

    /// The `q` quantile (0…1) in milliseconds, or nil when empty.
    public func quantile(_ q: Double) -> Double? {
        let n = total
        guard n > 0 else { return nil }
        let rank = max(1, Int((q * Double(n)).rounded(.up)))
        var seen = 0
        for i in 0..<Self.bucketCount {
            seen += Int(counts[i])
            if seen >= rank {
                // The geometric middle of the bucket.
                let upper = Self.upperBound(i)
                return i == 0 ? upper : (upper / Self.base * upper).squareRoot()
            }
        }
        return Self.upperBound(Self.bucketCount - 1)
    }
}

import Foundation
