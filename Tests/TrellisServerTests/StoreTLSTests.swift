import Foundation
import Testing
import TrellisCore
import TrellisStore

@testable import TrellisServer

/// The store's TLS settings (`sslmode`, `sslrootcert` / `store.ca_file`) against a PostgreSQL cluster that takes
/// TLS connections only (scripts/postgres.sh start-tls): its pg_hba.conf refuses plain connections
/// (`hostnossl … reject`), so a connection it accepts is encrypted. Waits are polls with generous deadlines.
@Suite("PostgreSQL over TLS", .serialized)
struct StoreTLSTests {
    @Test("verify-full with the cluster's CA migrates and round-trips; require without a CA connects; disable is refused by the server")
    func modes() async throws {
        try await TLSCluster.with { cluster in
            // verify-full, the chain checked against the cluster's CA and 127.0.0.1 against the certificate.
            #expect(cluster.settings.tls == .verifyFull && cluster.settings.caFile == cluster.directory + "/ca.pem")
            try await PostgresProbe.check(cluster.settings)
            let store = try PostgresStore(settings: cluster.settings, operationTimeout: .seconds(10))
            defer { store.shutdown() }
            #expect(try await store.migrate().isEmpty == false)
            let made = try await store.createTenant(name: "acme", actor: "tls-test")
            #expect(try await store.tenants().map(\.id).contains(made.id))

            // require without a CA: encrypted, the certificate (from a CA nobody trusts) not checked.
            var require = cluster.settings
            require.tls = .require
            require.caFile = nil
            try await PostgresProbe.check(require)
            let encrypted = try PostgresStore(settings: require, operationTimeout: .seconds(10))
            defer { encrypted.shutdown() }
            #expect(try await encrypted.tenants().map(\.name).contains("acme"))

            // disable: the server refuses the plain connection (28000, no encryption), in one line without the password.
            var plain = cluster.settings
            plain.tls = .disable
            plain.caFile = nil
            let refusal = await probeFailure(plain)
            #expect(refusal.map(StoreFailure.isCredentials) == true)
            #expect(refusal.map(PostgresProbe.answeredByServer) == true)
            let line = refusal.map(StoreFailure.describe) ?? ""
            #expect(line.contains("28000") && line.contains("no encryption"), "\(line)")
            #expect(!line.contains("trellis-test") && !line.contains("\n"), "\(line)")
            try await expectUnavailable(plain)
        }
    }

