import Testing
import TrellisStore

@Suite("store.url: which engine, and where")
struct StoreLocationTests {
    @Test("postgres:// and postgresql:// name a PostgreSQL database; the URL's parts land where they belong")
    func postgres() throws {
        let location = try StoreLocation.parse("postgresql://gw:s3cret@db.internal:6543/trellis?sslmode=require&pool_max=30")
        guard case .postgres(let settings) = location else {
            Issue.record("expected PostgreSQL, got \(location)")
            return
        }
        #expect(settings.host == "db.internal")
        #expect(settings.port == 6543)
        #expect(settings.user == "gw")
        #expect(settings.password == "s3cret")
        #expect(settings.database == "trellis")
        #expect(settings.tls == .require)
        #expect(settings.maxConnections == 30)
        #expect(
            try StoreLocation.parse("postgres://gw@db/trellis")
                == .postgres(
                    PostgresSettings(
                        host: "db", port: 5432, user: "gw", password: nil, database: "trellis", tls: .disable, caFile: nil)))
    }

    @Test("the password by reference wins over one in the URL, and no description ever shows it")
    func password() throws {
        guard case .postgres(let settings) = try StoreLocation.parse("postgres://gw:inurl@db/trellis", password: "fromenv") else {
            Issue.record("expected PostgreSQL")
            return
        }
        #expect(settings.password == "fromenv")
        #expect(!settings.description.contains("fromenv"))
        #expect(!settings.description.contains("inurl"))
        #expect(settings.description == "postgres://gw@db:5432/trellis?sslmode=disable")
    }

    @Test("sslmode=verify-full takes a CA file from the URL or the setting; a CA file without TLS is refused")
    func tls() throws {
        guard case .postgres(let s) = try StoreLocation.parse("postgres://gw@db/t?sslmode=verify-full&sslrootcert=/etc/ca.pem") else {
            Issue.record("expected PostgreSQL")
            return
        }
        #expect(s.tls == .verifyFull)
        #expect(s.caFile == "/etc/ca.pem")
        #expect(throws: StoreURLError.self) { try StoreLocation.parse("postgres://gw@db/t", caFile: "/etc/ca.pem") }
    }

    @Test("sqlite:///path names a SQLite file")
    func sqlite() throws {
        #expect(try StoreLocation.parse("sqlite:///var/lib/trellis/t.sqlite") == .sqlite(path: "/var/lib/trellis/t.sqlite"))
    }

    @Test(
        "a malformed URL is one line naming the setting, and never repeats the URL (it may hold a password)",
        arguments: [
            "mysql://gw:pw@db/t", "postgres://", "postgres://db/t", "postgres://gw:pw@db", "postgres://gw:pw@db/t?sslmode=maybe",
            "postgres://gw:pw@db/t?colour=blue", "postgres://gw:pw@db/t?pool_max=0", "sqlite://relative.sqlite", "postgres://gw:pw@db/a/b",
        ])
    func malformed(url: String) {
        do {
            _ = try StoreLocation.parse(url, setting: "TRELLIS_STORE_URL")
            Issue.record("\(url) was accepted")
        } catch {
            #expect(error.description.hasPrefix("TRELLIS_STORE_URL: "))
            #expect(!error.description.contains("\n"))
            #expect(!error.description.contains(":pw@"))
        }
    }
}
