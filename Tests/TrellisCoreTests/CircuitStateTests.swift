import Testing
import TrellisCore

/// The circuit's state as an enum whose text is what the admin API, metrics and logs have always shown.
@Suite("CircuitBreaker.Circuit")
struct CircuitStateTests {
    @Test("the raw values and descriptions are closed, open and half_open")
    func text() {
        #expect(CircuitBreaker.Circuit.allCases.map(\.rawValue) == ["closed", "open", "half_open"])
        #expect(CircuitBreaker.Circuit.allCases.map { "\($0)" } == ["closed", "open", "half_open"], "log metadata interpolates them")
        #expect(CircuitBreaker.Circuit(rawValue: "half_open") == .halfOpen)
    }

    @Test("a state's circuit drops the open state's deadline, and its label is the circuit's raw value")
    func stateCircuit() {
        var breaker = CircuitBreaker(config: .init(failureThreshold: 1, coolDown: 10))
        #expect(breaker.state(now: 0).circuit == .closed)
        breaker.record(success: false, now: 0)
        #expect(breaker.state(now: 1) == .open(until: 10))
        #expect(breaker.state(now: 1).circuit == .open && breaker.state(now: 5).circuit == .open)
        #expect(breaker.state(now: 10).circuit == .halfOpen)
        for state in [CircuitBreaker.State.closed, .open(until: 3), .halfOpen] { #expect(state.label == state.circuit.rawValue) }
    }
}
