import Synchronization
import TrellisCore

/// A requests-per-minute token bucket per key id, for endpoints outside model admission (feedback): each key
/// gets `perMinute` calls a minute, with bursts up to that many. Keys are the catalog's, so the map is as
/// large as the set of keys that called.
final class KeyedRateLimit: Sendable {
    let perMinute: Int
    private let buckets = Mutex<[String: TokenBucket]>([:])
    private let clock: @Sendable () -> Double

    init(perMinute: Int, clock: @escaping @Sendable () -> Double) {
        self.perMinute = perMinute
        self.clock = clock
    }

    /// Takes one call for `key`; nil when allowed, else the seconds until one more is.
    func take(_ key: String) -> Double? {
        let now = clock()
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? TokenBucket(capacity: perMinute, now: now)
            defer { buckets[key] = bucket }
            return bucket.take(1, now: now) ? nil : bucket.wait(for: 1, now: now)
        }
    }
}
