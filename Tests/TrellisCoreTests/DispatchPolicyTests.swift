import Testing
import TrellisCore

/// The dispatcher's fallback and retry rules, each stated on the policy alone: time and the random source are
/// passed in, so nothing here sends, sleeps or depends on luck. `DispatchDrive` plays the dispatcher's part.
@Suite("DispatchPolicy")
struct DispatchPolicyTests {
    typealias Policy = DispatchPolicy

    static let serverError = TrellisError.upstream("The model server failed to answer (HTTP 500).")
    static let timedOut = TrellisError.upstreamTimeout("The model server did not answer in time (first byte timeout).")
    static let rateLimited = TrellisError(
        status: 429, type: "rate_limit_error", code: "upstream_rate_limited", message: "The model server is rate limiting requests; try again later.")
    static let refused = TrellisError.invalidRequest("too long", code: "context_length_exceeded")
    static let egressDenied = TrellisError.upstream("The model server's address is not allowed.", code: "egress_denied")

    static func policy(targets: Int, retries: Int = 0, baseMs: Int = 100, budgetMs: Int = 10_000, stream: Bool = false) -> Policy {
        Policy(targets: targets, stream: stream, config: .init(retries: retries, backoffBaseMs: baseMs, retryBudgetMs: budgetMs))
    }

    // MARK: Order and answers

    @Test("the first action sends to the first target; a plan with no target fails with 502 upstream_unavailable")
    func start() {
        var policy = Self.policy(targets: 3)
        #expect(policy.start() == .send(target: 0))
        var none = Self.policy(targets: 0, retries: 3)
        #expect(none.start() == .fail(Policy.noServer))
        #expect(Policy.noServer.status == 502 && Policy.noServer.code == "upstream_unavailable")
    }

    @Test("an answer ends the dispatch: a whole answer is a success on its circuit, a stream's verdict is left to its relay")
    func answerEnds() {
        var whole = Self.policy(targets: 2)
        _ = whole.start()
        #expect(whole.answered() == .success)
        #expect(whole.round == 0)
        var stream = Self.policy(targets: 2, stream: true)
        _ = stream.start()
        #expect(stream.answered() == nil)
    }

    @Test("connect errors, timeouts, invalid answers and 5xx move on to the next target, in order, and count against its circuit")
    func upstreamFailuresMoveOn() {
        let trace = DispatchDrive.run(Self.policy(targets: 4)) { target, _ in
            switch target {
            case 0: .failed(.noAnswer, Self.timedOut)
            case 1: .failed(.status(500), Self.serverError)
            case 2: .failed(.status(503), Self.serverError)
            default: .answered
            }
        }
        #expect(trace.sent == [0, 1, 2, 3])
        #expect(trace.circuit == [.failure, .failure, .failure, .success])
        #expect(trace.end == .answered(retries: 0))
    }

    @Test(
        "a 4xx ends the attempt at once with its own error; the server answered, so its circuit records a success",
        arguments: [400, 401, 403, 404, 413, 422])
    func clientErrorEnds(status: Int) {
        let trace = DispatchDrive.run(Self.policy(targets: 3, retries: 2)) { _, _ in .failed(.status(status), Self.refused) }
        #expect(trace.sent == [0], "no other target, no other round")
        #expect(trace.circuit == [.success])
        #expect(trace.end == .failed(Self.refused))
        #expect(trace.waits.isEmpty)
    }

    @Test("a 429 moves on to the next target but never starts a retry round, and does not count against the circuit")
    func rateLimitMovesOnWithoutRetry() {
        let trace = DispatchDrive.run(Self.policy(targets: 2, retries: 3)) { _, _ in .failed(.status(429), Self.rateLimited) }
        #expect(trace.sent == [0, 1])
        #expect(trace.waits.isEmpty, "a 429 alone is not worth another round")
        #expect(trace.circuit == [.success, .success])
        #expect(trace.end == .failed(Self.rateLimited))

        // Moving on from a 429 to a server that answers.
        let next = DispatchDrive.run(Self.policy(targets: 2)) { target, _ in target == 0 ? .failed(.status(429), Self.rateLimited) : .answered }
        #expect(next.sent == [0, 1] && next.end == .answered(retries: 0))
    }

    @Test("a 429 beside a 5xx: the 5xx makes the round worth repeating, and the last failure (the 429) is what the client gets")
    func rateLimitBesideServerError() {
        let trace = DispatchDrive.run(Self.policy(targets: 2, retries: 1)) { target, _ in
            target == 0 ? .failed(.status(500), Self.serverError) : .failed(.status(429), Self.rateLimited)
        }
        #expect(trace.sent == [0, 1, 0, 1])
        #expect(trace.waits.count == 1)
        #expect(trace.end == .failed(Self.rateLimited))
    }

    @Test("a 408 moves on and starts a retry round, but the server answered: a success on its circuit")
    func requestTimeoutIsRetried() {
        let trace = DispatchDrive.run(Self.policy(targets: 1, retries: 1)) { _, _ in .failed(.status(408), Self.timedOut) }
        #expect(trace.sent == [0, 0])
        #expect(trace.circuit == [.success, .success])
        #expect(trace.end == .failed(Self.timedOut))
    }

