import Logging
import ServiceLifecycle
import TrellisCore
import TrellisUpstream

/// Active health checks: every `upstream.health_check_interval_ms`, each registered upstream is asked for
/// `GET /models` (all of them at once, each bounded by its connect timeout plus a second). A failed probe
/// counts towards opening its circuit; a successful one closes an open circuit at once. Results show in
/// `GET /admin/v1/upstreams` and as `trellis_upstream_up` / `trellis_upstream_circuit_open` in `/metrics`.
struct UpstreamProber: PeriodicService {
    let gateway: Gateway
    let interval: Duration
    let logger: Logger

    var waitsBeforeFirstRound: Bool { false }

    func run() async throws {
        guard interval > .zero else {
            // Returning would end the whole service group: stay until shutdown instead.
            try? await gracefulShutdown()
            return
        }
        await runRounds()
    }

    func round() async { await probeAll() }

    /// Probes every upstream once, concurrently, and records the outcomes.
    func probeAll() async {
        let upstreams = Array(gateway.snapshot.upstreams.values)
        await withTaskGroup(of: Void.self) { group in
            for upstream in upstreams {
                group.addTask {
                    let apiKey: String?
                    switch gateway.credential(for: upstream) {
                    case .key(let k): apiKey = k
                    case .none, .missing: apiKey = nil
                    }
                    let route: UpstreamRoute
                    do throws(TrellisError) {
                        route = try await gateway.egressCache.route(for: upstream, logger: logger)
                    } catch {
                        // Not sent: the server's health is unknown, and it is unusable either way.
                        gateway.health.probed(upstream.name, ok: false, reason: error.code ?? "egress_denied")
                        publish(upstream.name, up: false)
                        return
                    }
                    let failure = await gateway.upstreams.probe(
                        upstream: upstream, route: route, apiKey: apiKey, timeoutMs: upstream.timeouts.connectMs + 1_000
                    ).failureReason
                    let before = gateway.health.circuit(upstream.name)
                    gateway.health.probed(upstream.name, ok: failure == nil, reason: failure)
                    let after = gateway.health.circuit(upstream.name)
                    if before != after {
                        logger.notice("upstream circuit changed", metadata: ["upstream": "\(upstream.name)", "from": "\(before)", "to": "\(after)"])
                    }
                    publish(upstream.name, up: failure == nil)
                }
            }
        }
    }

    func publish(_ upstream: String, up: Bool) {
        gateway.metrics.upstreamState(upstream: upstream, circuitOpen: gateway.health.circuit(upstream) != .closed, up: up)
    }
}
