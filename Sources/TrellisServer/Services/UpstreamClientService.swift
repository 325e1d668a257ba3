import ServiceLifecycle
import TrellisUpstream

/// Shuts the upstream HTTP client down after the server has stopped.
struct UpstreamClientService: Service {
    let gateway: Gateway

    func run() async throws {
        try? await gracefulShutdown()
        try await gateway.upstreams.shutdown()
    }
}
