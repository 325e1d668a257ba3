import Foundation
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
    /// Each connection is handled on its own event loop (fewer thread hand-overs per request).
    public var handleOnEventLoop = true
    /// How long a graceful shutdown waits for in-flight requests.
    public var shutdownGraceSeconds = 30
    /// The first phase of a graceful shutdown: `/readyz` answers 503 and responses carry `Connection: close`
    /// while requests are still served, for this long, before the listener closes (0: close at once).
    public var drainDelayMs = 5_000
    public var dataDir = "./data"
    /// The store `store.url` names; nil for SQLite in the data directory (see `store`).
    public var storeLocation: StoreLocation?
    public var storeURL: String?
    public var storePasswordEnv: String?
    public var storeCAFile: String?
    public var storeOperationTimeoutMs = 10_000
    public var storeRetryMaxMs = 30_000
    /// The operator key. Without one the administration API refuses every call.
    public var adminKey: String?
    public var logLevel: Logger.Level = .info
    public var usageFlushIntervalMs = 1_000
    public var usageBatchSize = 512
    public var usageBufferCapacity = 100_000
    public var catalogRefreshIntervalMs = 1_000
    /// Hear other replicas' changes as they commit (PostgreSQL LISTEN/NOTIFY) instead of at the next refresh.
    public var catalogListen = true
    /// A directory of declarative catalog files applied at start; nil for none.
    public var catalogDir: String?
    public var upstreamMaxConnectionsPerHost = 1_024
    /// Plain-http upstreams go through the lean HTTP/1.1 client (false: AsyncHTTPClient, as HTTPS ones do).
    public var upstreamLeanHTTP1 = true
    public var upstreamConnectTimeoutMs = 5_000
    public var upstreamReadTimeoutMs = 120_000
    /// The most bytes one event of an upstream's stream may hold; beyond, the stream ends with an error event.
    public var upstreamMaxEventBytes = 8 << 20
    /// The largest whole (non-streaming) chat answer read from an upstream; beyond, 502.
    public var upstreamMaxResponseBytes = 8 << 20
    /// The largest embeddings answer read from an upstream for `/v1/embeddings`; beyond, 502.
    public var upstreamMaxEmbeddingsResponseBytes = 64 << 20
    public var maxMessages = 2_048
    /// The largest document a knowledge base accepts (413 beyond).
    public var maxDocumentBytes = 16 << 20
    /// PDF conversion (`pdftotext`, run fenced): wall clock, most text per PDF (413 beyond), address space.
    public var pdfTimeoutMs = 30_000
    public var pdfMaxTextBytes = 16 << 20
    public var pdfMaxMemoryBytes = 1 << 30
    /// PDF conversions at once (each a process and a thread); beyond, 503 with Retry-After.
    public var pdfMaxConcurrent = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Deployment defaults for keys and tenants that set no limit of their own (nil: not limited).
    public var defaultKeyLimits = Limits(concurrency: 512)
    public var defaultTenantLimits = Limits()
    public var defaultMonthlyTokenQuota: Int?
    /// Tokens reserved for the answer when a request gives no max_tokens and its model no ceiling.
    public var defaultCompletionReservation = 1_024
    /// How often expired captured interactions are deleted.
    public var capturePurgeIntervalSeconds = 3_600
    /// How long a stored response of the Responses API (`store: true`) is kept for its tenant.
    public var responsesRetentionDays = 30
    /// The evaluation guard, off without a set: a traffic split that gives a version more than
    /// `evaluationGuardMaxShare` percent needs a finished run on this set where that version scored at least
    /// `evaluationGuardMinScore`.
    public var evaluationGuardSet: String?
    public var evaluationGuardMaxShare = 10
    public var evaluationGuardMinScore = 0.8
    /// Evaluation runs one tenant may have running at once (each asks at most 8 items at a time).
    public var evaluationMaxRunningPerTenant = 2
    /// MCP sessions (`/mcp`) one key may hold; opening one more closes the key's least recently used.
    public var mcpMaxSessionsPerKey = 32
    /// An MCP session unused for this long is closed (its client initializes again).
    public var mcpSessionIdleSeconds = 1_800
    /// Requests in flight at once across the gateway; beyond this, 503 with Retry-After (health and metrics
    /// excepted), instead of an unbounded queue.
    public var maxInFlight = 4_096
    /// Requests in flight at once for one tenant (nil: three quarters of `maxInFlight`, so one tenant can
    /// never take every slot); beyond this, 429 with Retry-After.
    public var maxInFlightPerTenant: Int?
    /// The longest one write of a response may wait for its client to take bytes; a client that stops
    /// reading for longer has its connection closed, which releases its slots. The upstream side of a stream
    /// is bounded by the upstream's `total_ms`, so a stream holds its slots for at most `total_ms` plus this.
    public var writeStallMs = 30_000
    /// The longest a request body may take to arrive, from its first byte read to its last; a client that
    /// sends it slower has its connection closed (which releases its slots).
    public var bodyReadMs = 60_000
    /// Ratings (`POST /v1/feedback`) one key may send per minute.
    public var feedbackPerMinute = 600
    /// On PostgreSQL, how often each replica reconciles its leases on the cluster-wide limits (0: each process
    /// limits on its own, as on SQLite).
    public var limitsSyncIntervalMs = 200

    /// The per-tenant in-flight cap in force.
    public var effectiveMaxInFlightPerTenant: Int { maxInFlightPerTenant ?? max(1, maxInFlight * 3 / 4) }
    /// The listener's certificate chain and private key (PEM). Both set: the gateway speaks HTTPS only.
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    /// Serve HTTP/2 as well as HTTP/1.1 over TLS (chosen by ALPN).
    public var tlsHTTP2 = false
    /// Extra attempts after the first round of a call's targets fails before anything reached the client.
    public var upstreamRetries = 2
    /// The first retry waits about this long; each further one twice as long (with jitter).
    public var upstreamRetryBackoffMs = 100
    /// No retry starts once this long has passed since the first attempt.
    public var upstreamRetryBudgetMs = 10_000
    /// Consecutive failures that open an upstream's circuit, and how long it stays open.
    public var circuitFailureThreshold = 5
    public var circuitCoolDownMs = 10_000
    /// How often every upstream is probed with `GET /models`; 0 turns active checks off.
    public var healthCheckIntervalMs = 10_000
    /// A PEM bundle of extra certificate authorities trusted for upstreams (private CAs); nil: the system's.
    public var upstreamCAFile: String?
    /// Which upstreams get personal data masked (ID numbers, mobile numbers, bank cards, e-mail, custom
    /// patterns), and whether the originals are put back into the answer.
    public var piiMaskScope: PIIMaskScope = .external
    public var piiRestore = true
    /// Knowledge-base text (chunks, search queries) for an embedding upstream labelled external: refused, or masked.
    public var externalEmbeddings: ExternalEmbeddingPolicy = .refuse
    public var piiMasker: PIIMasker = TrellisConfig.standardMasker
    /// Serve the operator console at `/console` (static files built into the binary; every call it makes goes
    /// through the admin API with the signed-in key).
    public var consoleEnabled = true

    static let standardMasker: PIIMasker = {
        do {
            return try PIIMasker()
        } catch {
            // The built-in rules have no patterns to get wrong.
            preconditionFailure("the built-in PII rules failed to compile: \(error)")
        }
    }()

    /// Which upstream hosts the gateway may connect to (see `EgressPolicy`): private ranges by default.
    public var egress: EgressPolicy = EgressPolicy.privateOnly

    public init() {}

    /// How an upstream's embeddings answer is parsed: it holds inputs × dimensions numbers, so its element cap
    /// follows its byte cap (a number and its comma take at least 4 bytes, `0.1,`) rather than the default for
    /// request bodies.
    public var embeddingsAnswerLimits: JSONParser.Limits {
        JSONParser.Limits(maxElements: max(JSONParser.defaultMaxElements, upstreamMaxEmbeddingsResponseBytes / 4))
    }

    public var databasePath: String { (dataDir as NSString).appendingPathComponent("trellis.sqlite") }

    /// The store engine and where it is: `store.url`, else SQLite at `databasePath`.
    public var store: StoreLocation { storeLocation ?? .sqlite(path: databasePath) }

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
        bool("server.handle_on_event_loop", "handle each connection on its own event loop (false: on the shared pool)") { $0.handleOnEventLoop = $1 },
        int("server.shutdown_grace_seconds", "how long shutdown waits for in-flight requests", 0...3_600) { $0.shutdownGraceSeconds = $1 },
        int("server.drain_delay_ms", "on shutdown, how long /readyz is 503 while requests are still served, before the listener closes", 0...3_600_000) {
            $0.drainDelayMs = $1
        },
        int("knowledge.max_document_bytes", "largest document accepted for a knowledge base", 1_024...1_073_741_824) { $0.maxDocumentBytes = $1 },
        int("knowledge.pdf_timeout_ms", "longest one PDF conversion may take (then pdftotext is killed)", 100...3_600_000) { $0.pdfTimeoutMs = $1 },
        int("knowledge.pdf_max_text_bytes", "most text one PDF may produce (413 beyond)", 1_024...1_073_741_824) { $0.pdfMaxTextBytes = $1 },
        int("knowledge.pdf_max_concurrent", "PDF conversions at once (default: the number of cores)", 1...1_024) { $0.pdfMaxConcurrent = $1 },
        int("knowledge.pdf_max_memory_bytes", "address-space limit of pdftotext", 67_108_864...68_719_476_736) { $0.pdfMaxMemoryBytes = $1 },
        optionalInt("limits.key_rpm", "requests per minute for keys that set none", 1...100_000_000) { $0.defaultKeyLimits.requestsPerMinute = $1 },
        optionalInt("limits.key_tpm", "tokens per minute for keys that set none", 1...1_000_000_000_000) { $0.defaultKeyLimits.tokensPerMinute = $1 },
        optionalInt("limits.key_concurrency", "concurrent requests per key (default 512)", 1...1_000_000) { $0.defaultKeyLimits.concurrency = $1 },
        optionalInt("limits.tenant_rpm", "requests per minute for tenants that set none", 1...100_000_000) { $0.defaultTenantLimits.requestsPerMinute = $1 },
        optionalInt("limits.tenant_tpm", "tokens per minute for tenants that set none", 1...1_000_000_000_000) { $0.defaultTenantLimits.tokensPerMinute = $1 },
        optionalInt("limits.tenant_concurrency", "concurrent requests per tenant", 1...1_000_000) { $0.defaultTenantLimits.concurrency = $1 },
        optionalInt("limits.tenant_monthly_token_quota", "tokens per calendar month for tenants that set none", 1...1_000_000_000_000_000) {
            $0.defaultMonthlyTokenQuota = $1
        },
        int("limits.feedback_rpm", "ratings (POST /v1/feedback) per key per minute", 1...1_000_000) { $0.feedbackPerMinute = $1 },
        int("limits.sync_interval_ms", "PostgreSQL: how often each replica reconciles its share of the cluster-wide limits (0: per process)", 0...10_000) {
            $0.limitsSyncIntervalMs = $1 == 0 ? 0 : max(20, $1)
        },
        int("limits.default_completion_reservation", "tokens reserved for an answer without max_tokens", 1...1_000_000) {
            $0.defaultCompletionReservation = $1
        },
        int("capture.purge_interval_seconds", "how often expired captured interactions are deleted", 60...86_400) { $0.capturePurgeIntervalSeconds = $1 },
        int("responses.retention_days", "days a stored response (POST /v1/responses with store) is kept", 1...3_650) {
            $0.responsesRetentionDays = $1
        },
        int("mcp.max_sessions_per_key", "MCP sessions one key may hold (then its least recently used is closed)", 1...10_000) {
            $0.mcpMaxSessionsPerKey = $1
        },
        int("mcp.session_idle_seconds", "an MCP session unused this long is closed", 10...604_800) { $0.mcpSessionIdleSeconds = $1 },
        string("evaluation.guard_set", "the evaluation set a version must pass before it gets more than guard_max_share of traffic (empty: off)") {
            c, v throws(ConfigProblem) in c.evaluationGuardSet = v.isEmpty ? nil : v
        },
        int("evaluation.max_running_per_tenant", "evaluation runs one tenant may have running at once", 1...100) {
            $0.evaluationMaxRunningPerTenant = $1
        },
        int("evaluation.guard_max_share", "percent of a model's traffic a version may get without a passing evaluation", 0...99) {
            $0.evaluationGuardMaxShare = $1
        },
        string("evaluation.guard_min_score", "the score (0 to 1) a version's evaluation must reach") { c, v throws(ConfigProblem) in
            guard let d = Double(v.trimmingCharacters(in: .whitespaces)), (0...1).contains(d) else {
                throw ConfigProblem(message: "must be a number from 0 to 1, got '\(v.prefix(40))'")
            }
            c.evaluationGuardMinScore = d
        },
        int("server.max_messages", "most messages in one chat request", 1...100_000) { $0.maxMessages = $1 },
        string("data.dir", "directory of the SQLite database") { c, v throws(ConfigProblem) in
            guard !v.isEmpty else { throw ConfigProblem(message: "must not be empty") }
            c.dataDir = v
        },
        string("admin.key", "the operator key (prefer the environment or admin.key_file)") { c, v throws(ConfigProblem) in
            try c.setAdminKey(v)
        },
        string("admin.key_file", "file holding the operator key (mode 0600 or 0400: refused if others may read it)") { c, path throws(ConfigProblem) in
            if let problem = keyFileProblem(path) { throw ConfigProblem(message: problem) }
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
        bool("catalog.listen", "hear other replicas' changes as they commit (PostgreSQL LISTEN/NOTIFY)") { $0.catalogListen = $1 },
        int("upstream.max_connections_per_host", "connection pool size per model server", 1...100_000) { $0.upstreamMaxConnectionsPerHost = $1 },
        bool("upstream.lean_http1", "plain-http model servers through the lean HTTP/1.1 client (false: AsyncHTTPClient)") {
            $0.upstreamLeanHTTP1 = $1
        },
        int("upstream.connect_timeout_ms", "connect timeout for model servers", 1...600_000) { $0.upstreamConnectTimeoutMs = $1 },
        int("upstream.read_timeout_ms", "longest silence on an upstream connection", 1...3_600_000) { $0.upstreamReadTimeoutMs = $1 },
        int("upstream.max_event_bytes", "most bytes in one event of an upstream's stream", 65_536...1_073_741_824) { $0.upstreamMaxEventBytes = $1 },
        int("upstream.max_response_bytes", "largest non-streaming chat answer read from an upstream", 65_536...1_073_741_824) {
            $0.upstreamMaxResponseBytes = $1
        },
        int("upstream.max_embeddings_response_bytes", "largest embeddings answer read from an upstream", 65_536...2_147_483_648) {
            $0.upstreamMaxEmbeddingsResponseBytes = $1
        },
    ]

    static let resilienceSettings: [Setting] = [
        int("server.max_in_flight", "requests in flight at once before 503 (health and metrics excepted)", 1...10_000_000) { $0.maxInFlight = $1 },
        optionalInt("server.max_in_flight_per_tenant", "requests in flight at once for one tenant (default 3/4 of max_in_flight)", 1...10_000_000) {
            $0.maxInFlightPerTenant = $1
        },
        int("server.body_read_ms", "longest a request body may take to arrive, first byte read to last", 100...3_600_000) { $0.bodyReadMs = $1 },
        int("server.write_stall_ms", "longest a response write waits for a client that stopped reading", 100...3_600_000) { $0.writeStallMs = $1 },
        file("server.tls.certificate_file", "PEM certificate chain for HTTPS on the listener") { $0.tlsCertificateFile = $1 },
        file("server.tls.key_file", "PEM private key for HTTPS on the listener") { $0.tlsKeyFile = $1 },
        bool("server.tls.http2", "offer HTTP/2 over TLS as well as HTTP/1.1") { $0.tlsHTTP2 = $1 },
        int("upstream.retries", "extra rounds over a call's targets before the first byte (0: none)", 0...10) { $0.upstreamRetries = $1 },
        int("upstream.retry_backoff_ms", "wait before the first retry; doubled for each further one", 0...60_000) { $0.upstreamRetryBackoffMs = $1 },
        int("upstream.retry_budget_ms", "no retry starts after this long since the first attempt", 0...600_000) { $0.upstreamRetryBudgetMs = $1 },
        int("upstream.circuit_failure_threshold", "consecutive failures that open an upstream's circuit", 1...1_000) { $0.circuitFailureThreshold = $1 },
        int("upstream.circuit_cool_down_ms", "how long an open circuit refuses calls before probing", 100...3_600_000) { $0.circuitCoolDownMs = $1 },
        int("upstream.health_check_interval_ms", "how often each upstream is probed with GET /models (0: off)", 0...3_600_000) {
            $0.healthCheckIntervalMs = $1
        },
        file("upstream.ca_file", "PEM bundle of extra certificate authorities trusted for upstreams") { $0.upstreamCAFile = $1 },
        string("privacy.mask", "mask personal data for upstreams: off, external (labelled external) or all") { c, v throws(ConfigProblem) in
            guard let scope = PIIMaskScope(rawValue: v.lowercased()) else { throw ConfigProblem(message: "must be off, external or all") }
            c.piiMaskScope = scope
        },
        bool("privacy.restore", "put masked values back into the answer for the caller") { $0.piiRestore = $1 },
        string("privacy.external_embeddings", "knowledge-base text to an embedding upstream labelled external: refuse, or mask it first") {
            c, v throws(ConfigProblem) in
            guard let policy = ExternalEmbeddingPolicy(rawValue: v.lowercased()) else { throw ConfigProblem(message: "must be refuse or mask") }
            c.externalEmbeddings = policy
        },
        list("privacy.patterns", "extra patterns to mask, each NAME=regex (masked as [NAME_1]); ';' between them outside YAML") {
            c, items throws(ConfigProblem) in
            var custom: [PIIMasker.CustomPattern] = []
            for item in items {
                guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                    throw ConfigProblem(message: "each pattern must be NAME=regex, got '\(item.prefix(60))'")
                }
                custom.append(.init(name: String(item[..<eq]), pattern: String(item[item.index(after: eq)...])))
            }
            do throws(PIIMasker.ConfigurationError) {
                c.piiMasker = try PIIMasker(rules: .init(custom: custom))
            } catch {
                throw ConfigProblem(message: error.description)
            }
        },
        list("egress.allow", "upstream hosts allowed: CIDRs, host names, *.wildcards, private, loopback or any") { c, rules throws(ConfigProblem) in
            do {
                c.egress = try EgressPolicy(rules: rules)
            } catch let error as EgressPolicy.RuleError {
                throw ConfigProblem(message: error.description)
            } catch {
                throw ConfigProblem(message: "\(error)")
            }
        },
    ]

    static let consoleSettings: [Setting] = [
        bool("console.enabled", "serve the operator console at /console") { $0.consoleEnabled = $1 }
    ]

    static var allSettings: [Setting] { settings + resilienceSettings + consoleSettings + storeSettings }

    static var knownKeys: Set<String> { Set(allSettings.map(\.key)) }
    static var listKeys: Set<String> { Set(allSettings.filter(\.isList).map(\.key)) }

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

    static func bool(_ key: String, _ help: String, _ set: @escaping @Sendable (inout TrellisConfig, Bool) -> Void) -> Setting {
        Setting(key: key, help: help, isList: false) { config, value throws(ConfigProblem) in
            switch (value.text ?? "").trimmingCharacters(in: .whitespaces).lowercased() {
            case "true", "yes", "on", "1": set(&config, true)
            case "false", "no", "off", "0": set(&config, false)
            case let other: throw ConfigProblem(message: "must be true or false, got '\(other.prefix(40))'")
            }
        }
    }

    /// A path to a readable file; empty for none.
    static func file(_ key: String, _ help: String, _ set: @escaping @Sendable (inout TrellisConfig, String?) -> Void) -> Setting {
        Setting(key: key, help: help, isList: false) { config, value throws(ConfigProblem) in
            guard let path = value.text?.trimmingCharacters(in: .whitespaces) else { throw ConfigProblem(message: "must be a single value") }
            if path.isEmpty {
                set(&config, nil)
                return
            }
            guard FileManager.default.isReadableFile(atPath: path) else { throw ConfigProblem(message: "cannot read the file '\(path)'") }
            set(&config, path)
        }
    }

    /// A list (YAML sequence, or comma-separated text from the environment or a flag).
    static func list(
        _ key: String, _ help: String, _ set: @escaping @Sendable (inout TrellisConfig, [String]) throws(ConfigProblem) -> Void
    ) -> Setting {
        Setting(key: key, help: help, isList: true) { config, value throws(ConfigProblem) in
            let separator: Character = RawSettings.semicolonListKeys.contains(key) ? ";" : ","
            let items =
                value.list ?? (value.text ?? "").split(separator: separator).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            try set(&config, items)
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
        for setting in allSettings.sorted(by: { $0.key == "admin.key_file" && $1.key != "admin.key_file" }) {
            guard let value = raw[setting.key] else { continue }
            do {
                try setting.apply(&config, value)
            } catch {
                // Never echo a secret back in the error.
                let problem =
                    setting.key.hasPrefix("admin.key") && setting.key != "admin.key_file"
                    ? "invalid value: \(error.message.split(separator: ",").first ?? "")" : error.message
                throw ConfigError(key: setting.key, source: value.source, problem: problem)
            }
        }
        if (config.tlsCertificateFile == nil) != (config.tlsKeyFile == nil) {
            let key = config.tlsCertificateFile == nil ? "server.tls.certificate_file" : "server.tls.key_file"
            throw ConfigError(key: key, source: "", problem: "HTTPS needs both server.tls.certificate_file and server.tls.key_file")
        }
        try config.resolveStore(environment: environment, urlSource: raw["store.url"]?.source)
        return config
    }

    /// One line per setting, for `trellis serve --help-config`.
    public static var settingsHelp: String {
        allSettings.map { "  \($0.key) (\(RawSettings.environmentName(for: $0.key))): \($0.help)" }.joined(separator: "\n")
    }
}

extension EgressPolicy {
    /// Loopback and private ranges only: the default for a private deployment.
    static let privateOnly: EgressPolicy = {
        do {
            return try EgressPolicy(rules: EgressPolicy.privateDefault)
        } catch {
            // `private` is a built-in rule: there is nothing in it to get wrong.
            preconditionFailure("the built-in egress rule failed: \(error)")
        }
    }()
}
