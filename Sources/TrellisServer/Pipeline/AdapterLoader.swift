import Logging
import Synchronization
import TrellisCore
import TrellisUpstream

/// Remembers which vLLM LoRA adapters each upstream has loaded, and loads one at most once at a time: the
/// first request for an adapter loads it, concurrent requests wait for that load, later ones go straight
/// through. When the upstream answers 404 for the adapter (it restarted and forgot it), the dispatcher calls
/// ``forget(_:upstream:)`` and the next call loads it again.
final class AdapterLoader: Sendable {
    private struct Key: Hashable {
        var upstream: String
        var adapter: String
    }

    private enum Entry {
        case loading(Task<Void, any Error>)
        case loaded
    }

    private let entries = Mutex<[Key: Entry]>([:])
    private let loads = Mutex(0)

    /// How many load calls were made (for tests and metrics).
    var loadCount: Int { loads.withLock { $0 } }

    func ensureLoaded(
        _ load: ModelSpec.AdapterLoad, upstream: Upstream, apiKey: String?, client: UpstreamClient, logger: Logger
    ) async throws(UpstreamFailure) {
        let key = Key(upstream: upstream.name, adapter: load.name)
        let pending: Task<Void, any Error>? = entries.withLock { entries in
            switch entries[key] {
            case .loaded?:
                return nil
            case .loading(let task)?:
                return task
            case nil:
                let task = Task {
                    do throws(UpstreamFailure) {
                        try await client.loadLoRAAdapter(upstream: upstream, name: load.name, path: load.path, apiKey: apiKey, logger: logger)
                    } catch {
                        throw error
                    }
                }
                entries[key] = .loading(task)
                loads.withLock { $0 += 1 }
                return task
            }
        }
        guard let task = pending else { return }
        do {
            try await task.value
            entries.withLock { entries in
                if case .loading? = entries[key] { entries[key] = .loaded }
            }
        } catch {
            entries.withLock { entries in
                if case .loading? = entries[key] { entries[key] = nil }
            }
            logger.warning("adapter load failed", metadata: ["upstream": "\(upstream.name)", "adapter": "\(load.name)"])
            throw (error as? UpstreamFailure) ?? UpstreamFailure(kind: .protocolError, upstream: upstream.name)
        }
    }

    func forget(_ load: ModelSpec.AdapterLoad, upstream: String) {
        _ = entries.withLock { $0.removeValue(forKey: Key(upstream: upstream, adapter: load.name)) }
    }
}
