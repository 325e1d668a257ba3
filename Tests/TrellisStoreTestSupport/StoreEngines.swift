import Foundation
import TrellisStore

/// The seam between the store's integration tests and its engines. A case declared
/// `@Test(arguments: StoreEngines.all) func name(engine: StoreEngineFactory)` runs once per engine on a fresh,
/// empty store (`engine.make()`). Adding an engine is one line in `StoreEngines.all`: a factory that opens a
/// new store of its kind at a scratch location (for PostgreSQL, a scratch database that `remove` drops).
public enum StoreEngines {
    public static let all: [StoreEngineFactory] = [.sqlite]
}

/// Opens stores of one engine for tests.
public struct StoreEngineFactory: Sendable, CustomStringConvertible {
    public let name: String
    /// Opens (creating and migrating it when new) the store at a location; opening it again is a restart.
    let open: @Sendable (_ location: String) throws -> any TrellisStoreEngine
    /// Where a new store goes, given a fresh scratch directory.
    let location: @Sendable (_ directory: URL) -> String

    public init(
        name: String, location: @escaping @Sendable (URL) -> String, open: @escaping @Sendable (String) throws -> any TrellisStoreEngine
    ) {
        self.name = name
        self.location = location
        self.open = open
    }

    public var description: String { name }

    /// A new, empty store of this engine.
    public func make() throws -> TemporaryStore {
        try TemporaryStore(self)
    }

    public static let sqlite = StoreEngineFactory(
        name: "sqlite", location: { $0.appendingPathComponent(SQLiteStore.fileName).path }, open: { try SQLiteStore(path: $0) })
}

/// A store on fresh storage in its own temporary directory; `remove()` deletes it.
public struct TemporaryStore: Sendable {
    public let engine: StoreEngineFactory
    public let directory: URL
    /// Where the engine keeps the data (SQLite: the database file).
    public let path: String
    public let store: any TrellisStoreEngine

    public init(_ engine: StoreEngineFactory = .sqlite) throws {
        self.engine = engine
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-store-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        path = engine.location(directory)
        store = try engine.open(path)
    }

    /// Opens another store on the same data, as a restarted process would.
    public func reopen() throws -> any TrellisStoreEngine {
        try engine.open(path)
    }

    public func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}
