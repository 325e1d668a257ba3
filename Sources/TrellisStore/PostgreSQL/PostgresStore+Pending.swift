import Foundation
import OpenAIWire
import TrellisCore

// Operations not yet written for PostgreSQL. Each aggregate's file takes its operations out of here.
extension PostgresStore {
    static func pending(_ what: String) -> TrellisError {
        TrellisError(status: 501, type: "server_error", code: "not_implemented", message: "\(what) is not available on PostgreSQL yet.")
    }
}
