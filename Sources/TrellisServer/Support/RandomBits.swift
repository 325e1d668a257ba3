import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Random 64-bit values from the system's generator, taken from it 32 at a time: one `getrandom` call per 32 request
/// ids instead of one each (`SystemRandomNumberGenerator` makes a system call per value: with the weighted pick of
/// a deployment, two of a request's eight).
/// Values are handed out once each, in order; what is buffered is never more than 256 bytes.
final class RandomBits: Sendable {
    static let shared = RandomBits()

    static let batch = 32

    private struct Buffer {
        var values = [UInt64](repeating: 0, count: RandomBits.batch)
        /// The next value to hand out; `batch` when all were handed out.
        var next = RandomBits.batch
    }

    private let buffer = Mutex(Buffer())
    private let fill: @Sendable (inout [UInt64]) -> Void

    /// `fill` replaces every value of the array it is given (for tests; by default from the system's generator).
    init(fill: @escaping @Sendable (inout [UInt64]) -> Void = RandomBits.systemFill) {
        self.fill = fill
    }

    func next() -> UInt64 {
        buffer.withLock { b in
            if b.next == b.values.count {
                fill(&b.values)
                b.next = 0
            }
            defer { b.next += 1 }
            return b.values[b.next]
        }
    }

    /// Every value from the system's generator, in one call (`arc4random_buf`: on Linux, glibc's one `getrandom`).
    static func systemFill(_ values: inout [UInt64]) {
        values.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            arc4random_buf(base, raw.count)
        }
    }
}
