import Logging
import NIOSSL
import PostgresNIO
import TrellisCore

/// One connection of its own, outside the pool, to ask the database whether it can be used now and, when it
/// cannot, why. The pool waits out a failing database until the operation's deadline and then says only that
/// it did not answer; this fails at once with the real cause (a refused connection, or the server's SQLSTATE,
/// such as 28P01 for a wrong password), for `StoreFailure.describe` and `StoreFailure.isCredentials`.
public enum PostgresProbe {
    /// Connects to the database `settings` names, runs `SELECT 1` and disconnects; throws the raw failure
    /// (not mapped to a `TrellisError`), or a `StoreURLError` for a CA file that cannot be read.
    public static func check(_ settings: PostgresSettings) async throws {
        // Connecting is bounded by connect_timeout; a server that stalls after the login must not hold the
        // start's retries forever either.
        try await withDeadline(
            .seconds(settings.connectTimeoutSeconds + 5),
            onTimeout: { StoreFailure.unavailable("The database did not answer SELECT 1 in time.") },
            operation: { try await connectAndSelect(settings) })
    }

    static func connectAndSelect(_ settings: PostgresSettings) async throws {
        var configuration = PostgresConnection.Configuration(
            host: settings.host, port: settings.port, username: settings.user, password: settings.password, database: settings.database,
            tls: try tls(settings))
        configuration.options.connectTimeout = .seconds(Int64(settings.connectTimeoutSeconds))
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: PostgresStore.quiet)
        do {
            try await connection.query("SELECT 1", logger: PostgresStore.quiet)
            try await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// True when the database server itself answered `error` (it is up and refused: a wrong password, an unknown
    /// user or database), rather than the connection failing.
    public static func answeredByServer(_ error: any Error) -> Bool {
        (error as? PSQLError)?.code == .server
    }

    /// The same TLS choices as the store's pool (`PostgresStore.tlsConfiguration`), for a single connection.
    static func tls(_ settings: PostgresSettings) throws -> PostgresConnection.Configuration.TLS {
        guard let configuration = try PostgresStore.tlsConfiguration(settings) else { return .disable }
        return .require(try NIOSSLContext(configuration: configuration))
    }
}
