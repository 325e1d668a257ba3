import Synchronization
import TrellisCore

/// Holds the current catalog snapshot. Readers take a reference under a lock held for a pointer copy; writers
/// swap in a newer snapshot, never an older one, so concurrent reloads cannot go back in time.
final class CatalogHolder: Sendable {
    private let state: Mutex<CatalogSnapshot>

    init(_ snapshot: CatalogSnapshot = .empty) {
        self.state = Mutex(snapshot)
    }

    var current: CatalogSnapshot {
        state.withLock { $0 }
    }

    /// Installs `snapshot` unless a newer one is already in place. Returns whether it was installed.
    @discardableResult
    func install(_ snapshot: CatalogSnapshot) -> Bool {
        state.withLock { current in
            guard snapshot.generation >= current.generation else { return false }
            current = snapshot
            return true
        }
    }
}
