/// A token bucket: holds up to `capacity` tokens, refilled continuously at `capacity` per `period`. Time is
/// passed in (seconds on any monotonic clock), so the arithmetic is tested without waiting.
public struct TokenBucket: Sendable, Equatable {
    public let capacity: Double
    public let refillPerSecond: Double
    public private(set) var tokens: Double
    private var updated: Double

    public init(capacity: Int, period: Double = 60, now: Double) {
        self.capacity = Double(capacity)
        self.refillPerSecond = Double(capacity) / period
        self.tokens = Double(capacity)
        self.updated = now
    }

    mutating func refill(_ now: Double) {
        if now > updated {
            tokens = min(capacity, tokens + (now - updated) * refillPerSecond)
            updated = now
        }
    }

    /// Takes `amount` if the bucket holds it; otherwise takes nothing.
    public mutating func take(_ amount: Double, now: Double) -> Bool {
        refill(now)
        guard tokens >= amount else { return false }
        tokens -= amount
        return true
    }

    /// Adjusts by actual use after the fact: a positive `delta` takes more (the bucket may go below zero, so
    /// the next requests wait), a negative one gives back what was not used.
    public mutating func settle(_ delta: Double, now: Double) {
        refill(now)
        tokens = min(capacity, tokens - delta)
    }

    /// Seconds until `amount` is available (0 if it is now); infinite when it can never fit.
    public mutating func wait(for amount: Double, now: Double) -> Double {
        refill(now)
        if tokens >= amount { return 0 }
        guard amount <= capacity, refillPerSecond > 0 else { return .infinity }
        return (amount - tokens) / refillPerSecond
    }

    /// Seconds until the bucket is full again.
    public mutating func secondsToFull(now: Double) -> Double {
        refill(now)
        return refillPerSecond > 0 ? (capacity - tokens) / refillPerSecond : 0
    }

    public mutating func remaining(now: Double) -> Int {
        refill(now)
        return max(0, Int(tokens.rounded(.down)))
    }
}
