import Testing
import TrellisCore

/// Time is passed in (seconds), so every test here runs instantly: no sleeping.
@Suite("CircuitBreaker")
struct CircuitBreakerTests {
    /// A breaker driven to open at `now`: `threshold` admitted requests, each failing.
    private func opened(_ config: CircuitBreaker.Config = .init(), at now: Double = 0) -> CircuitBreaker {
        var breaker = CircuitBreaker(config: config)
        for _ in 0..<config.failureThreshold {
            _ = breaker.allow(now: now)
            breaker.record(success: false, now: now)
        }
        return breaker
    }

    @Test("the defaults: 5 failures, 10 s cool-down, 1 probe, 1 success to close")
    func defaults() {
        let config = CircuitBreaker.Config()
        #expect(config.failureThreshold == 5)
        #expect(config.coolDown == 10)
        #expect(config.halfOpenProbes == 1)
        #expect(config.successesToClose == 1)
        let breaker = CircuitBreaker()
        #expect(breaker.state(now: 0) == .closed)
        #expect(breaker.consecutiveFailures == 0)
        #expect(breaker.openedCount == 0)
    }

    @Test("opens after exactly N consecutive failures, not N-1")
    func opensAtThreshold() {
        var breaker = CircuitBreaker(config: .init(failureThreshold: 3))
        for i in 1...2 {
            #expect((breaker.allow(now: Double(i)) as Bool))
            breaker.record(success: false, now: Double(i))
            #expect(breaker.state(now: Double(i)) == .closed, "still closed after \(i) failures")
            #expect(breaker.consecutiveFailures == i)
        }
        #expect((breaker.allow(now: 3) as Bool))
        breaker.record(success: false, now: 3)
        #expect(breaker.state(now: 3) == .open(until: 13))
        #expect(breaker.openedCount == 1)
        #expect(!(breaker.allow(now: 3) as Bool))
    }

    @Test("a success in between resets the consecutive-failure count")
    func successResets() {
        var breaker = CircuitBreaker(config: .init(failureThreshold: 3))
        breaker.record(success: false, now: 0)
        breaker.record(success: false, now: 0)
        breaker.record(success: true, now: 0)
        #expect(breaker.consecutiveFailures == 0)
        breaker.record(success: false, now: 0)
        breaker.record(success: false, now: 0)
        #expect(breaker.state(now: 0) == .closed, "2 + 2 failures with a success between never reach 3 in a row")
        breaker.record(success: false, now: 0)
        #expect(breaker.state(now: 0).label == "open")
    }

    @Test("refuses everything during the cool-down, up to its last instant")
    func refusesDuringCoolDown() {
        var breaker = opened(.init(failureThreshold: 2, coolDown: 10), at: 100)
        for now in [100, 101, 105, 109.999] {
            #expect(!(breaker.allow(now: now) as Bool), "refused at \(now)")
            #expect(breaker.state(now: now) == .open(until: 110))
        }
        #expect((breaker.allow(now: 110) as Bool), "the cool-down ends at 110")
        #expect(breaker.state(now: 110) == .halfOpen)
    }

    @Test("half-open admits exactly the probe count and refuses the rest")
    func halfOpenAdmitsProbes() {
        var one = opened(.init(failureThreshold: 1, coolDown: 5))
        #expect((one.allow(now: 5) as Bool))
        #expect(!(one.allow(now: 5) as Bool))
        #expect(!(one.allow(now: 6) as Bool))
        #expect(one.probesInFlight == 1)

        var three = opened(.init(failureThreshold: 1, coolDown: 5, halfOpenProbes: 3))
        let admitted = (0..<5).filter { _ in three.allow(now: 7) }.count
        #expect(admitted == 3)
        #expect(three.probesInFlight == 3)
    }

    @Test("a failed probe reopens the breaker for a fresh cool-down from the failure")
    func probeFailureReopens() {
        var breaker = opened(.init(failureThreshold: 2, coolDown: 10))
        #expect(breaker.openedCount == 1)
        #expect((breaker.allow(now: 12) as Bool))
        breaker.record(success: false, now: 15)
        #expect(breaker.state(now: 15) == .open(until: 25))
        #expect(breaker.openedCount == 2)
        #expect(breaker.consecutiveFailures == 3)
        #expect(breaker.probesInFlight == 0)
        #expect(!(breaker.allow(now: 24.9) as Bool))
        #expect((breaker.allow(now: 25) as Bool))
    }

