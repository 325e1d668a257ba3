import Foundation
import OpenAIWire
import TrellisCore
import TrellisStore
import TrellisStoreTestSupport

enum Fixtures {
    static let spec: JSONValue = ["upstream": "local", "model": "smollm2"]
    static let specV2: JSONValue = ["upstream": "local", "model": "qwen2.5", "params": ["temperature": 0.2]]

    static func newKey(tenantID: String, name: String = "ci", expiresAt: Date? = nil) -> NewKey {
        NewKey(tenantID: tenantID, name: name, scopes: [.inference, .usage], models: ["*"], rpm: 60, tpm: nil, expiresAt: expiresAt)
    }
}
