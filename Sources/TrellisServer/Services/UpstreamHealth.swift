import Foundation
import OpenAIWire
import Synchronization
import TrellisCore

/// What the gateway knows of each upstream: a circuit breaker fed by every call (passive) and by the periodic
/// `GET /models` probe (active), the consecutive failures and the last outcomes. Reported by
/// `GET /admin/v1/upstreams` and `/metrics`.
///
/// Times for the breakers come from the gateway's monotonic clock (injectable, so tests open and close a
/// circuit without waiting); the wall-clock times are for people reading the report.
final class UpstreamHealth: Sendable {
    struct Entry: Sendable {
        var breaker: CircuitBreaker
        var lastSuccess: Date?
        var lastFailure: Date?
        var lastFailureReason: String?
        var lastProbe: Date?
        var lastProbeOK: Bool?
        var successes = 0
        var failures = 0
        /// Openings counted by breakers replaced after a successful probe.
    }

    private let entries = Mutex<[String: Entry]>([:])
    let breakerConfig: CircuitBreaker.Config
    let clock: @Sendable () -> Double

    init(breakerConfig: CircuitBreaker.Config = .init(), clock: @escaping @Sendable () -> Double) {
        self.breakerConfig = breakerConfig
        self.clock = clock
    }

    private func update<T>(_ upstream: String, _ body: (inout Entry) -> T) -> T {
        entries.withLock { e in
            var entry = e[upstream] ?? Entry(breaker: CircuitBreaker(config: breakerConfig))
            let result = body(&entry)
            e[upstream] = entry
            return result
        }
    }

    /// Whether a call may go to `upstream` now. When this returns true the caller ends the call with exactly
    /// one of `success`, `failure` or `release`.
    func allow(_ upstream: String) -> Bool {
        let now = clock()
        return update(upstream) { $0.breaker.allow(now: now) }
    }

    /// Seconds until an open circuit lets a probe through; nil when it is closed.
    func retryAfter(_ upstream: String) -> Double? {
        let now = clock()
        return entries.withLock { $0[upstream]?.breaker.retryAfter(now: now) }
    }

    /// Records a call that the upstream answered; true when this changed the circuit's state.
    @discardableResult
    func success(_ upstream: String, at date: Date = Date()) -> Bool {
        let now = clock()
        return update(upstream) { entry in
            let before = entry.breaker.state(now: now).circuit
            entry.breaker.record(success: true, now: now)
            entry.lastSuccess = date
            entry.successes += 1
            return before != entry.breaker.state(now: now).circuit
        }
    }

    /// Records a call the upstream failed; true when this changed the circuit's state.
    @discardableResult
    func failure(_ upstream: String, reason: String, at date: Date = Date()) -> Bool {
        let now = clock()
        return update(upstream) { entry in
            let before = entry.breaker.state(now: now).circuit
            entry.breaker.record(success: false, now: now)
            entry.lastFailure = date
            entry.lastFailureReason = reason
            entry.failures += 1
            return before != entry.breaker.state(now: now).circuit
        }
    }

    /// A call that ended with no verdict on the upstream (the client went away first).
    func release(_ upstream: String) {
        update(upstream) { $0.breaker.release() }
    }

    /// The outcome of an active probe. A probe that could not reach the server (connect error, timeout, 5xx)
    /// counts like a failed call, so a dead server's circuit opens without any traffic. A successful probe
    /// only says the server is alive: it never clears failures counted from real calls (a server can list its
    /// models while every completion fails), so closing a circuit is left to real calls in half-open.
    func probed(_ upstream: String, ok: Bool, reason: String?, at date: Date = Date()) {
        let now = clock()
        update(upstream) { entry in
            entry.lastProbe = date
            entry.lastProbeOK = ok
            if !ok {
                entry.breaker.record(success: false, now: now)
                entry.lastFailure = date
                entry.lastFailureReason = reason
            }
        }
    }

    func entry(_ upstream: String) -> Entry {
        entries.withLock { $0[upstream] ?? Entry(breaker: CircuitBreaker(config: breakerConfig)) }
    }

    /// The circuit's state now (its `rawValue` is what the admin API and logs show: `closed`, `open`, `half_open`).
    func circuit(_ upstream: String) -> CircuitBreaker.Circuit {
        entry(upstream).breaker.state(now: clock()).circuit
    }

    /// What the admin API reports for an upstream: nothing known yet, or whether its circuit is closed.
    enum Status: String, Sendable {
        case unknown, healthy, unhealthy

        init(_ entry: Entry, state: CircuitBreaker.State) {
            if entry.lastSuccess == nil && entry.lastFailure == nil && entry.lastProbeOK != true {
                self = .unknown
            } else {
                self = state == .closed ? .healthy : .unhealthy
            }
        }
    }

    func json(_ upstream: String) -> JSONValue {
        let e = entry(upstream)
        let state = e.breaker.state(now: clock())
        var out: JSONObject = [
            "status": .string(Status(e, state: state).rawValue),
            "circuit": .string(state.circuit.rawValue),
            "consecutive_failures": .int(e.breaker.consecutiveFailures),
            "circuit_opened": .int(e.breaker.openedCount),
            "successes": .int(e.successes),
            "failures": .int(e.failures),
            "last_success_at": .time(e.lastSuccess),
            "last_failure_at": .time(e.lastFailure),
            "last_failure_reason": .optionalString(e.lastFailureReason),
            "last_probe_at": .time(e.lastProbe),
        ]
        out["last_probe_ok"] = e.lastProbeOK.map { .bool($0) } ?? .null
        if case .open(let until) = state { out["retry_after_seconds"] = .double((Swift.max(0, until - clock()) * 10).rounded(.up) / 10) }
        return .object(out)
    }
}
