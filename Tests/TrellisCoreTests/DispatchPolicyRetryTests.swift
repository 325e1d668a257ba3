import Testing
import TrellisCore

/// Retry rounds, their backoff and budget, and streams: the random source is a seeded generator and time is
/// passed in, so each wait is known exactly.
@Suite("DispatchPolicy retries")
struct DispatchPolicyRetryTests {
    typealias Policy = DispatchPolicy

    static let serverError = DispatchPolicyTests.serverError
    static let timedOut = DispatchPolicyTests.timedOut

    static func policy(targets: Int, retries: Int = 0, baseMs: Int = 100, budgetMs: Int = 10_000, stream: Bool = false) -> Policy {
        DispatchPolicyTests.policy(targets: targets, retries: retries, baseMs: baseMs, budgetMs: budgetMs, stream: stream)
    }

    /// Always the largest value: `Double.random(in:using:)` gives the range's upper bound.
    struct MaxGenerator: RandomNumberGenerator {
        mutating func next() -> UInt64 { .max }
    }

    // MARK: Rounds

    @Test("retries are bounded: with 2 retries a server that always fails is tried 3 times, then its error is returned")
    func retriesBounded() {
        let trace = DispatchDrive.run(Self.policy(targets: 1, retries: 2)) { _, _ in .failed(.status(500), Self.serverError) }
        #expect(trace.sent == [0, 0, 0])
        #expect(trace.waits.count == 2)
        #expect(trace.end == .failed(Self.serverError))
    }

    @Test("a server failing twice then answering is answered on the third round, with 2 retries counted")
    func retriedUntilAnswered() {
        let trace = DispatchDrive.run(Self.policy(targets: 1, retries: 2)) { _, round in
            round < 2 ? .failed(.status(500), Self.serverError) : .answered
        }
        #expect(trace.sent == [0, 0, 0])
        #expect(trace.end == .answered(retries: 2))
        #expect(trace.circuit == [.failure, .failure, .success])
    }

    @Test("no retries configured: one round only")
    func noRetries() {
        let trace = DispatchDrive.run(Self.policy(targets: 2, retries: 0)) { _, _ in .failed(.noAnswer, Self.timedOut) }
        #expect(trace.sent == [0, 1])
        #expect(trace.waits.isEmpty)
        #expect(trace.end == .failed(Self.timedOut))
    }

    @Test("each retry round tries every target again, from the first")
    func roundsStartAtTheFirstTarget() {
        let trace = DispatchDrive.run(Self.policy(targets: 3, retries: 1)) { target, round in
            round == 1 && target == 2 ? .answered : .failed(.noAnswer, Self.timedOut)
        }
        #expect(trace.sent == [0, 1, 2, 0, 1, 2])
        #expect(trace.end == .answered(retries: 1))
    }

    // MARK: Backoff

    @Test("the backoff is baseMs · 2^round, drawn between half and all of it (below the cap)", arguments: 0...5)
    func backoffRange(round: Int) {
        let full = 100 * (1 << round)
        var random = SeededGenerator(seed: UInt64(round) + 11)
        var seen: [Duration] = []
        for _ in 0..<200 {
            let wait = Policy.backoff(round: round, baseMs: 100, random: &random)
            #expect(wait >= .milliseconds(full / 2) && wait <= .milliseconds(full), "round \(round): \(wait)")
            seen.append(wait)
        }
        #expect(Set(seen).count > 20, "jittered: the draws differ")
        var top = MaxGenerator()
        #expect(Policy.backoff(round: round, baseMs: 100, random: &top) == .milliseconds(full))
    }

    @Test("the backoff is capped at 5 s, however late the round or large the base")
    func backoffCap() {
        var random = SeededGenerator(seed: 5)
        for (round, base) in [(6, 100), (7, 100), (3, 2_000), (40, 100), (Int.max, 60_000)] {
            let wait = Policy.backoff(round: round, baseMs: base, random: &random)
            #expect(wait >= .milliseconds(2_500) && wait <= .milliseconds(5_000), "round \(round), base \(base): \(wait)")
        }
        var top = MaxGenerator()
        #expect(Policy.backoff(round: 9, baseMs: 100, random: &top) == .milliseconds(Policy.maxBackoffMs))
        #expect(Policy.maxBackoffMs == 5_000)
    }

    @Test("a zero base means no wait between rounds")
    func zeroBase() {
        var random = SeededGenerator(seed: 3)
        #expect(Policy.backoff(round: 4, baseMs: 0, random: &random) == .zero)
    }

