import ArgumentParser
import Foundation
import TrellisServer

/// `trellis health`: exits 0 when this gateway answers `GET /healthz` (or `/readyz` with `--ready`), 1 otherwise,
/// printing one line either way. The container image's HEALTHCHECK, so the image needs no curl: it reads the same
/// settings as `serve` (configuration file, TRELLIS_* environment, --host/--port), so it probes the listener the
/// gateway actually opened.
struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that this gateway answers (exit 0) or not (exit 1).",
        discussion: """
            The address is the one `trellis serve` listens on, from the same settings (server.host, server.port,
            server.tls.*: flags, then TRELLIS_* environment variables, then the file); a wildcard host (0.0.0.0, ::) is
            probed on loopback. Over HTTPS the certificate is not verified (the probe dials an address, not the
            certificate's name, and sends nothing secret). --url probes another address, verified as usual.

            Liveness (/healthz, the default) is what an orchestrator should restart on; readiness (/readyz, --ready)
            is what a load balancer should route on: it is 503 while the catalog loads, while the store is out of
            reach, and from the start of a graceful shutdown.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(name: .long, help: "The address serve was given with --host (server.host).")
    var host: String?

    @Option(name: .long, help: "The port serve was given with --port (server.port).")
    var port: Int?

    @Option(help: "Probe this gateway URL instead of the listener the settings name.")
    var url: String?

    @Flag(help: "Check readiness (/readyz: store open, catalog loaded) instead of liveness (/healthz).")
    var ready = false

    func run() async throws {
        let probe: HealthProbe
        do {
            if let url {
                probe = try HealthProbe(url: url)
            } else {
                var overrides: [String: String] = [:]
                if let host { overrides["server.host"] = host }
                if let port { overrides["server.port"] = String(port) }
                probe = try HealthProbe(listenerOf: options.loadOrExit(extra: overrides))
            }
        } catch let problem as HealthProbe.Problem {
            throw refused(problem)
        }
        let outcome = await probe.run(ready ? .ready : .live)
        if outcome.healthy {
            print(outcome.line)
        } else {
            printRefusal(outcome.line)
            throw ExitCode(1)
        }
    }
}
