import Foundation
import Testing
import TrellisServer

/// A temporary directory for one test's configuration files.
private struct ConfigFiles {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-config-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Writes a file readable by its owner only (as a key file must be).
    func write(_ name: String, _ text: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        return path
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// The ConfigError a load throws; a test fails when it throws something else or nothing.
private func configError(file: String? = nil, environment: [String: String] = [:], overrides: [String: String] = [:]) -> ConfigError? {
    do {
        _ = try TrellisConfig.load(file: file, environment: environment, overrides: overrides)
        Issue.record("expected a configuration error")
        return nil
    } catch let error as ConfigError {
        return error
    } catch {
        Issue.record("expected a ConfigError, got \(error)")
        return nil
    }
}

private let adminKey = "op-key-0123456789abcdef"

@Suite("TrellisConfig.load")
struct ConfigTests {
    @Test("defaults when nothing is configured")
    func defaults() throws {
        let config = try TrellisConfig.load(file: nil, environment: [:])
        #expect(config.host == "127.0.0.1")
        #expect(config.port == 8080)
        #expect(config.dataDir == "./data")
        #expect(config.adminKey == nil)
        #expect(String(describing: config.logLevel) == "info")
        #expect(config.maxBodyBytes == 8 << 20)
        #expect(config.maxMessages == 2_048)
        #expect(config.databasePath.hasSuffix("trellis.sqlite"))
        #expect(config.databasePath.hasPrefix("./data"))
    }

    @Test("environment variables that are not settings are ignored")
    func unrelatedEnvironment() throws {
        let config = try TrellisConfig.load(file: nil, environment: ["PATH": "/usr/bin", "TRELLIS_UNKNOWN_THING": "x", "HOME": "/root"])
        #expect(config.port == 8080)
    }

    @Test("values from a YAML file")
    func yamlFile() throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        let path = try files.write(
            "trellis.yaml",
            """
            # A comment.
            server:
              host: 0.0.0.0
              port: 9000
              max_body_bytes: 1048576
              max_messages: 64
            data:
              dir: /var/lib/trellis
            admin:
              key: \(adminKey)
            log:
              level: DEBUG
            usage:
              flush_interval_ms: 250
              batch_size: 100
            catalog:
              refresh_interval_ms: 500
            upstream:
              connect_timeout_ms: 1500
            """)
        let config = try TrellisConfig.load(file: path, environment: [:])
        #expect(config.host == "0.0.0.0")
        #expect(config.port == 9000)
        #expect(config.maxBodyBytes == 1_048_576)
        #expect(config.maxMessages == 64)
        #expect(config.dataDir == "/var/lib/trellis")
        #expect(config.databasePath == "/var/lib/trellis/trellis.sqlite")
        #expect(config.adminKey == adminKey)
        #expect(String(describing: config.logLevel) == "debug")
        #expect(config.usageFlushIntervalMs == 250)
        #expect(config.usageBatchSize == 100)
        #expect(config.catalogRefreshIntervalMs == 500)
        #expect(config.upstreamConnectTimeoutMs == 1_500)
        // Untouched settings keep their defaults.
        #expect(config.shutdownGraceSeconds == TrellisConfig().shutdownGraceSeconds)
    }

    @Test("the environment overrides the file, and flags override the environment")
    func precedence() throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        let path = try files.write("trellis.yaml", "server:\n  port: 9000\n  host: 10.0.0.1\ndata:\n  dir: /from/file\n")
        let environment = ["TRELLIS_SERVER_PORT": "9100", "TRELLIS_DATA_DIR": "/from/env"]

        let fileOnly = try TrellisConfig.load(file: path, environment: [:])
        #expect(fileOnly.port == 9000)

        let withEnv = try TrellisConfig.load(file: path, environment: environment)
        #expect(withEnv.port == 9100)
        #expect(withEnv.dataDir == "/from/env")
        #expect(withEnv.host == "10.0.0.1")  // not overridden

        let withFlags = try TrellisConfig.load(file: path, environment: environment, overrides: ["server.port": "9200"])
        #expect(withFlags.port == 9200)
        #expect(withFlags.dataDir == "/from/env")
        #expect(withFlags.host == "10.0.0.1")
    }

