import Logging
import ServiceLifecycle

/// The first phase of a graceful shutdown: from the signal until the listener closes. `/readyz` answers 503
/// (`draining`) and every response carries `Connection: close` (see ``DrainState``), while requests are still
/// served as usual for `server.drain_delay_ms`: long enough for a load balancer probing `/readyz` to take this
/// replica out of rotation, and for its keep-alive connections to move to other replicas after their next
/// response, so that none is refused or cut. A gateway that never became ready (no balancer sends it traffic)
/// skips the wait. The phase ends early when cancelled (a second signal, or the shutdown's time limit).
struct DrainPhase: Service {
    let gateway: Gateway
    let delay: Duration
    let logger: Logger

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return
        }
        let wait = gateway.readiness.isStarted ? delay : .zero
        gateway.drain.beginDraining()
        logger.notice(
            "draining: /readyz answers 503 and responses close their connection; the listener closes next",
            metadata: ["drain_delay_ms": "\(Int(wait.milliseconds))"])
        if wait > .zero {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await Task.sleep(for: wait) }
                group.addTask { [drain = gateway.drain] in await drain.drainPhaseEnded() }
                await group.next()
                group.cancelAll()
            }
        }
        logger.notice(
            "closing the listener; requests in flight may finish", metadata: ["grace_seconds": "\(gateway.config.shutdownGraceSeconds)"])
    }
}

/// The gateway as one service: the Hummingbird application (the HTTP server, shut down first, then the
/// background services, the usage recorder's final flush among them) behind the drain phase, which a graceful
/// shutdown reaches first. Run it in a `ServiceGroup`; its graceful shutdown goes draining → closing → flushed.
public struct GatewayService: Service {
    let app: any Service
    let drain: DrainPhase
    let logger: Logger

    public func run() async throws {
        // Shut down in reverse order: the drain phase first, then the application.
        let group = ServiceGroup(configuration: .init(services: [app, drain], logger: logger))
        try await group.run()
    }
}
