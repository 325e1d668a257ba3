import Foundation

/// Where the store lives, parsed from `store.url` (`TRELLIS_STORE_URL`, `--store-url`): absent, SQLite in the
/// data directory; `sqlite:///abs/path` a SQLite file; `postgres://` or `postgresql://` a PostgreSQL database.
public enum StoreLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(PostgresSettings)

    /// Parses a store URL. `setting` names where it came from in the one-line error a malformed URL gets;
    /// `password` (from `store.password_env`) wins over a password in the URL.
    public static func parse(
        _ url: String, setting: String = "store.url", password: String? = nil, caFile: String? = nil
    ) throws(StoreURLError) -> StoreLocation {
        let text = url.trimmingCharacters(in: .whitespaces)
        func fail(_ problem: String) -> StoreURLError { StoreURLError(setting: setting, problem: problem) }
        if text.hasPrefix("sqlite://") {
            let path = String(text.dropFirst("sqlite://".count))
            guard path.hasPrefix("/"), path.count > 1 else { throw fail("a SQLite URL names an absolute file: sqlite:///var/lib/trellis/trellis.sqlite") }
            return .sqlite(path: path)
        }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") else {
            throw fail("the URL must start with postgres://, postgresql:// or sqlite://")
        }
        guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
            throw fail("not a URL of the form postgres://user@host:5432/database")
        }
        guard let user = components.user, !user.isEmpty else { throw fail("the URL names no user (postgres://user@host:5432/database)") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw fail("the URL names no database (postgres://user@host:5432/database)") }
        var settings = PostgresSettings(
            host: host, port: components.port ?? 5432, user: user, password: password ?? components.password, database: database,
            tls: .disable, caFile: caFile)
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = PostgresSettings.TLSMode(rawValue: item.value ?? "") else {
                    throw fail("sslmode must be disable, require or verify-full, not '\(item.value ?? "")'")
                }
                settings.tls = mode
            case "sslrootcert":
                settings.caFile = item.value
            case "connect_timeout":
                guard let seconds = item.value.flatMap(Int.init), (1...3_600).contains(seconds) else {
                    throw fail("connect_timeout must be a number of seconds from 1 to 3600")
                }
                settings.connectTimeoutSeconds = seconds
            case "pool_max":
                guard let size = item.value.flatMap(Int.init), (1...1000).contains(size) else { throw fail("pool_max must be between 1 and 1000") }
                settings.maxConnections = size
            default:
                throw fail("unknown URL parameter '\(item.name)' (known: sslmode, sslrootcert, connect_timeout, pool_max)")
            }
        }
        if settings.caFile != nil, settings.tls == .disable {
            throw fail("a CA file is set but sslmode is disable; use sslmode=verify-full")
        }
        return .postgres(settings)
    }
}

/// How to reach a PostgreSQL database. The password is never printed: `description` leaves it out.
public struct PostgresSettings: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable {
        /// Plain TCP (a private network, or a local socket's loopback).
        case disable
        /// TLS, the server's certificate not checked (encryption only).
        case require
        /// TLS, the certificate checked against the CA file (or the system's roots) and the host name.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// PEM file of the certificate authority for `verify-full` (`store.ca_file` or `sslrootcert`).
    public var caFile: String?
    public var connectTimeoutSeconds = 5
    public var maxConnections = 10

    public init(host: String, port: Int, user: String, password: String?, database: String, tls: TLSMode, caFile: String?) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
        self.caFile = caFile
    }

    /// `postgres://user@host:port/database?sslmode=…`, without the password.
    public var description: String {
        "postgres://\(user)@\(host):\(port)/\(database)?sslmode=\(tls.rawValue)"
    }
}

/// A store URL that cannot be used, with the setting it came from: one line at start.
public struct StoreURLError: Error, Sendable, CustomStringConvertible {
    public var setting: String
    public var problem: String

    public var description: String { "\(setting): \(problem)" }
}