    @Test("an explicit null in the file leaves the default")
    func yamlNull() throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        let path = try files.write("trellis.yaml", "server:\n  port: ~\n  host:\n")
        let config = try TrellisConfig.load(file: path, environment: [:])
        #expect(config.port == 8080)
        #expect(config.host == "127.0.0.1")
    }

    @Test("an empty file sets nothing")
    func emptyFile() throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        for text in ["", "\n", "# only a comment\n"] {
            let path = try files.write("empty.yaml", text)
            let config = try TrellisConfig.load(file: path, environment: [:])
            #expect(config.port == 8080)
            #expect(config.adminKey == nil)
        }
    }

    @Test(
        "an unknown key in the file is refused, naming it",
        arguments: [
            ("server:\n  prot: 9000\n", "server.prot"),
            ("sever:\n  port: 9000\n", "sever"),
            ("port: 9000\n", "port"),
            ("server:\n  port: 9000\n  tls:\n    cert: x\n", "server.tls.cert"),
            ("log:\n  level: info\n  format: json\n", "log.format"),
        ])
    func unknownKey(yaml: String, key: String) throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        let path = try files.write("trellis.yaml", yaml)
        let error = try #require(configError(file: path))
        #expect(error.key == key)
        #expect(error.source == path)
        #expect(error.description.contains(key))
    }

    @Test("a list where one value belongs is refused")
    func listForScalar() throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        let path = try files.write("trellis.yaml", "server:\n  port: [1, 2]\n")
        let error = try #require(configError(file: path))
        #expect(error.key == "server.port")
    }

    @Test("a wrong type is refused, naming the key and where the value came from")
    func wrongTypeFromEnvironment() throws {
        let error = try #require(configError(environment: ["TRELLIS_SERVER_PORT": "abc"]))
        #expect(error.key == "server.port")
        #expect(error.source == "TRELLIS_SERVER_PORT")
        #expect(error.description.contains("server.port"))
        #expect(error.description.contains("TRELLIS_SERVER_PORT"))
    }

    @Test("a wrong type in the file names the file; in a flag, the flag")
    func wrongTypeOtherSources() throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        let path = try files.write("trellis.yaml", "usage:\n  batch_size: lots\n")
        let fromFile = try #require(configError(file: path))
        #expect(fromFile.key == "usage.batch_size")
        #expect(fromFile.source == path)

        let fromFlag = try #require(configError(overrides: ["server.port": "eighty"]))
        #expect(fromFlag.key == "server.port")
        #expect(fromFlag.source.contains("port"))
        #expect(fromFlag.source != "TRELLIS_SERVER_PORT")
    }

    @Test(
        "numbers out of range are refused",
        arguments: [
            ("TRELLIS_SERVER_PORT", "65536", "server.port"),
            ("TRELLIS_SERVER_PORT", "-1", "server.port"),
            ("TRELLIS_SERVER_MAX_BODY_BYTES", "10", "server.max_body_bytes"),
            ("TRELLIS_USAGE_BATCH_SIZE", "0", "usage.batch_size"),
            ("TRELLIS_SERVER_PORT", "80.5", "server.port"),
            ("TRELLIS_SERVER_PORT", "", "server.port"),
        ])
    func outOfRange(variable: String, value: String, key: String) throws {
        let error = try #require(configError(environment: [variable: value]))
        #expect(error.key == key)
        #expect(error.source == variable)
    }

    @Test("boundary values are accepted")
    func boundaries() throws {
        #expect(try TrellisConfig.load(file: nil, environment: ["TRELLIS_SERVER_PORT": "0"]).port == 0)
        #expect(try TrellisConfig.load(file: nil, environment: ["TRELLIS_SERVER_PORT": "65535"]).port == 65535)
        #expect(try TrellisConfig.load(file: nil, environment: ["TRELLIS_SERVER_PORT": " 8081 "]).port == 8081)
    }

    @Test("a bad log level is refused")
    func badLogLevel() throws {
        let error = try #require(configError(environment: ["TRELLIS_LOG_LEVEL": "loud"]))
        #expect(error.key == "log.level")
        #expect(error.source == "TRELLIS_LOG_LEVEL")
    }

    @Test(
        "an admin key that is too short is refused, and the error never contains it",
        arguments: [
            "short-key", "abc", "fifteen-chars!!",
        ])
    func shortAdminKey(key: String) throws {
        for error in [
            configError(environment: ["TRELLIS_ADMIN_KEY": key]),
            configError(overrides: ["admin.key": key]),
        ] {
            let error = try #require(error)
            #expect(error.key == "admin.key")
            #expect(!error.description.contains(key))
            #expect(!error.problem.contains(key))
            #expect(!"\(error)".contains(key))
        }
    }

    @Test("an admin key with spaces or control characters is refused without echoing it")
    func malformedAdminKey() throws {
        for key in ["has a space in the key!", "tab\tinside-the-operator-key", "ünïcödé-operator-key-value"] {
            let error = try #require(configError(environment: ["TRELLIS_ADMIN_KEY": key]))
            #expect(error.key == "admin.key")
            #expect(!error.description.contains(key))
        }
    }

    @Test("an admin key of 16 or more printable characters is accepted")
    func goodAdminKey() throws {
        #expect(try TrellisConfig.load(file: nil, environment: ["TRELLIS_ADMIN_KEY": "sixteen-chars-ok"]).adminKey == "sixteen-chars-ok")
        #expect(try TrellisConfig.load(file: nil, environment: ["TRELLIS_ADMIN_KEY": adminKey]).adminKey == adminKey)
    }

    @Test("an admin key too short in a file is refused, and neither the error nor its source shows it")
    func shortAdminKeyInFile() throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        let path = try files.write("trellis.yaml", "admin:\n  key: tiny-secret\n")
        let error = try #require(configError(file: path))
        #expect(error.key == "admin.key")
        #expect(!error.description.contains("tiny-secret"))
    }

    @Test("admin.key_file is read, surrounding white space trimmed")
    func adminKeyFile() throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        let keyPath = try files.write("admin.key", "  \(adminKey)\n\n")
        let fromEnv = try TrellisConfig.load(file: nil, environment: ["TRELLIS_ADMIN_KEY_FILE": keyPath])
        #expect(fromEnv.adminKey == adminKey)
        let yaml = try files.write("trellis.yaml", "admin:\n  key_file: \(keyPath)\n")
        #expect(try TrellisConfig.load(file: yaml, environment: [:]).adminKey == adminKey)
    }

    @Test("admin.key wins over admin.key_file, whatever layer each comes from")
    func adminKeyBeatsKeyFile() throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        let keyPath = try files.write("admin.key", "key-from-the-file-0001\n")
        let yaml = try files.write("trellis.yaml", "admin:\n  key: \(adminKey)\n")
        // key in the file (lowest layer), key_file in the environment (higher).
        let config = try TrellisConfig.load(file: yaml, environment: ["TRELLIS_ADMIN_KEY_FILE": keyPath])
        #expect(config.adminKey == adminKey)
        // key_file as a flag, key in the environment.
        let config2 = try TrellisConfig.load(file: nil, environment: ["TRELLIS_ADMIN_KEY": adminKey], overrides: ["admin.key_file": keyPath])
        #expect(config2.adminKey == adminKey)
    }

    @Test("a missing key file is refused, naming the setting")
    func missingKeyFile() throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        let error = try #require(configError(environment: ["TRELLIS_ADMIN_KEY_FILE": files.directory.appendingPathComponent("nope").path]))
        #expect(error.key == "admin.key_file")
        #expect(error.source == "TRELLIS_ADMIN_KEY_FILE")
    }

    @Test("a key file holding a too-short key is refused without showing its content")
    func shortKeyInKeyFile() throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        let keyPath = try files.write("admin.key", "tiny-secret\n")
        let error = try #require(configError(environment: ["TRELLIS_ADMIN_KEY_FILE": keyPath]))
        #expect(error.key == "admin.key_file")
        #expect(!error.description.contains("tiny-secret"))
    }

    @Test(
        "invalid YAML is refused",
        arguments: [
            "server:\n  port: [8080\n",
            "server: {port: 1\n",
            "server:\n\tport: 1\n",
            "a: b: c\n",
            "server:\n  port: \"unterminated\n",
        ])
    func invalidYAML(text: String) throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        let path = try files.write("trellis.yaml", text)
        let error = try #require(configError(file: path))
        #expect(error.source == path)
        #expect(!error.problem.isEmpty)
    }

    @Test("a YAML error never quotes the file's text, so a key in it stays secret")
    func invalidYAMLDoesNotEcho() throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        let secret = "op-secret-should-not-leak-42"
        let path = try files.write("trellis.yaml", "admin:\n  key: \"\(secret)\nserver: [\n")
        let error = try #require(configError(file: path))
        #expect(!error.description.contains(secret))
    }

    @Test("the top level must be a mapping", arguments: ["- server\n- port\n", "just a string\n", "42\n"])
    func topLevelNotMapping(text: String) throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        let path = try files.write("trellis.yaml", text)
        let error = try #require(configError(file: path))
        #expect(error.source == path)
    }

    @Test("a configuration file that does not exist is refused")
    func missingFile() throws {
        let files = try ConfigFiles()
        defer { files.remove() }
        let path = files.directory.appendingPathComponent("absent.yaml").path
        let error = try #require(configError(file: path))
        #expect(error.source == path)
    }

    @Test("every setting has an environment variable named after its key")
    func environmentNames() {
        #expect(RawSettings.environmentName(for: "server.port") == "TRELLIS_SERVER_PORT")
        #expect(RawSettings.environmentName(for: "admin.key_file") == "TRELLIS_ADMIN_KEY_FILE")
        let help = TrellisConfig.settingsHelp
        for name in ["TRELLIS_SERVER_PORT", "TRELLIS_ADMIN_KEY", "TRELLIS_ADMIN_KEY_FILE", "TRELLIS_DATA_DIR", "TRELLIS_LOG_LEVEL"] {
            #expect(help.contains(name))
        }
    }

    @Test("resilience, egress and privacy settings from the environment; patterns with commas are split on ';'")
    func resilienceSettings() throws {
        let config = try TrellisConfig.load(
            file: nil,
            environment: [
                "TRELLIS_UPSTREAM_RETRIES": "3", "TRELLIS_UPSTREAM_CIRCUIT_FAILURE_THRESHOLD": "7", "TRELLIS_SERVER_MAX_IN_FLIGHT": "100",
                "TRELLIS_EGRESS_ALLOW": "10.0.0.0/8, *.corp.example", "TRELLIS_PRIVACY_MASK": "all",
                "TRELLIS_PRIVACY_PATTERNS": #"EMP=E\d{6,8};CASE=CASE-\d+"#,
            ])
        #expect(config.upstreamRetries == 3 && config.circuitFailureThreshold == 7 && config.maxInFlight == 100)
        #expect(config.egress.rules == ["10.0.0.0/8", "*.corp.example"])
        #expect(config.piiMaskScope == .all)
        #expect(config.piiMasker.rules.custom.map(\.name) == ["EMP", "CASE"])
        #expect(config.piiMasker.rules.custom.first?.pattern == #"E\d{6,8}"#)
        #expect(configError(environment: ["TRELLIS_EGRESS_ALLOW": "10.0.0.0/33"])?.key == "egress.allow")
        #expect(configError(environment: ["TRELLIS_PRIVACY_PATTERNS": "BAD=(unclosed"])?.key == "privacy.patterns")
        #expect(configError(environment: ["TRELLIS_SERVER_TLS_CERTIFICATE_FILE": "/etc/hostname"])?.problem.contains("both") == true)
    }

    @Test("the shipped config/trellis.yaml loads, sections with only comments included, and says what the defaults say")
    func shippedConfigLoads() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("config/trellis.yaml").path
        let config = try TrellisConfig.load(file: path, environment: [:])
        let defaults = TrellisConfig()
        #expect(config.port == defaults.port && config.maxInFlight == defaults.maxInFlight)
        #expect(config.upstreamRetries == defaults.upstreamRetries && config.healthCheckIntervalMs == defaults.healthCheckIntervalMs)
        #expect(config.egress.rules == ["private"] && config.piiMaskScope == .external && config.piiRestore)
        #expect(config.tlsCertificateFile == nil && config.adminKey == nil)
    }
}
