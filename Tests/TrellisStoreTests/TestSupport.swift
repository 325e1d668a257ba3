import Foundation
import OpenAIWire
import TrellisCore
import TrellisStore

/// A store on a fresh database file in its own temporary directory; `remove()` deletes the directory.
struct TemporaryStore {
    let directory: URL
    let store: SQLiteStore

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-store-test-\(UUID().uuidString)")
        store = try SQLiteStore(directory: directory.path)
    }

    var path: String { store.path }

    /// Opens another store on the same file, as a restarted process would.
    func reopen() throws -> SQLiteStore {
        try SQLiteStore(path: path)
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}

enum Fixtures {
    static let spec: JSONValue = ["upstream": "local", "model": "smollm2"]
    static let specV2: JSONValue = ["upstream": "local", "model": "qwen2.5", "params": ["temperature": 0.2]]

    static func newKey(tenantID: String, name: String = "ci", expiresAt: Date? = nil) -> NewKey {
        NewKey(tenantID: tenantID, name: name, scopes: [.inference, .usage], models: ["*"], rpm: 60, tpm: nil, expiresAt: expiresAt)
    }
}