    @Test("a successful probe closes the breaker")
    func probeSuccessCloses() {
        var breaker = opened(.init(failureThreshold: 2, coolDown: 10))
        #expect((breaker.allow(now: 10) as Bool))
        breaker.record(success: true, now: 11)
        #expect(breaker.state(now: 11) == .closed)
        #expect(breaker.consecutiveFailures == 0)
        #expect((breaker.allow(now: 11) as Bool))
        #expect((breaker.allow(now: 11) as Bool), "closed again: no probe limit")
        // It takes the full threshold to open again.
        breaker.record(success: false, now: 12)
        #expect(breaker.state(now: 12) == .closed)
        breaker.record(success: false, now: 12)
        #expect(breaker.state(now: 12) == .open(until: 22))
    }

    @Test("with successesToClose 2, one good probe frees its slot but the breaker stays half-open")
    func severalSuccessesToClose() {
        var breaker = opened(.init(failureThreshold: 1, coolDown: 1, successesToClose: 2))
        #expect((breaker.allow(now: 1) as Bool))
        breaker.record(success: true, now: 1)
        #expect(breaker.state(now: 1) == .halfOpen)
        #expect((breaker.allow(now: 1) as Bool), "the slot is free for the next probe")
        #expect(!(breaker.allow(now: 1) as Bool))
        breaker.record(success: true, now: 2)
        #expect(breaker.state(now: 2) == .closed)
    }

    @Test("a cancelled probe frees its slot without changing the state")
    func releaseFreesSlot() {
        var breaker = opened(.init(failureThreshold: 1, coolDown: 3))
        #expect((breaker.allow(now: 3) as Bool))
        #expect(!(breaker.allow(now: 3) as Bool))
        breaker.release()
        #expect(breaker.probesInFlight == 0)
        #expect(breaker.state(now: 3) == .halfOpen)
        #expect((breaker.allow(now: 3) as Bool), "the freed slot admits another probe")
        // Releasing more often than admitted never goes below zero or admits extra probes.
        breaker.release()
        breaker.release()
        #expect((breaker.allow(now: 3) as Bool))
        #expect(!(breaker.allow(now: 3) as Bool))
        // Release while closed or open changes nothing.
        var closed = CircuitBreaker()
        closed.release()
        #expect(closed == CircuitBreaker())
    }

    @Test("retryAfter: nil closed, the rest of the cool-down open, 0 half-open")
    func retryAfter() {
        var breaker = CircuitBreaker(config: .init(failureThreshold: 1, coolDown: 10))
        #expect(breaker.retryAfter(now: 0) == nil)
        breaker.record(success: false, now: 100)
        #expect(breaker.retryAfter(now: 100) == 10)
        #expect(breaker.retryAfter(now: 107.5) == 2.5)
        #expect(breaker.retryAfter(now: 110) == 0)
        #expect(breaker.retryAfter(now: 200) == 0, "never negative")
        #expect((breaker.allow(now: 110) as Bool))
        #expect(breaker.retryAfter(now: 110) == 0)
        breaker.record(success: false, now: 111)
        #expect(breaker.retryAfter(now: 111) == 10, "a fresh cool-down after the failed probe")
        #expect((breaker.allow(now: 121) as Bool))
        breaker.record(success: true, now: 121)
        #expect(breaker.retryAfter(now: 121) == nil)
    }

    @Test("results of requests admitted before the breaker opened neither extend nor end the cool-down")
    func lateResultsWhileOpen() {
        var breaker = CircuitBreaker(config: .init(failureThreshold: 2, coolDown: 10))
        for _ in 0..<4 { #expect((breaker.allow(now: 0) as Bool)) }
        breaker.record(success: false, now: 1)
        breaker.record(success: false, now: 1)
        #expect(breaker.state(now: 1) == .open(until: 11))
        breaker.record(success: false, now: 5)
        breaker.record(success: true, now: 6)
        #expect(breaker.state(now: 6) == .open(until: 11))
        #expect(breaker.openedCount == 1)
        #expect(breaker.consecutiveFailures == 3)
    }

    @Test("state labels and reporting of an open breaker whose cool-down has passed")
    func labels() {
        #expect(CircuitBreaker.State.closed.label == "closed")
        #expect(CircuitBreaker.State.open(until: 1).label == "open")
        #expect(CircuitBreaker.State.halfOpen.label == "half_open")
        let breaker = opened(.init(failureThreshold: 1, coolDown: 10))
        #expect(breaker.state(now: 9).label == "open")
        #expect(breaker.state(now: 10).label == "half_open", "reported half-open before the next allow")
    }

    @Test("settings below their minimum are raised to it")
    func configClamps() {
        let config = CircuitBreaker.Config(failureThreshold: 0, coolDown: -5, halfOpenProbes: 0, successesToClose: -1)
        #expect(config.failureThreshold == 1)
        #expect(config.coolDown == 0)
        #expect(config.halfOpenProbes == 1)
        #expect(config.successesToClose == 1)
        #expect(CircuitBreaker.Config(coolDown: .nan).coolDown == 0)
    }
}
