import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `trellis health`: exits 0 when the gateway answers `GET /healthz` (or `/readyz`), 1 otherwise. Used as the
/// container's health check, so the image needs no curl.
struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check that a gateway answers (exit 0) or not (exit 1).")

    @Option(help: "Gateway URL (default: $TRELLIS_URL, else http://127.0.0.1:8080).")
    var url: String?

    @Flag(help: "Check readiness (store open, catalog loaded) instead of liveness.")
    var ready = false

    func run() async throws {
        var base = url ?? ProcessInfo.processInfo.environment["TRELLIS_URL"] ?? "http://127.0.0.1:8080"
        while base.hasSuffix("/") { base.removeLast() }
        let request = HTTPClientRequest(url: base + (ready ? "/readyz" : "/healthz"))
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        var healthy = false
        if let response = try? await client.execute(request, timeout: .seconds(5)) {
            healthy = response.status.code == 200
        }
        try? await client.shutdown()
        print(healthy ? "ok" : "unavailable")
        if !healthy { throw ExitCode(1) }
    }
}
