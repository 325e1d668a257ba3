import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// What `trellis health` asks: this gateway's own listener, found from the settings `serve` reads (so a container
/// whose `TRELLIS_SERVER_PORT`, host or TLS differs from the defaults is probed where it listens), or a URL given
/// outright. One GET, a short deadline, one line that says what happened.
public struct HealthProbe: Sendable {
    /// `/healthz`: the process answers (liveness). `/readyz`: the store prepared and the catalog loaded, and
    /// the store answering (readiness; see `OpsController.readiness`).
    public enum Check: String, Sendable {
        case live = "/healthz"
        case ready = "/readyz"
    }

    /// The outcome: healthy when the answer was 200; `line` says what was asked and what came back, on one line.
    public struct Outcome: Sendable {
        public let healthy: Bool
        public let line: String
    }

    /// A listener this probe cannot find from the settings (port 0, a bad URL): one line for the operator.
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The listener's root, e.g. `http://127.0.0.1:8080` or `https://[::1]:8443`.
    public let base: String
    /// False when `base` was derived from the gateway's own listener settings (see `init(listenerOf:)`).
    let verifiesCertificate: Bool

    /// The listener `trellis serve` opens with `config`: `server.host` (a wildcard address, 0.0.0.0 or ::, is
    /// probed on its loopback address, which it includes), `server.port`, and HTTPS when `server.tls.*` is set.
    ///
    /// Over HTTPS the certificate is not verified: the probe dials the gateway's own listener by address, which a
    /// certificate made for the gateway's public name does not list, and whose issuer (a private CA) the container
    /// may not trust. Nothing secret is sent (no key, no body) and only the status code is read, so an
    /// impostor could at worst make the check pass, which it could also do by listening on the port.
    public init(listenerOf config: TrellisConfig) throws(Problem) {
        guard config.port != 0 else {
            throw Problem(description: "server.port is 0 (a free port picked at start), so the port to probe is unknown: give it with --port or --url")
        }
        let host = Self.probeAddress(forListenerHost: config.host)
        let shown = host.contains(":") ? "[\(host)]" : host
        base = "\(config.tlsCertificateFile == nil ? "http" : "https")://\(shown):\(config.port)"
        verifiesCertificate = false
    }

    /// A URL given outright (`trellis health --url`): HTTPS is verified against the system's roots as usual.
    public init(url: String) throws(Problem) {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        guard let parsed = URL(string: base), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil else {
            throw Problem(description: "--url must be an http:// or https:// URL, got \(url)")
        }
        self.base = base
        verifiesCertificate = true
    }

    /// The address to dial for a listener bound to `host`: its loopback for a wildcard, the host itself otherwise.
    static func probeAddress(forListenerHost host: String) -> String {
        var bare = host
        if bare.hasPrefix("["), bare.hasSuffix("]") { bare = String(bare.dropFirst().dropLast()) }
        switch (try? SocketAddress(ipAddress: bare, port: 0))?.ipAddress {
        case "0.0.0.0": return "127.0.0.1"
        case "::": return "::1"
        default: return bare
        }
    }

    /// One GET of `check` within `timeout`. A refused connection fails at once (connecting is not retried).
    public func run(_ check: Check, timeout: Duration = .seconds(3)) async -> Outcome {
        let url = base + check.rawValue
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .init(timeout)
        configuration.redirectConfiguration = .disallow
        if !verifiesCertificate {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            configuration.tlsConfiguration = tls
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let outcome: Outcome
        do {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .init(timeout))
            let status = response.status
            outcome = Outcome(
                healthy: status.code == 200,
                line: status.code == 200 ? "ok: \(url) answered 200" : "\(url) answered \(status.code) \(status.reasonPhrase)")
        } catch {
            outcome = Outcome(healthy: false, line: "\(url): \(Self.describe(error, timeout: timeout))")
        }
        try? await client.shutdown()
        return outcome
    }

    /// A failure in a few words, on one line.
    static func describe(_ error: any Error, timeout: Duration) -> String {
        if let error = error as? NIOConnectionError {
            let causes = error.connectionErrors.map(\.error) + [error.dnsAAAAError, error.dnsAError].compactMap { $0 }
            return causes.first.map { describe($0, timeout: timeout) } ?? "cannot connect"
        }
        if let error = error as? IOError, error.errnoCode == ECONNREFUSED {
            return "connection refused (is the gateway running, and listening on this address and port?)"
        }
        if let error = error as? HTTPClientError, [.deadlineExceeded, .connectTimeout, .readTimeout].contains(error) {
            return "no answer within \(timeout)"
        }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return "no connection within \(timeout)"
        }
        if error is NIOSSLError || error is BoringSSLError {
            return "TLS failed (\(error)): does the listener serve HTTPS as server.tls.* says?"
        }
        return String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
