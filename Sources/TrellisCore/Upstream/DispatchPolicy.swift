/// The fallback and retry policy for one call over its targets (the plan's deployments, then its fallbacks),
/// apart from the I/O that carries it out. The dispatcher feeds it what happened to each target and does what
/// it answers: send to a target, wait before another round, or fail with an error. It reads no clock and draws
/// no random number of its own: the time since the dispatch began and a random source are passed in, so tests
/// need no waiting and no luck.
///
/// The rules, round by round (a round tries every target once, in order):
/// - A target whose upstream is not in the catalog is skipped. One that cannot be sent to (its credential
///   variable is unset, egress refuses it) is skipped too, its error kept as the round's last failure.
/// - A target whose circuit is open is skipped; the round remembers the earliest time one of them reopens.
/// - Connect errors, timeouts, invalid answers, 5xx and 408 move on to the next target and make the round
///   worth repeating. A 429 moves on too, but never starts another round: it is the server pacing callers,
///   and an immediate retry would ignore its `Retry-After`.
/// - Any other error status (4xx: the request's fault, another server would refuse it too) ends the dispatch
///   with that error at once. So does the client going away.
/// - When a round ends with a failure worth repeating, another round starts after a doubling, jittered
///   backoff (see ``backoff(round:baseMs:random:)``), at most `retries` times, and only if the wait ends
///   within `retryBudgetMs` of the start.
/// - Otherwise the dispatch fails: with 503 `upstream_circuit_open` when an open circuit was skipped and
///   nothing failed in a way worth repeating, else with the last failure seen, else (no target could be
///   tried) with 502 `upstream_unavailable`.
/// - Once a target has answered the dispatch is over: nothing is retried after the first event of a stream
///   has been read (a failure fed afterwards only ends it). A whole answer is recorded as a success for the
///   upstream's circuit; a stream's verdict is left to its relay, when the stream ends.
///
/// Each failure also says what it means for the upstream's circuit breaker (``CircuitRecord``): the
/// upstream's own failures count against it; an answer, even a refusal or a 429, shows the server is up.
public struct DispatchPolicy: Sendable, Equatable {
    /// `upstream.retries`, `upstream.retry_backoff_ms` and `upstream.retry_budget_ms`.
    public struct Config: Sendable, Equatable {
        /// Rounds after the first.
        public var retries: Int
        /// The wait before the first retry round, in milliseconds; doubled for each further one.
        public var backoffBaseMs: Int
        /// No retry round starts unless its wait ends within this many milliseconds of the start.
        public var retryBudgetMs: Int

        public init(retries: Int = 0, backoffBaseMs: Int = 100, retryBudgetMs: Int = 10_000) {
            self.retries = retries
            self.backoffBaseMs = backoffBaseMs
            self.retryBudgetMs = retryBudgetMs
        }
    }

    /// The longest backoff between two rounds, in milliseconds.
    public static let maxBackoffMs = 5_000

    /// What the dispatcher does next.
    public enum Action: Sendable, Equatable {
        /// Try `targets[target]`: check it can be sent to (catalog, credential, egress, circuit), send, read the
        /// answer, and feed what happened.
        case send(target: Int)
        /// Sleep this long, then call ``waited()``.
        case wait(Duration)
        /// End the dispatch with this error.
        case fail(TrellisError)
    }

    /// How a call to a target failed, as far as the policy tells failures apart.
    public enum Failure: Sendable, Equatable {
        /// No answer: it could not connect, a timeout fired, or it sent something invalid.
        case noAnswer
        /// The server answered with this error status.
        case status(Int?)
        /// The client went away.
        case cancelled
    }

    /// What a call's end means for the upstream's circuit breaker.
    public enum CircuitRecord: Sendable, Equatable {
        /// The server answered: it is up, whatever it thought of the request.
        case success
        /// The server failed.
        case failure
        /// No verdict (the client went away first): the call's slot is only given back.
        case release
    }

    enum State: Sendable, Equatable {
        case idle
        case trying(target: Int)
        case waiting(Duration)
        case answered
        case failed(TrellisError)
    }

    /// How many targets the call has.
    public let targets: Int
    /// Whether the answer is a stream (its success is recorded by its relay, at its end).
    public let stream: Bool
    public let config: Config
    /// The current round: 0 for the first, so also the number of retry rounds so far.
    public private(set) var round = 0
    /// The last failure seen, returned when every target has failed.
    public private(set) var lastFailure: TrellisError?
    var state = State.idle
    /// The soonest an open circuit skipped in this round reopens, in seconds.
    var circuitOpen: Double?
    /// Whether this round had a failure worth another round.
    var retryable = false

    public init(targets: Int, stream: Bool, config: Config) {
        self.targets = max(0, targets)
        self.stream = stream
        self.config = config
    }

    // MARK: Events

    /// The first action: the first target, or failure when there is none.
    public mutating func start() -> Action {
        guard case .idle = state else { return current }
        guard targets > 0 else { return finish(lastFailure ?? Self.noServer) }
        state = .trying(target: 0)
        return .send(target: 0)
    }

    /// The target's upstream is not in the catalog: skipped.
    public mutating func unregistered(elapsed: Duration, random: inout some RandomNumberGenerator) -> Action {
        guard case .trying(let target) = state else { return current }
        return next(after: target, elapsed: elapsed, random: &random)
    }

    /// The target could not be sent to (its credential is missing, egress refused it): skipped, `error` kept
    /// as the last failure. Not worth another round by itself.
    public mutating func notSent(_ error: TrellisError, elapsed: Duration, random: inout some RandomNumberGenerator) -> Action {
        guard case .trying(let target) = state else { return current }
        lastFailure = error
        return next(after: target, elapsed: elapsed, random: &random)
    }

