import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import Testing

@testable import TrellisServer

/// `trellis health` (the image's HEALTHCHECK) probes the listener `serve` opens from the same settings: the
/// environment's host, port and TLS, a wildcard host on loopback. The binary itself: Tests/e2e/test_health.py.
@Suite("Health probe")
struct HealthProbeTests {
    static func config(_ environment: [String: String]) throws -> TrellisConfig {
        try TrellisConfig.load(file: nil, environment: environment)
    }

    @Test("the listener is found from the settings: a wildcard host on loopback, any port, https with server.tls.*")
    func listenerFromSettings() throws {
        #expect(try HealthProbe(listenerOf: Self.config([:])).base == "http://127.0.0.1:8080")
        let cases: [(host: String, base: String)] = [
            ("0.0.0.0", "http://127.0.0.1:18180"),
            ("::", "http://[::1]:18180"),
            ("[::]", "http://[::1]:18180"),
            ("0:0:0:0:0:0:0:0", "http://[::1]:18180"),
            ("10.1.2.3", "http://10.1.2.3:18180"),
            ("::1", "http://[::1]:18180"),
            ("gateway.internal", "http://gateway.internal:18180"),
        ]
        for (host, base) in cases {
            let probe = try HealthProbe(listenerOf: Self.config(["TRELLIS_SERVER_HOST": host, "TRELLIS_SERVER_PORT": "18180"]))
            #expect(probe.base == base, "host \(host)")
        }
        #expect(throws: HealthProbe.Problem.self) { try HealthProbe(listenerOf: Self.config(["TRELLIS_SERVER_PORT": "0"])) }

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-health-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (cert, key) = try ResilienceTests.makeCertificate(in: directory)
        let tls = try Self.config([
            "TRELLIS_SERVER_HOST": "0.0.0.0", "TRELLIS_SERVER_PORT": "8443",
            "TRELLIS_SERVER_TLS_CERTIFICATE_FILE": cert, "TRELLIS_SERVER_TLS_KEY_FILE": key,
        ])
        #expect(try HealthProbe(listenerOf: tls).base == "https://127.0.0.1:8443")
    }

    @Test("a gateway on a port given by the environment: live and ready, one line naming the URL")
    func gatewayOnEnvironmentPort() async throws {
        try await TestGateway.run { gw in
            let probe = try HealthProbe(listenerOf: Self.config(["TRELLIS_SERVER_PORT": "\(gw.port)"]))
            for check in [HealthProbe.Check.live, .ready] {
                let outcome = await probe.run(check)
                #expect(outcome.healthy, "\(outcome.line)")
                #expect(outcome.line == "ok: http://127.0.0.1:\(gw.port)\(check.rawValue) answered 200")
            }
        }
    }

    @Test("an HTTPS listener whose certificate names neither the address nor a trusted issuer is still probed")
    func tlsListener() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-health-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (cert, key) = try ResilienceTests.makeCertificate(in: directory, subjectAltName: "DNS:gateway.example")
        try await TestGateway.run(configure: {
            $0.tlsCertificateFile = cert
            $0.tlsKeyFile = key
        }) { gw in
            let environment = [
                "TRELLIS_SERVER_HOST": "0.0.0.0", "TRELLIS_SERVER_PORT": "\(gw.port)",
                "TRELLIS_SERVER_TLS_CERTIFICATE_FILE": cert, "TRELLIS_SERVER_TLS_KEY_FILE": key,
            ]
            let outcome = try await HealthProbe(listenerOf: Self.config(environment)).run(.ready)
            #expect(outcome.healthy, "\(outcome.line)")
            #expect(outcome.line.hasPrefix("ok: https://127.0.0.1:\(gw.port)/readyz"))
            // Plain HTTP against the TLS listener is not healthy: the scheme follows server.tls.*.
            let plain = try await HealthProbe(listenerOf: Self.config(["TRELLIS_SERVER_PORT": "\(gw.port)"])).run(.live)
            #expect(!plain.healthy)
        }
    }

    @Test("nothing listening: unhealthy at once, one line saying the connection was refused")
    func nothingListening() async throws {
        let (fd, port) = try Self.closedPort()
        defer { close(fd) }
        let outcome = try await HealthProbe(listenerOf: Self.config(["TRELLIS_SERVER_PORT": "\(port)"])).run(.live, timeout: .seconds(30))
        #expect(!outcome.healthy)
        #expect(outcome.line.hasPrefix("http://127.0.0.1:\(port)/healthz: connection refused"), "\(outcome.line)")
        #expect(!outcome.line.contains("\n"))
    }

    @Test("a listener that is not ready: unhealthy with --ready, its status in the line")
    func notReady() async throws {
        let router = Router()
        router.get("healthz") { _, _ in "ok" }
        router.get("readyz") { _, _ in Response(status: .serviceUnavailable) }
        let server = try await startLocalServer(router, label: "not-ready")
        defer { server.task.cancel() }
        let probe = try HealthProbe(listenerOf: Self.config(["TRELLIS_SERVER_PORT": "\(server.port)"]))
        // A generous timeout: the default 3 s is a container's health check, too short for a busy test machine.
        #expect(await probe.run(.live, timeout: .seconds(30)).healthy)
        let ready = await probe.run(.ready, timeout: .seconds(30))
        #expect(!ready.healthy)
        #expect(ready.line == "http://127.0.0.1:\(server.port)/readyz answered 503 Service Unavailable")
    }

    /// A port nothing listens on: bound on 127.0.0.1, then closed.
    /// A port of 127.0.0.1 where nothing listens, kept so while the test runs: a socket bound to it that never
    /// listens (connections to it are refused, and no other test can take the port meanwhile). Close the
    /// descriptor at the end.
    static func closedPort() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        if !bound { close(fd) }
        try #require(bound)
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}
