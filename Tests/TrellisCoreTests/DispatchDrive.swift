import TrellisCore

/// Plays the dispatcher's part for `DispatchPolicy` tests: it starts the policy, and for each `send` asks the
/// script what happened to that target in that round, feeds it back, "sleeps" through waits (recording them),
/// and stops at an answer or a failure. Time is the sum of the waits plus `elapsed` per call; random draws come
/// from a seeded generator.
struct DispatchDrive {
    /// What happened to one target.
    enum Outcome {
        case unregistered
        case notSent(TrellisError)
        case circuitOpen(Double?)
        case failed(DispatchPolicy.Failure, TrellisError)
        case answered
    }

    enum End: Equatable {
        case answered(retries: Int)
        case failed(TrellisError)
        /// The script ran past its step limit (a policy that never ends).
        case runaway
    }

    /// Targets sent to, in order, across rounds.
    var sent: [Int] = []
    /// The waits between rounds.
    var waits: [Duration] = []
    /// What each finished call (failed or answered) recorded on its circuit; nil for a stream's answer.
    var circuit: [DispatchPolicy.CircuitRecord?] = []
    var end = End.runaway

    static func run(
        _ policy: DispatchPolicy, perCall: Duration = .zero, seed: UInt64 = 1,
        _ script: (_ target: Int, _ round: Int) -> Outcome
    ) -> DispatchDrive {
        var policy = policy
        var random = SeededGenerator(seed: seed)
        var trace = DispatchDrive()
        var elapsed = Duration.zero
        var action = policy.start()
        for _ in 0..<1_000 {
            switch action {
            case .fail(let error):
                trace.end = .failed(error)
                return trace
            case .wait(let wait):
                trace.waits.append(wait)
                elapsed += wait
                action = policy.waited()
            case .send(let target):
                trace.sent.append(target)
                elapsed += perCall
                switch script(target, policy.round) {
                case .unregistered:
                    action = policy.unregistered(elapsed: elapsed, random: &random)
                case .notSent(let error):
                    action = policy.notSent(error, elapsed: elapsed, random: &random)
                case .circuitOpen(let retryAfter):
                    action = policy.circuitOpen(retryAfter: retryAfter, elapsed: elapsed, random: &random)
                case .failed(let failure, let error):
                    let decision = policy.failed(failure, error: error, elapsed: elapsed, random: &random)
                    trace.circuit.append(decision.circuit)
                    action = decision.action
                case .answered:
                    trace.circuit.append(policy.answered())
                    trace.end = .answered(retries: policy.round)
                    return trace
                }
            }
        }
        return trace
    }
}