    @Test("verify-full refuses a certificate from another CA, and one the system's roots do not know: 503 store_unavailable")
    func untrustedCertificate() async throws {
        try await TLSCluster.with { cluster in
            let other = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-otherca-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: other) }
            _ = try await PrivateCluster.run(["tls-ca", other])
            var stranger = cluster.settings
            stranger.caFile = other + "/ca.pem"
            var systemRoots = cluster.settings
            systemRoots.caFile = nil
            for settings in [stranger, systemRoots] {
                let failure = await probeFailure(settings)
                let line = failure.map(StoreFailure.describe) ?? "connected"
                // Before StoreFailure+TLS: "cannot connect (handshakeFailed(NIOSSL.BoringSSLError…CERTIFICATE_VERIFY_FAILED at /…/.build/…", cut at 200 characters.
                #expect(line.contains("certificate is not trusted") && line.contains("store.ca_file"), "\(settings.caFile ?? "system roots"): \(line)")
                #expect(!line.contains(".build") && !line.contains(".swift"), "\(line)")
                #expect(failure.map(StoreFailure.isCredentials) == false && failure.map(PostgresProbe.answeredByServer) == false)
                #expect(!line.contains("trellis-test") && !line.contains("\n"), "\(line)")
                try await expectUnavailable(settings)
            }
        }
    }

    @Test("verify-full checks the name: a certificate for localhost only is refused at 127.0.0.1, accepted at localhost")
    func nameNotInCertificate() async throws {
        try await TLSCluster.with(names: "DNS:localhost") { cluster in
            #expect(cluster.settings.host == "127.0.0.1")
            let failure = await probeFailure(cluster.settings)
            let line = failure.map(StoreFailure.describe) ?? "connected"
            // Before StoreFailure+TLS: "cannot connect (NIOSSLExtraError.failedToValidateHostname: Couldn't find <none> in certificate from peer)".
            #expect(line.contains("certificate does not name the host"), "\(line)")
            #expect(failure.map(StoreFailure.isCredentials) == false)
            try await expectUnavailable(cluster.settings)
            // The same certificate and CA under a name it holds: the refusal above was the name's.
            var named = cluster.settings
            named.host = "localhost"
            try await PostgresProbe.check(named)
            let store = try PostgresStore(settings: named, operationTimeout: .seconds(10))
            defer { store.shutdown() }
            #expect(try await store.migrate().isEmpty == false)
        }
    }

    @Test("a gateway on verify-full becomes ready and serves an admin write; on an untrusted CA it stays unready, saying why")
    func gateway() async throws {
        try await TLSCluster.with { cluster in
            try await TestGateway.run(store: .sqlite, configure: { $0.storeLocation = .postgres(cluster.settings) }) { gw in
                try await waitUntil(timeout: .seconds(90)) { try await gw.request(.GET, "/readyz").status == 200 }
                let made = try await gw.admin(.POST, "/tenants", ["name": "acme"])
                #expect(made.status == 201 || made.status == 200, "\(made.text)")
                let listed = try await gw.admin(.GET, "/tenants")
                #expect(listed.text.contains("\"acme\""), "\(listed.text)")
            }

            let other = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-otherca-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: other) }
            _ = try await PrivateCluster.run(["tls-ca", other])
            var stranger = cluster.settings
            stranger.caFile = other + "/ca.pem"
            let logs = LogCapture()
            try await TestGateway.onStore(stranger, logs: logs) { gw in
                try await waitUntil(timeout: .seconds(60)) { gw.gateway.readiness.failedStarts >= 1 }
                let ready = try await gw.request(.GET, "/readyz")
                #expect(ready.status == 503 && ready.errorCode == "store_unavailable", "\(ready.text)")
                let admin = try await gw.admin(.POST, "/tenants", ["name": "acme"])
                #expect(admin.status == 503 && admin.errorCode == "store_unavailable", "\(admin.text)")
                let attempt = logs.lines.first { $0.contains("store unreachable") } ?? ""
                #expect(attempt.contains("certificate is not trusted") && !attempt.contains("trellis-test"), "\(attempt)")
            }
        }
    }

    @Test("require against a server without TLS fails saying so: 503 store_unavailable")
    func serverWithoutTLS() async throws {
        try await PrivateCluster.with { cluster in
            var require = cluster.settings
            require.tls = .require
            let failure = await probeFailure(require)
            let line = failure.map(StoreFailure.describe) ?? "connected"
            // Before StoreFailure+TLS: "cannot connect (sslUnsupported)".
            #expect(line.contains("does not offer TLS"), "\(line)")
            try await expectUnavailable(require)
        }
    }

    /// The probe's failure for `settings` (raw, as `StoreFailure.describe` reads it); nil when it connected.
    func probeFailure(_ settings: PostgresSettings) async -> (any Error)? {
        do {
            try await PostgresProbe.check(settings)
            return nil
        } catch {
            return error
        }
    }

    /// The store on `settings` fails as a 503 `store_unavailable` that changed nothing, within its deadline.
    func expectUnavailable(_ settings: PostgresSettings, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let store = try PostgresStore(settings: settings, operationTimeout: .seconds(3))
        defer { store.shutdown() }
        do {
            try await store.ping()
            Issue.record("the store answered on \(settings)", sourceLocation: sourceLocation)
        } catch let error as TrellisError {
            #expect(error.status == 503 && error.code == StoreFailure.unavailableCode, "\(error)", sourceLocation: sourceLocation)
        }
    }
}

/// A PostgreSQL cluster of one test's own that takes TLS connections only (scripts/postgres.sh start-tls), its
/// settings on `verify-full` with the cluster's throwaway CA (`DIR/ca.pem`).
struct TLSCluster: Sendable {
    let directory: String
    let settings: PostgresSettings

    /// Starts a cluster whose certificate holds `names` (openssl subjectAltName syntax; nil: the script's
    /// 127.0.0.1 and localhost), runs `body`, and removes the cluster whatever happened.
    static func with<T>(names: String? = nil, _ body: (TLSCluster) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-pgtls-\(UUID().uuidString)").path
        let url = try await PrivateCluster.run(["start-tls", directory] + (names.map { [$0] } ?? []))
        return try await stopping({ _ = try? await PrivateCluster.run(["stop", directory]) }) {
            guard case .postgres(let settings) = try StoreLocation.parse(url.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw PrivateCluster.Problem(description: "scripts/postgres.sh start-tls printed no postgres:// URL")
            }
            return try await body(TLSCluster(directory: directory, settings: settings))
        }
    }
}
