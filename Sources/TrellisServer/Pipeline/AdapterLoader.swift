import Logging
import Synchronization
import TrellisCore
import TrellisUpstream

/// Remembers which vLLM LoRA adapters each upstream has loaded, and loads one at most once at a time: the
/// first request for an adapter loads it, concurrent requests wait for that load, later ones go straight
/// through. When the upstream answers 404 for the adapter (it restarted and forgot it), the dispatcher calls
/// ``forget(_:upstream:)`` and the next call loads it again.
final class AdapterLoader: Sendable {
    /// The served name is namespaced by the owning tenant and tied to the path (`Adapter.loadedName`); the
    /// path is part of the key too, so a load for other weights is never taken for this one.
    private struct Key: Hashable {
        var upstream: String
        var adapter: ModelSpec.AdapterLoad
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
        _ load: ModelSpec.AdapterLoad, upstream: Upstream, route: UpstreamRoute, apiKey: String?, client: UpstreamClient, logger: Logger
    ) async throws(UpstreamFailure) {
        let key = Key(upstream: upstream.name, adapter: load)
        let pending: Task<Void, any Error>? = entries.withLock { entries in
            switch entries[key] {
            case .loaded?:
                return nil
            case .loading(let task)?:
                return task
            case nil:
                let task = Task {
                    do throws(UpstreamFailure) {
                        try await client.loadLoRAAdapter(
                            upstream: upstream, route: route, name: load.name, path: load.path, apiKey: apiKey, logger: logger)
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
            guard let failure = error as? UpstreamFailure else { throw UpstreamFailure(kind: .protocolError, upstream: upstream.name) }
            // A load the server refused (a name it holds from other weights, a bad path) is the deployment's
            // problem, not the request's: the client gets a server error, without the server's message (it
            // names the served name, which carries the owner's id).
            if failure.kind == .status, let status = failure.status, (400..<500).contains(status), status != 429 {
                throw UpstreamFailure(kind: .status, upstream: upstream.name, status: 502)
            }
            throw failure
        }
    }

    func forget(_ load: ModelSpec.AdapterLoad, upstream: String) {
        _ = entries.withLock { $0.removeValue(forKey: Key(upstream: upstream, adapter: load)) }
    }
}
