import Foundation

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
        merge(encoded: encoded)
    }

    /// Marks the sparse encoding: this byte, then (bucket index, little-endian UInt32 count) for each bucket in
    /// use. A day's roll-up row holds a handful of requests, so this is tens of bytes where the dense form
    /// (every bucket, 1 KiB) made a month's report read 140 MB of histograms at a million requests.
    static let sparseMarker: UInt8 = 0x53

    /// Adds an encoded histogram (sparse, or the dense 1 KiB form of earlier versions) without decoding it
    /// into a histogram first; anything else is ignored.
    public mutating func merge(encoded: some Collection<UInt8>) {
        let bytes = encoded.withContiguousStorageIfAvailable { Array($0) } ?? Array(encoded)
        func count(at o: Int) -> UInt32 {
            UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
        }
        func add(_ i: Int, _ c: UInt32) {
            let (sum, overflow) = counts[i].addingReportingOverflow(c)
            counts[i] = overflow ? .max : sum
        }
        if bytes.count == Self.bucketCount * 4 {
            for i in 0..<Self.bucketCount { add(i, count(at: i * 4)) }
        } else if let first = bytes.first, first == Self.sparseMarker, (bytes.count - 1) % 5 == 0 {
            var o = 1
            while o < bytes.count {
                add(Int(bytes[o]), count(at: o + 1))
                o += 5
            }
        }
    }

    /// The sparse encoding (see `sparseMarker`).
    public var encoded: [UInt8] {
        var out: [UInt8] = [Self.sparseMarker]
        for (i, c) in counts.enumerated() where c > 0 {
            out.append(UInt8(i))
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
