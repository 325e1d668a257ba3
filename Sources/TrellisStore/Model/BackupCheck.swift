/// What a backup or a check found in a copy of the database: its integrity, migrations and row counts.
public struct BackupCheck: Sendable {
    public var path: String
    public var bytes: Int
    /// `ok` when the copy passes the engine's integrity check, else what the check reported.
    public var integrity: String
    /// The applied migrations, oldest first.
    public var migrations: [String]
    /// Table name → rows.
    public var tables: [String: Int]

    public init(path: String, bytes: Int, integrity: String, migrations: [String], tables: [String: Int]) {
        self.path = path
        self.bytes = bytes
        self.integrity = integrity
        self.migrations = migrations
        self.tables = tables
    }
}
