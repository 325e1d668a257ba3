import NIOCore
import PostgresNIO
import TrellisCore

/// What a client sees when the store fails: a database that cannot be reached (or refuses the gateway's
/// credentials) is a 503 that changed nothing; a unique index that caught a concurrent duplicate is a 409.
/// Other errors stay what they are (a 500 without details).
public enum StoreFailure {
    public static let unavailableCode = "store_unavailable"

    public static func unavailable(_ message: String = "The store cannot be reached; nothing was changed. Try again shortly.") -> TrellisError {
        TrellisError(
            status: 503, type: "server_error", code: unavailableCode, message: message, headers: [("Retry-After", "2")])
    }

    /// True when `error` says the store is out of reach (not a bad request or a bug).
    public static func isUnavailable(_ error: any Error) -> Bool {
        (error as? TrellisError)?.code == unavailableCode
    }

    /// `error` in the store's terms.
    static func map(_ error: any Error) -> any Error {
        if error is TrellisError || error is CancellationError { return error }
        // A transaction's failure is the one inside it: its body's (a 404, a 409, a unique index), else BEGIN's or COMMIT's.
        if let transaction = error as? PostgresTransactionError,
            let inner = transaction.closureError ?? transaction.beginError ?? transaction.commitError
        {
            return map(inner)
        }
        if let psql = error as? PSQLError {
            if psql.code == .server, let state = psql.serverInfo?[.sqlState] {
                if state == "23505" { return TrellisError.conflict("That name is already taken.") }
                if state.hasPrefix("28") { return unavailable("The store refused the gateway's credentials.") }
                // Text PostgreSQL cannot hold (a NUL character), which SQLite would have stored.
                if state == "22021" || state == "22P05" {
                    return TrellisError.invalidRequest("Text with a NUL character (\\u0000) cannot be stored.", code: "invalid_text")
                }
                // A serialization failure or a deadlock: the transaction was rolled back whole.
                // The server refusing writes (25006: a demoted primary reached after a failover), a statement or
                // lock timeout (57014, 55P03): the change did not happen; another attempt may find it fine.
                if state == "25006" || state == "57014" || state == "55P03" { return unavailable() }
                if state == "40001" || state == "40P01" { return unavailable("The store was busy with a conflicting change; nothing was changed. Try again.") }
                // 08: connection exceptions; 57P: the server shutting down or starting; 53: out of resources.
                // (08P01, a protocol violation, is a fault in the gateway's own statement, not an outage.)
                if (state.hasPrefix("08") && state != "08P01") || state.hasPrefix("57P") || state.hasPrefix("53") { return unavailable() }
                return error
            }
            switch psql.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .failedToAddSSLHandler, .sslUnsupported:
                return unavailable()
            default:
                return error
            }
        }
        if error is IOError || error is ChannelError { return unavailable() }
        // The pool's own errors (its circuit breaker open, a connection timeout) are not public types.
        let type = String(reflecting: Swift.type(of: error))
        if type.contains("ConnectionPool") || type.contains("NIOConnectionError") { return unavailable() }
        return error
    }

    /// One line about why the store cannot be used, for the log: never the password, never a stack trace.
    public static func describe(_ error: any Error) -> String {
        if let psql = error as? PSQLError {
            if psql.code == .server, let state = psql.serverInfo?[.sqlState] {
                let message = psql.serverInfo?[.message] ?? "an error"
                if state.hasPrefix("28") { return "the database refused the credentials (\(state): \(message))" }
                return "the database answered \(state): \(message)"
            }
            if let tls = tlsProblem(psql) { return tls }
            if let underlying = psql.underlying { return "cannot connect (\(String(describing: underlying).prefix(200)))" }
            return "cannot connect (\(psql.code))"
        }
        if let trellis = error as? TrellisError { return trellis.message }
        return String(String(describing: error).prefix(200))
    }

    /// True when the database refused the credentials (a setting to fix, not an outage to wait out).
    public static func isCredentials(_ error: any Error) -> Bool {
        if let psql = error as? PSQLError, psql.code == .server, let state = psql.serverInfo?[.sqlState] { return state.hasPrefix("28") }
        return false
    }
}