    /// The target's circuit is open and reopens in `retryAfter` seconds (nil: unknown, taken as 1).
    public mutating func circuitOpen(retryAfter: Double?, elapsed: Duration, random: inout some RandomNumberGenerator) -> Action {
        guard case .trying(let target) = state else { return current }
        let wait = retryAfter ?? 1
        circuitOpen = min(circuitOpen ?? wait, wait)
        return next(after: target, elapsed: elapsed, random: &random)
    }

    /// The call to the target failed (before anything reached the client): what to record on its circuit, and
    /// what to do next. `error` is the failure as the client would see it.
    public mutating func failed(
        _ failure: Failure, error: TrellisError, elapsed: Duration, random: inout some RandomNumberGenerator
    ) -> (circuit: CircuitRecord, action: Action) {
        let circuit: CircuitRecord = failure == .cancelled ? .release : Self.countsAgainstCircuit(failure) ? .failure : .success
        guard case .trying(let target) = state else {
            // Answered already (a stream that broke after its first event) or over: never another attempt.
            if case .answered = state { return (circuit, .fail(error)) }
            return (circuit, current)
        }
        lastFailure = error
        guard Self.movesOn(after: failure) else { return (circuit, finish(error)) }
        if Self.startsRetryRound(after: failure) { retryable = true }
        return (circuit, next(after: target, elapsed: elapsed, random: &random))
    }

    /// The target answered (a whole answer read, or a stream's first events): the dispatch is over. Returns
    /// what to record on its circuit now: a success for a whole answer, nothing for a stream.
    public mutating func answered() -> CircuitRecord? {
        guard case .trying = state else { return nil }
        state = .answered
        return stream ? nil : .success
    }

    /// The backoff is over: the next round starts with the first target.
    public mutating func waited() -> Action {
        guard case .waiting = state else { return current }
        round += 1
        retryable = false
        circuitOpen = nil
        state = .trying(target: 0)
        return .send(target: 0)
    }

    // MARK: Rules

    /// Whether another target may be tried after this failure: it is the upstream's (no answer, 5xx, 408) or
    /// the server pacing callers (429), not the request's fault (other 4xx) nor the client leaving.
    public static func movesOn(after failure: Failure) -> Bool {
        switch failure {
        case .noAnswer: true
        case .status(let status): (status ?? 0) >= 500 || status == 429 || status == 408
        case .cancelled: false
        }
    }

    /// Whether this failure is worth another round over every target: any that moves on, except 429.
    public static func startsRetryRound(after failure: Failure) -> Bool {
        movesOn(after: failure) && failure != .status(429)
    }

    /// Whether this failure counts against the upstream's circuit: no answer, or 5xx. An answered 4xx (429
    /// included) shows the server is up; a client leaving says nothing about it.
    public static func countsAgainstCircuit(_ failure: Failure) -> Bool {
        switch failure {
        case .noAnswer: true
        case .status(let status): (status ?? 0) >= 500
        case .cancelled: false
        }
    }

    /// The wait before retry round `round + 1`: `baseMs · 2^round`, between half and all of it (jitter, so
    /// callers that failed together do not come back together), at most ``maxBackoffMs``.
    public static func backoff(round: Int, baseMs: Int, random: inout some RandomNumberGenerator) -> Duration {
        let full = min(Double(max(0, baseMs)) * Double(1 << min(max(0, round), 16)), Double(maxBackoffMs))
        return .milliseconds(Int64(full / 2 + Double.random(in: 0...(full / 2), using: &random)))
    }

    /// Every target's circuit that was tried is open: 503, with `Retry-After` the soonest reopening (at least 1 s).
    public static func circuitOpenError(retryAfter: Double) -> TrellisError {
        let seconds = retryAfter.isFinite ? max(1, Int(min(retryAfter, 1e9).rounded(.up))) : 1
        return TrellisError(
            status: 503, type: "server_error", code: "upstream_circuit_open",
            message: "Every model server for this model is failing; the gateway stopped sending to them for a while.",
            headers: [("Retry-After", String(seconds))])
    }

    /// No target could be tried at all.
    public static let noServer = TrellisError.upstream("No model server is configured for this model.", code: "upstream_unavailable")

    // MARK: Steps

    /// The action already given, repeated for an event that came out of turn (it changes nothing).
    private var current: Action {
        switch state {
        case .trying(let target): .send(target: target)
        case .waiting(let wait): .wait(wait)
        case .failed(let error): .fail(error)
        case .idle, .answered: .fail(lastFailure ?? Self.noServer)
        }
    }

    private mutating func finish(_ error: TrellisError) -> Action {
        state = .failed(error)
        return .fail(error)
    }

    private mutating func next(after target: Int, elapsed: Duration, random: inout some RandomNumberGenerator) -> Action {
        if target + 1 < targets {
            state = .trying(target: target + 1)
            return .send(target: target + 1)
        }
        return endRound(elapsed: elapsed, random: &random)
    }

    /// Every target was tried in this round: another round, or the end.
    private mutating func endRound(elapsed: Duration, random: inout some RandomNumberGenerator) -> Action {
        guard retryable, round < config.retries else {
            if !retryable, let circuitOpen { return finish(Self.circuitOpenError(retryAfter: circuitOpen)) }
            return finish(lastFailure ?? Self.noServer)
        }
        let wait = Self.backoff(round: round, baseMs: config.backoffBaseMs, random: &random)
        guard elapsed + wait < .milliseconds(config.retryBudgetMs) else { return finish(lastFailure ?? Self.noServer) }
        state = .waiting(wait)
        return .wait(wait)
    }
}
