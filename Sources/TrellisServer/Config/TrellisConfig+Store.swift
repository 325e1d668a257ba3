import Foundation
import TrellisStore

/// Which store the gateway uses: `store.url` (absent: SQLite in the data directory), with the PostgreSQL
/// password by reference (`store.password_env`) and a CA file for `sslmode=verify-full`.
extension TrellisConfig {
    static let storeSettings: [Setting] = [
        string("store.url", "the store: absent for SQLite in data.dir; sqlite:///path, or postgres://user@host:5432/db?sslmode=…") {
            c, v throws(ConfigProblem) in
            c.storeURL = v.isEmpty ? nil : v
        },
        string("store.password_env", "name of the environment variable holding the PostgreSQL password") { c, v throws(ConfigProblem) in
            guard v.isEmpty || v.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ConfigProblem(message: "must be the name of an environment variable")
            }
            c.storePasswordEnv = v.isEmpty ? nil : v
        },
        file("store.ca_file", "PEM certificate authority for PostgreSQL with sslmode=verify-full") { $0.storeCAFile = $1 },
        int("store.operation_timeout_ms", "longest one store operation may take before it fails as unavailable", 100...600_000) {
            $0.storeOperationTimeoutMs = $1
        },
        int("store.retry_max_ms", "longest wait between attempts to reach a PostgreSQL store that is down at start", 100...600_000) {
            $0.storeRetryMaxMs = $1
        },
    ]

    /// Resolves `store.url` and its password into `storeLocation`; a malformed URL names the setting it came from. The
    /// URL is never echoed (it may hold a password).
    mutating func resolveStore(environment: [String: String], urlSource: String?) throws {
        guard let url = storeURL else {
            storeLocation = nil
            return
        }
        var password: String?
        if let name = storePasswordEnv {
            guard let value = environment[name], !value.isEmpty else {
                throw ConfigError(key: "store.password_env", source: "", problem: "the environment variable \(name) is not set")
            }
            password = value
        }
        do {
            storeLocation = try StoreLocation.parse(url, password: password, caFile: storeCAFile)
        } catch {
            throw ConfigError(key: "store.url", source: urlSource ?? "", problem: error.problem)
        }
    }
}
