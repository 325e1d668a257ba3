import Testing

@testable import TrellisServer

/// The catalog check's single flight: the periodic round and the change listener never check side by side, and a
/// check asked for while one runs is run once more after it.
@Suite("The catalog check runs one at a time")
struct CheckGateTests {
    @Test("a check asked for while one runs is not run beside it, but once more after it")
    func rerunOnce() {
        let gate = CheckGate()
        #expect(gate.enter())
        #expect(!gate.enter(), "a second caller does not run beside the first")
        #expect(!gate.enter(), "nor a third; both are one rerun")
        #expect(gate.again(), "the runner checks once more")
        #expect(!gate.again(), "and then stops")
        #expect(gate.enter(), "the next caller runs")
        #expect(!gate.again())
    }

    @Test("the runner stops when nobody asked meanwhile")
    func noRerun() {
        let gate = CheckGate()
        #expect(gate.enter())
        #expect(!gate.again())
        #expect(gate.enter())
    }
}