    @Test("the waits between rounds double, drawn from the injected random source: the same seed gives the same waits")
    func waitsComeFromTheInjectedSource() {
        let trace = DispatchDrive.run(Self.policy(targets: 1, retries: 4), seed: 42) { _, _ in .failed(.noAnswer, Self.timedOut) }
        var random = SeededGenerator(seed: 42)
        let expected = (0..<4).map { Policy.backoff(round: $0, baseMs: 100, random: &random) }
        #expect(trace.waits == expected)
        for (round, wait) in trace.waits.enumerated() {
            let full = 100 * (1 << round)
            #expect(wait >= .milliseconds(full / 2) && wait <= .milliseconds(full))
        }
        let again = DispatchDrive.run(Self.policy(targets: 1, retries: 4), seed: 42) { _, _ in .failed(.noAnswer, Self.timedOut) }
        #expect(again.waits == trace.waits)
        let other = DispatchDrive.run(Self.policy(targets: 1, retries: 4), seed: 43) { _, _ in .failed(.noAnswer, Self.timedOut) }
        #expect(other.waits != trace.waits)
    }

    // MARK: Budget

    @Test("the retry budget: a round whose wait would end at or past the budget is not started, and the last failure is returned")
    func retryBudget() {
        var random = SeededGenerator(seed: 9)
        let wait = Policy.backoff(round: 0, baseMs: 100, random: &random)

        var within = Self.policy(targets: 1, retries: 3, budgetMs: 1_000)
        _ = within.start()
        var same = SeededGenerator(seed: 9)
        let inTime = within.failed(.noAnswer, error: Self.timedOut, elapsed: .milliseconds(1_000) - wait - .milliseconds(1), random: &same)
        #expect(inTime.action == .wait(wait))

        var past = Self.policy(targets: 1, retries: 3, budgetMs: 1_000)
        _ = past.start()
        same = SeededGenerator(seed: 9)
        let late = past.failed(.noAnswer, error: Self.timedOut, elapsed: .milliseconds(1_000) - wait, random: &same)
        #expect(late.action == .fail(Self.timedOut))
        #expect(late.circuit == .failure)
    }

    @Test("the time spent counts against the budget: slow failures stop the rounds before the retry count does")
    func slowFailuresUseTheBudget() {
        // Each call takes 3 s; the budget is 10 s. Round 0 ends at 3 s, round 1 at about 6.1 s, round 2 at about
        // 9.3 s (its wait, at most 400 ms, still ends within the 10 s), round 3 past 12 s: 4 rounds of the 6 that
        // 5 retries allow.
        let trace = DispatchDrive.run(Self.policy(targets: 1, retries: 5, budgetMs: 10_000), perCall: .seconds(3)) { _, _ in
            .failed(.status(503), Self.serverError)
        }
        #expect(trace.sent == [0, 0, 0, 0])
        #expect(trace.waits.count == 3)
        #expect(trace.end == .failed(Self.serverError))
        let none = DispatchDrive.run(Self.policy(targets: 1, retries: 5, budgetMs: 0)) { _, _ in .failed(.status(503), Self.serverError) }
        #expect(none.sent == [0], "a zero budget never retries")
    }

    // MARK: Streams

    @Test("a stream failing before its first event moves on like any call; once its first event is read, nothing is retried")
    func streams() {
        let trace = DispatchDrive.run(Self.policy(targets: 2, retries: 2, stream: true)) { target, _ in
            target == 0 ? .failed(.noAnswer, Self.timedOut) : .answered
        }
        #expect(trace.sent == [0, 1])
        #expect(trace.circuit == [.failure, nil], "the stream's own verdict comes from its relay, at its end")

        var policy = Self.policy(targets: 2, retries: 2, stream: true)
        #expect(policy.start() == .send(target: 0))
        #expect(policy.answered() == nil)
        var random = SeededGenerator(seed: 1)
        // The upstream breaks after the first event: the dispatch is over, the failure is not retried.
        let broken = policy.failed(.noAnswer, error: Self.timedOut, elapsed: .zero, random: &random)
        #expect(broken.action == .fail(Self.timedOut))
        #expect(policy.unregistered(elapsed: .zero, random: &random) != .send(target: 1))
        #expect(policy.waited() != .send(target: 0))
        #expect(policy.round == 0)
    }

    @Test("events out of turn change nothing: a second start repeats the action, a wait is repeated until waited")
    func outOfTurn() {
        var policy = Self.policy(targets: 2, retries: 1)
        #expect(policy.start() == .send(target: 0))
        #expect(policy.start() == .send(target: 0))
        #expect(policy.waited() == .send(target: 0), "not waiting: the current action again")
        var random = SeededGenerator(seed: 2)
        _ = policy.failed(.noAnswer, error: Self.timedOut, elapsed: .zero, random: &random)
        let wait = policy.failed(.noAnswer, error: Self.timedOut, elapsed: .zero, random: &random).action
        guard case .wait = wait else {
            Issue.record("expected a wait, got \(wait)")
            return
        }
        #expect(policy.unregistered(elapsed: .zero, random: &random) == wait)
        #expect(policy.answered() == nil)
        #expect(policy.waited() == .send(target: 0))
        #expect(policy.round == 1)
    }
}
