import Testing
import TrellisServer
import TrellisStore

@Suite("store.url, store.password_env: picking the store engine")
struct StoreSettingTests {
    @Test("absent: SQLite in the data directory, exactly as before")
    func defaultIsSQLite() throws {
        let config = try TrellisConfig.load(file: nil, environment: ["TRELLIS_DATA_DIR": "/srv/trellis"])
        #expect(config.store == .sqlite(path: "/srv/trellis/trellis.sqlite"))
    }

    @Test("TRELLIS_STORE_URL picks PostgreSQL; the password comes from the variable store.password_env names")
    func postgresFromEnvironment() throws {
        let config = try TrellisConfig.load(
            file: nil,
            environment: [
                "TRELLIS_STORE_URL": "postgres://gw@db.internal:5432/trellis?sslmode=require", "TRELLIS_STORE_PASSWORD_ENV": "TRELLIS_DB_PASSWORD",
                "TRELLIS_DB_PASSWORD": "from-env",
            ])
        guard case .postgres(let settings) = config.store else {
            Issue.record("expected PostgreSQL, got \(config.store)")
            return
        }
        #expect(settings.password == "from-env")
        #expect(settings.tls == .require)
    }

    @Test("a flag (--store-url) wins over the environment")
    func flagWins() throws {
        let config = try TrellisConfig.load(
            file: nil, environment: ["TRELLIS_STORE_URL": "postgres://gw@env/trellis"], overrides: ["store.url": "sqlite:///tmp/x.sqlite"])
        #expect(config.store == .sqlite(path: "/tmp/x.sqlite"))
    }

    @Test("a malformed URL is a one-line configuration error naming the setting and not repeating the URL")
    func malformed() {
        do {
            _ = try TrellisConfig.load(file: nil, environment: ["TRELLIS_STORE_URL": "postgres://gw:hunter2@db"])
            Issue.record("accepted a URL without a database")
        } catch let error as ConfigError {
            #expect(error.key == "store.url")
            #expect(!error.description.contains("hunter2"))
            #expect(!error.description.contains("\n"))
        } catch {
            Issue.record("expected a ConfigError, got \(error)")
        }
    }

    @Test("store.password_env naming an unset variable is refused at start")
    func missingPasswordVariable() {
        do {
            _ = try TrellisConfig.load(
                file: nil, environment: ["TRELLIS_STORE_URL": "postgres://gw@db/trellis", "TRELLIS_STORE_PASSWORD_ENV": "NOPE"])
            Issue.record("accepted a password variable that is not set")
        } catch let error as ConfigError {
            #expect(error.key == "store.password_env")
            #expect(error.problem.contains("NOPE"))
        } catch {
            Issue.record("expected a ConfigError, got \(error)")
        }
    }
}
