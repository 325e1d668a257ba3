import Synchronization

/// The gateway-wide bound on requests in flight. Past it a request is answered 503 with `Retry-After` at
/// once, rather than queued without bound behind the ones already running.
final class InFlightLimit: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes a slot, or returns false (taking nothing) when all are taken.
    func enter() -> Bool {
        let now = count.wrappingAdd(1, ordering: .relaxed).newValue
        if now > limit {
            count.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func leave() {
        count.wrappingSubtract(1, ordering: .relaxed)
    }

    var current: Int { count.load(ordering: .relaxed) }
}
