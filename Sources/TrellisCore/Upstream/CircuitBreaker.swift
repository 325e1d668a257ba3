/// A circuit breaker for one upstream. After `failureThreshold` consecutive failures it opens and refuses
/// requests for `coolDown` seconds; then it turns half-open and lets up to `halfOpenProbes` trial requests
/// through at a time. A failed probe opens it again for a fresh cool-down; `successesToClose` successful
/// probes close it. Time is passed in (seconds on any monotonic clock), so tests need no waiting.
///
/// Use: call `allow(now:)` before sending; when it returns true, end the request with exactly one of
/// `record(success:now:)` (the upstream answered, or failed) or `release()` (the request ended without an
/// outcome, such as a client cancelling it). Outcomes are not tied to the admission they belong to: in
/// half-open, any outcome counts as a probe's. A request admitted while closed that ends after the breaker
/// reopened and turned half-open is therefore taken as a probe result too, which errs on the side of the
/// upstream's latest behaviour.
///
/// The value is not synchronized; keep it behind a lock (such as `Mutex`) when requests share it.
public struct CircuitBreaker: Sendable, Equatable {
    /// The breaker's settings. Values below their minimum are raised to it: counts to 1, the cool-down (NaN included) to 0.
    public struct Config: Sendable, Equatable {
        /// Consecutive failures that open the breaker.
        public var failureThreshold: Int
        /// Seconds the breaker stays open before it lets probes through.
        public var coolDown: Double
        /// Probes allowed in flight at once while half-open.
        public var halfOpenProbes: Int
        /// Successful probes that close the breaker.
        public var successesToClose: Int

        public init(failureThreshold: Int = 5, coolDown: Double = 10, halfOpenProbes: Int = 1, successesToClose: Int = 1) {
            self.failureThreshold = max(1, failureThreshold)
            self.coolDown = coolDown.isNaN ? 0 : max(0, coolDown)
            self.halfOpenProbes = max(1, halfOpenProbes)
            self.successesToClose = max(1, successesToClose)
        }
    }

    /// The breaker's state as reported.
    public enum State: Sendable, Equatable {
        /// Requests pass.
        case closed
        /// Requests are refused until the given time.
        case open(until: Double)
        /// The cool-down is over: a limited number of probes may pass.
        case halfOpen

        /// Which of the three states, without the open state's deadline.
        public var circuit: Circuit {
            switch self {
            case .closed: .closed
            case .open: .open
            case .halfOpen: .halfOpen
            }
        }

        /// `closed`, `open` or `half_open`, for metrics labels and status pages.
        public var label: String { circuit.rawValue }
    }

    /// The breaker's state as status pages, metrics and logs show it: the raw value (and the description, so
    /// string interpolation in logs gives the same text) is `closed`, `open` or `half_open`.
    public enum Circuit: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
        case closed
        case open
        case halfOpen = "half_open"

        public var description: String { rawValue }
    }

    enum Phase: Equatable {
        case closed
        case open(until: Double)
        case halfOpen(inFlight: Int, successes: Int)
    }

    public let config: Config
    /// Failures since the last success (the last one while closed, or the closing probe).
    public private(set) var consecutiveFailures = 0
    /// How many times the breaker has opened, reopening after a failed probe included.
    public private(set) var openedCount = 0
    var phase = Phase.closed

    public init(config: Config = Config()) {
        self.config = config
    }

    /// Whether a request may go now. Closed: always. Open: not until the cool-down ends, at which point the
    /// breaker turns half-open. Half-open: while fewer than `halfOpenProbes` probes are in flight, and the
    /// request counts as one of them until its outcome is recorded or it is released.
    public mutating func allow(now: Double) -> Bool {
        if case .open(let until) = phase {
            guard now >= until else { return false }
            phase = .halfOpen(inFlight: 0, successes: 0)
        }
        switch phase {
        case .closed:
            return true
        case .open:
            return false
        case .halfOpen(let inFlight, let successes):
            guard inFlight < config.halfOpenProbes else { return false }
            phase = .halfOpen(inFlight: inFlight + 1, successes: successes)
            return true
        }
    }

    /// Records how an admitted request ended.
    ///
    /// Closed: a success resets the consecutive-failure count; a failure adds to it and opens the breaker
    /// when it reaches `failureThreshold`. Half-open: the probe's slot is freed; a failure reopens the
    /// breaker for a fresh cool-down from `now`, a success counts towards `successesToClose`. Open (a
    /// request admitted before the breaker opened, ending late): a failure only adds to the count, and
    /// neither outcome changes the state or extends the cool-down.
    public mutating func record(success: Bool, now: Double) {
        switch phase {
        case .closed:
            if success {
                consecutiveFailures = 0
            } else {
                consecutiveFailures += 1
                if consecutiveFailures >= config.failureThreshold { open(now: now) }
            }
        case .open:
            if !success { consecutiveFailures += 1 }
        case .halfOpen(let inFlight, let successes):
            if success {
                consecutiveFailures = 0
                if successes + 1 >= config.successesToClose {
                    phase = .closed
                } else {
                    phase = .halfOpen(inFlight: max(0, inFlight - 1), successes: successes + 1)
                }
            } else {
                consecutiveFailures += 1
                open(now: now)
            }
        }
    }

    /// Ends an admitted request that has no outcome to record (cancelled before the upstream answered):
    /// in half-open its probe slot is freed; otherwise nothing changes.
    public mutating func release() {
        if case .halfOpen(let inFlight, let successes) = phase {
            phase = .halfOpen(inFlight: max(0, inFlight - 1), successes: successes)
        }
    }

    /// The state at `now`. An open breaker whose cool-down has ended reports half-open, since the next
    /// `allow` turns it so.
    public func state(now: Double) -> State {
        switch phase {
        case .closed: .closed
        case .open(let until): now >= until ? .halfOpen : .open(until: until)
        case .halfOpen: .halfOpen
        }
    }

    /// Probes in flight while half-open; 0 in the other states.
    public var probesInFlight: Int {
        if case .halfOpen(let inFlight, _) = phase { return inFlight }
        return 0
    }

    /// Seconds until the breaker turns half-open: nil when closed, the rest of the cool-down when open, and 0
    /// when half-open (refusals then last only while probes are in flight; a `Retry-After` built from this
    /// should be rounded up to at least 1).
    public func retryAfter(now: Double) -> Double? {
        switch phase {
        case .closed: nil
        case .open(let until): max(0, until - now)
        case .halfOpen: 0
        }
    }

    private mutating func open(now: Double) {
        phase = .open(until: now + config.coolDown)
        openedCount += 1
    }
}
