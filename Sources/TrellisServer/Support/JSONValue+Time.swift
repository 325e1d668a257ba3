import Foundation
import OpenAIWire

extension JSONValue {
    /// RFC 3339 time in UTC, as the administration API writes times.
    static func time(_ date: Date?) -> JSONValue {
        guard let date else { return .null }
        return .string(Timestamps.format(date))
    }
}
