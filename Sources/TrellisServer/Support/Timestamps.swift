import Foundation
import OpenAIWire

enum Timestamps {
    static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    /// RFC 3339 (`2027-01-01T00:00:00Z`) or a Unix time in seconds.
    static func parse(_ value: JSONValue) -> Date? {
        switch value {
        case .number(let n):
            guard let seconds = n.doubleValue, seconds.isFinite, seconds > 0, seconds < 1e11 else { return nil }
            return Date(timeIntervalSince1970: seconds)
        case .string(let s):
            if let d = try? Date(s, strategy: .iso8601) { return d }
            let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
            return try? Date(s, strategy: withFraction)
        default:
            return nil
        }
    }
}
