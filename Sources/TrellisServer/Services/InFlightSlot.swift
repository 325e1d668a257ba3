import Synchronization

/// One taken slot (the gateway's `InFlightLimit`, a tenant's `TenantInFlightLimit`), given back exactly
/// once: when the response is written, when writing it fails, or when the response (and the body closure
/// holding this) is dropped without being written.
final class InFlightSlot: Sendable {
    private let giveBack: @Sendable () -> Void
    private let released = Atomic<Bool>(false)

    init(_ limit: InFlightLimit) {
        self.giveBack = { limit.leave() }
    }

    init(release: @escaping @Sendable () -> Void) {
        self.giveBack = release
    }

    func release() {
        if !released.exchange(true, ordering: .relaxed) { giveBack() }
    }

    deinit {
        release()
    }
}
