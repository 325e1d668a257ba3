import Testing
import TrellisCore

/// Time is passed in (seconds), so every test here runs instantly: no sleeping.
@Suite("TokenBucket")
struct TokenBucketTests {
    @Test("starts full: a burst up to the capacity goes through, the next one does not")
    func burstUpToCapacity() {
        var bucket = TokenBucket(capacity: 5, now: 100)
        for i in 0..<5 {
            #expect((bucket.take(1, now: 100) as Bool), "take \(i + 1) of 5")
        }
        #expect(!(bucket.take(1, now: 100) as Bool))
        #expect(bucket.remaining(now: 100) == 0)
    }

    @Test("a take that does not fit takes nothing")
    func failedTakeTakesNothing() {
        var bucket = TokenBucket(capacity: 10, now: 0)
        #expect((bucket.take(7, now: 0) as Bool))
        #expect(!(bucket.take(4, now: 0) as Bool))
        #expect(bucket.remaining(now: 0) == 3)
        #expect((bucket.take(3, now: 0) as Bool))
    }

    @Test("refills continuously at capacity per period, never above the capacity")
    func refillRate() {
        var bucket = TokenBucket(capacity: 60, now: 0)  // one token a second
        #expect(bucket.refillPerSecond == 1)
        #expect((bucket.take(60, now: 0) as Bool))
        #expect(bucket.remaining(now: 10) == 10)
        #expect(bucket.remaining(now: 30.5) == 30)
        #expect(bucket.remaining(now: 59) == 59)
        #expect(bucket.remaining(now: 60) == 60)
        #expect(bucket.remaining(now: 600) == 60, "capped at the capacity")
        // A custom period: 10 per 2 s = 5 a second.
        var fast = TokenBucket(capacity: 10, period: 2, now: 0)
        #expect((fast.take(10, now: 0) as Bool))
        #expect(fast.remaining(now: 1) == 5)
    }

    @Test("time going backwards neither refills nor drains")
    func clockBackwards() {
        var bucket = TokenBucket(capacity: 60, now: 100)
        #expect((bucket.take(30, now: 100) as Bool))
        #expect(bucket.remaining(now: 50) == 30)
        #expect(bucket.remaining(now: 110) == 40)
    }

    @Test("settle: under-use gives back, over-use takes more and may go below zero")
    func settleOverAndUnder() {
        var bucket = TokenBucket(capacity: 100, now: 0)
        #expect((bucket.take(80, now: 0) as Bool))
        // Reserved 80, used 30: 50 come back.
        bucket.settle(30 - 80, now: 0)
        #expect(bucket.remaining(now: 0) == 70)
        // Reserved 70 more, used 150: the bucket owes 80.
        #expect((bucket.take(70, now: 0) as Bool))
        bucket.settle(150 - 70, now: 0)
        #expect(bucket.tokens == -80)
        #expect(bucket.remaining(now: 0) == 0, "remaining never shows a debt as negative")
        #expect(!(bucket.take(1, now: 0) as Bool))
        // The debt is paid off by refill first (100/60 s): 48 s to get back to 0, then 0.6 s per token.
        #expect(abs(bucket.wait(for: 1, now: 0) - 48.6) < 1e-9)
        #expect(!(bucket.take(1, now: 48) as Bool))
        #expect((bucket.take(1, now: 48.6 + 1e-9) as Bool))
    }

    @Test("settle never fills above the capacity")
    func settleCapped() {
        var bucket = TokenBucket(capacity: 100, now: 0)
        #expect((bucket.take(10, now: 0) as Bool))
        bucket.settle(-500, now: 0)
        #expect(bucket.tokens == 100)
    }

    @Test("wait: 0 when available, the exact refill time otherwise, infinite when it can never fit")
    func wait() {
        var bucket = TokenBucket(capacity: 60, now: 0)
        #expect(bucket.wait(for: 60, now: 0) == 0)
        #expect((bucket.take(60, now: 0) as Bool))
        #expect(bucket.wait(for: 1, now: 0) == 1)
        #expect(bucket.wait(for: 15, now: 0) == 15)
        #expect(bucket.wait(for: 15, now: 5) == 10)
        #expect(bucket.wait(for: 61, now: 5) == .infinity, "more than the capacity never fits")
        // wait() is a question: it takes nothing.
        #expect(bucket.remaining(now: 5) == 5)
        #expect(bucket.secondsToFull(now: 5) == 55)
        #expect(bucket.secondsToFull(now: 200) == 0)
    }
}