    @Test("an answered error status without a code ends the attempt like a 4xx")
    func statusWithoutCode() {
        let trace = DispatchDrive.run(Self.policy(targets: 2, retries: 2)) { _, _ in .failed(.status(nil), Self.serverError) }
        #expect(trace.sent == [0])
        #expect(trace.circuit == [.success])
    }

    @Test("the client going away releases the call's circuit slot and ends the dispatch with its error, never retried")
    func cancelled() {
        let gone = TrellisError(status: 499, type: "invalid_request_error", code: "client_closed_request", message: "The client closed the request.")
        let trace = DispatchDrive.run(Self.policy(targets: 3, retries: 2)) { _, _ in .failed(.cancelled, gone) }
        #expect(trace.sent == [0])
        #expect(trace.circuit == [.release])
        #expect(trace.end == .failed(gone))
    }

    // MARK: Open circuits

    @Test("every circuit open is 503 upstream_circuit_open, Retry-After the soonest reopening rounded up")
    func allCircuitsOpen() {
        let trace = DispatchDrive.run(Self.policy(targets: 3, retries: 2)) { target, _ in .circuitOpen([12.2, 3.4, 7.0][target]) }
        #expect(trace.sent == [0, 1, 2])
        #expect(trace.waits.isEmpty, "open circuits are not retried")
        guard case .failed(let error) = trace.end else {
            Issue.record("expected a failure, got \(trace.end)")
            return
        }
        #expect(error.status == 503 && error.type == "server_error" && error.code == "upstream_circuit_open")
        #expect(error.headers.count == 1 && error.headers.first?.0 == "Retry-After" && error.headers.first?.1 == "4")
        #expect(error == Policy.circuitOpenError(retryAfter: 3.4))
    }

    @Test("Retry-After for open circuits is at least 1 s: half-open (0 s) and an unknown time both give 1", arguments: [0.0, 0.2, 1.0])
    func circuitRetryAfterFloor(seconds: Double) {
        #expect(Policy.circuitOpenError(retryAfter: seconds).headers.first?.1 == "1")
        let unknown = DispatchDrive.run(Self.policy(targets: 1)) { _, _ in .circuitOpen(nil) }
        #expect(unknown.end == .failed(Policy.circuitOpenError(retryAfter: 1)))
    }

    @Test("an open circuit beside a 429, a refused egress or a missing upstream is still 503: nothing failed worth repeating")
    func circuitOpenBesideNonRetryable() {
        let trace = DispatchDrive.run(Self.policy(targets: 4, retries: 2)) { target, _ in
            switch target {
            case 0: .failed(.status(429), Self.rateLimited)
            case 1: .circuitOpen(5)
            case 2: .notSent(Self.egressDenied)
            default: .unregistered
            }
        }
        #expect(trace.sent == [0, 1, 2, 3])
        #expect(trace.end == .failed(Policy.circuitOpenError(retryAfter: 5)))
    }

    @Test("an open circuit beside a 5xx: the round is retried, and when retries run out the 5xx is returned, not 503")
    func circuitOpenBesideServerError() {
        let trace = DispatchDrive.run(Self.policy(targets: 2, retries: 1)) { target, _ in
            target == 0 ? .circuitOpen(9) : .failed(.status(502), Self.serverError)
        }
        #expect(trace.sent == [0, 1, 0, 1])
        #expect(trace.end == .failed(Self.serverError))
    }

    @Test("a round where every circuit is open ends the dispatch even after an earlier round failed worth repeating")
    func circuitsOpenInALaterRound() {
        let trace = DispatchDrive.run(Self.policy(targets: 1, retries: 3)) { _, round in
            round == 0 ? .failed(.noAnswer, Self.timedOut) : .circuitOpen(10)
        }
        #expect(trace.sent == [0, 0])
        #expect(trace.end == .failed(Policy.circuitOpenError(retryAfter: 10)))
    }

    // MARK: Skipped targets and the error returned

    @Test("targets not in the catalog are skipped; a refused credential or egress is kept as the error; neither starts a round")
    func skippedTargets() {
        let trace = DispatchDrive.run(Self.policy(targets: 3, retries: 2)) { target, _ in
            target == 1 ? .notSent(Self.egressDenied) : .unregistered
        }
        #expect(trace.sent == [0, 1, 2])
        #expect(trace.circuit.isEmpty, "nothing was sent, nothing is recorded")
        #expect(trace.end == .failed(Self.egressDenied))
        let nothing = DispatchDrive.run(Self.policy(targets: 2, retries: 2)) { _, _ in .unregistered }
        #expect(nothing.end == .failed(Policy.noServer))
    }

    @Test("when every target fails, the client gets the last failure seen")
    func lastFailureWins() {
        let trace = DispatchDrive.run(Self.policy(targets: 3)) { target, _ in
            [DispatchDrive.Outcome.failed(.status(500), Self.serverError), .notSent(Self.egressDenied), .failed(.noAnswer, Self.timedOut)][target]
        }
        #expect(trace.end == .failed(Self.timedOut))
        let egressLast = DispatchDrive.run(Self.policy(targets: 2)) { target, _ in
            target == 0 ? .failed(.status(500), Self.serverError) : .notSent(Self.egressDenied)
        }
        #expect(egressLast.end == .failed(Self.egressDenied))
    }
}
