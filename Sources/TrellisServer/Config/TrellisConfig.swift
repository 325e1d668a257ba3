import Foundation
import HTTPTypes
import Logging
import OpenAIWire
import TrellisCore
import TrellisStore

/// The deployment's settings, validated: a value of this type cannot be invalid. Built by
/// ``TrellisConfig/load(file:environment:overrides:)`` from flags > environment > file > defaults.
public struct TrellisConfig: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// The largest request body accepted (413 beyond).
    public var maxBodyBytes = 8 << 20
    /// Idle keep-alive connections are closed after this long.
    public var idleTimeoutSeconds = 75
    /// How long a graceful shutdown waits for in-flight requests.
    public var shutdownGraceSeconds = 30
    public var dataDir = "./data"
    /// The operator key. Without one the administration API refuses every call.
    public var adminKey: String?
    public var logLevel: Logger.Level = .info
    public var usageFlushIntervalMs = 1_000
    public var usageBatchSize = 512
    public var usageBufferCapacity = 100_000
    public var catalogRefreshIntervalMs = 2_000
    /// A directory of declarative catalog files applied at start; nil for none.
    public var catalogDir: String?
    public var upstreamMaxConnectionsPerHost = 1_024
    public var upstreamConnectTimeoutMs = 5_000
    public var upstreamReadTimeoutMs = 120_000
    public var maxMessages = 2_048
    /// The largest document a knowledge base accepts (413 beyond).
    public var maxDocumentBytes = 16 << 20
    /// Deployment defaults for keys and tenants that set no limit of their own (nil: not limited).
    public var defaultKeyLimits = Limits(concurrency: 512)
    public var defaultTenantLimits = Limits()
    public var defaultMonthlyTokenQuota: Int?
    /// Tokens reserved for the answer when a request gives no max_tokens and its model no ceiling.
    public var defaultCompletionReservation = 1_024
    /// How often expired captured interactions are deleted.
    public var capturePurgeIntervalSeconds = 3_600

    public init() {}

    public var databasePath: String { (dataDir as NSString).appendingPathComponent("trellis.sqlite") }

    /// Every setting: its key, what it holds, and how it is read into the config.
    struct Setting: Sendable {
        let key: String
        let help: String
        let isList: Bool
        let apply: @Sendable (inout TrellisConfig, RawSettings.Value) throws(ConfigProblem) -> Void
    }

    struct ConfigProblem: Error {
        let message: String
    }

    static let settings: [Setting] = [
        int("server.port", "TCP port to listen on (0 picks a free one)", 0...65535) { $0.port = $1 },
        string("server.host", "address to listen on") { c, v throws(ConfigProblem) in
            guard !v.isEmpty, !v.contains(" ") else { throw ConfigProblem(message: "must be a host name or IP address") }
            c.host = v
        },
        int("server.max_body_bytes", "largest request body accepted", 1_024...1_073_741_824) { $0.maxBodyBytes = $1 },
        int("server.idle_timeout_seconds", "idle connection timeout", 1...86_400) { $0.idleTimeoutSeconds = $1 },
        int("server.shutdown_grace_seconds", "how long shutdown waits for in-flight requests", 0...3_600) { $0.shutdownGraceSeconds = $1 },
        int("knowledge.max_document_bytes", "largest document accepted for a knowledge base", 1_024...1_073_741_824) { $0.maxDocumentBytes = $1 },
        optionalInt("limits.key_rpm", "requests per minute for keys that set none", 1...100_000_000) { $0.defaultKeyLimits.requestsPerMinute = $1 },
        optionalInt("limits.key_tpm", "tokens per minute for keys that set none", 1...1_000_000_000_000) { $0.defaultKeyLimits.tokensPerMinute = $1 },
        optionalInt("limits.key_concurrency", "concurrent requests per key (default 512)", 1...1_000_000) { $0.defaultKeyLimits.concurrency = $1 },
        optionalInt("limits.tenant_rpm", "requests per minute for tenants that set none", 1...100_000_000) { $0.defaultTenantLimits.requestsPerMinute = $1 },
        optionalInt("limits.tenant_tpm", "tokens per minute for tenants that set none", 1...1_000_000_000_000) { $0.defaultTenantLimits.tokensPerMinute = $1 },
        optionalInt("limits.tenant_concurrency", "concurrent requests per tenant", 1...1_000_000) { $0.defaultTenantLimits.concurrency = $1 },
        optionalInt("limits.tenant_monthly_token_quota", "tokens per calendar month for tenants that set none", 1...1_000_000_000_000_000) {
            $0.defaultMonthlyTokenQuota = $1
        },
        int("limits.default_completion_reservation", "tokens reserved for an answer without max_tokens", 1...1_000_000) {
            $0.defaultCompletionReservation = $1
        },
        int("capture.purge_interval_seconds", "how often expired captured interactions are deleted", 60...86_400) { $0.capturePurgeIntervalSeconds = $1 },
        int("server.max_messages", "most messages in one chat request", 1...100_000) { $0.maxMessages = $1 },
        string("data.dir", "directory of the SQLite database") { c, v throws(ConfigProblem) in
            guard !v.isEmpty else { throw ConfigProblem(message: "must not be empty") }
            c.dataDir = v
        },
        string("admin.key", "the operator key (prefer the environment or admin.key_file)") { c, v throws(ConfigProblem) in
            try c.setAdminKey(v)
        },
        string("admin.key_file", "file holding the operator key") { c, path throws(ConfigProblem) in
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigProblem(message: "cannot read the file '\(path)'")
            }
            try c.setAdminKey(text.trimmingCharacters(in: .whitespacesAndNewlines))
        },
        string("log.level", "trace, debug, info, notice, warning, error or critical") { c, v throws(ConfigProblem) in
            guard let level = Logger.Level(rawValue: v.lowercased()) else {
                throw ConfigProblem(message: "must be one of trace, debug, info, notice, warning, error, critical")
            }
            c.logLevel = level
        },
        int("usage.flush_interval_ms", "how often buffered usage rows are written", 10...60_000) { $0.usageFlushIntervalMs = $1 },
        int("usage.batch_size", "usage rows per write transaction", 1...100_000) { $0.usageBatchSize = $1 },
        int("usage.buffer_capacity", "usage rows held in memory at most", 100...10_000_000) { $0.usageBufferCapacity = $1 },
        string("catalog.dir", "directory of declarative catalog YAML files applied at start") { c, v throws(ConfigProblem) in
            guard !v.isEmpty else {
                c.catalogDir = nil
                return
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: v, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ConfigProblem(message: "'\(v)' is not a directory")
            }
            c.catalogDir = v
        },
        int("catalog.refresh_interval_ms", "how often another process's catalog changes are picked up", 100...3_600_000) {
            $0.catalogRefreshIntervalMs = $1
        },
        int("upstream.max_connections_per_host", "connection pool size per model server", 1...100_000) { $0.upstreamMaxConnectionsPerHost = $1 },
        int("upstream.connect_timeout_ms", "connect timeout for model servers", 1...600_000) { $0.upstreamConnectTimeoutMs = $1 },
        int("upstream.read_timeout_ms", "longest silence on an upstream connection", 1...3_600_000) { $0.upstreamReadTimeoutMs = $1 },
    ]

    static var knownKeys: Set<String> { Set(settings.map(\.key)) }
    static var listKeys: Set<String> { Set(settings.filter(\.isList).map(\.key)) }

    mutating func setAdminKey(_ key: String) throws(ConfigProblem) {
        if key.isEmpty {
            adminKey = nil
            return
        }
        guard key.utf8.count >= 16 else { throw ConfigProblem(message: "must be at least 16 characters") }
        guard key.utf8.count <= 512, key.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw ConfigProblem(message: "must be printable ASCII without spaces, at most 512 characters")
        }
        adminKey = key
    }

    static func int(
        _ key: String, _ help: String, _ range: ClosedRange<Int>, _ set: @escaping @Sendable (inout TrellisConfig, Int) -> Void
    ) -> Setting {
        Setting(key: key, help: help, isList: false) { config, value throws(ConfigProblem) in
            let text = (value.text ?? "").trimmingCharacters(in: .whitespaces)
            guard let n = Int(text), range.contains(n) else {
                throw ConfigProblem(message: "must be an integer from \(range.lowerBound) to \(range.upperBound), got '\(text.prefix(40))'")
            }
            set(&config, n)
        }
    }

    /// An integer, or `none`/`0`/empty for no limit.
    static func optionalInt(
        _ key: String, _ help: String, _ range: ClosedRange<Int>, _ set: @escaping @Sendable (inout TrellisConfig, Int?) -> Void
    ) -> Setting {
        Setting(key: key, help: help, isList: false) { config, value throws(ConfigProblem) in
            let text = (value.text ?? "").trimmingCharacters(in: .whitespaces).lowercased()
            if text.isEmpty || text == "none" || text == "0" {
                set(&config, nil)
                return
            }
            guard let n = Int(text), range.contains(n) else {
                throw ConfigProblem(message: "must be an integer from \(range.lowerBound) to \(range.upperBound), or none, got '\(text.prefix(40))'")
            }
            set(&config, n)
        }
    }

    static func string(
        _ key: String, _ help: String, _ set: @escaping @Sendable (inout TrellisConfig, String) throws(ConfigProblem) -> Void
    ) -> Setting {
        Setting(key: key, help: help, isList: false) { config, value throws(ConfigProblem) in
            guard let text = value.text else { throw ConfigProblem(message: "must be a single value") }
            try set(&config, text)
        }
    }

    /// Builds the configuration. `overrides` are command-line flags, as dotted keys.
    public static func load(file: String?, environment: [String: String], overrides: [String: String] = [:]) throws -> TrellisConfig {
        var raw = RawSettings()
        if let file {
            try raw.loadYAML(path: file, knownKeys: knownKeys, listKeys: listKeys)
        }
        raw.loadEnvironment(environment, knownKeys: knownKeys, listKeys: listKeys)
        for (key, value) in overrides {
            raw.set(key, value, source: "--" + (key.split(separator: ".").last.map(String.init) ?? key))
        }
        var config = TrellisConfig()
        // admin.key wins over admin.key_file whatever the layer, so apply the file first.
        for setting in settings.sorted(by: { $0.key == "admin.key_file" && $1.key != "admin.key_file" }) {
            guard let value = raw[setting.key] else { continue }
            do {
                try setting.apply(&config, value)
            } catch {
                // Never echo a secret back in the error.
                let problem = setting.key.hasPrefix("admin.key") && setting.key != "admin.key_file" ? "invalid value: \(error.message.split(separator: ",").first ?? "")" : error.message
                throw ConfigError(key: setting.key, source: value.source, problem: problem)
            }
        }
        return config
    }

    /// One line per setting, for `trellis serve --help-config`.
    public static var settingsHelp: String {
        settings.map { "  \($0.key) (\(RawSettings.environmentName(for: $0.key))): \($0.help)" }.joined(separator: "\n")
    }
}
