import Foundation
import HTTPTypes
import OpenAIWire
import Synchronization
import TrellisCore
import TrellisStore

/// What the gateway has seen of each upstream: consecutive failures and the last outcome. Reported by
/// `GET /admin/v1/upstreams`.
final class UpstreamHealth: Sendable {
    struct Entry: Sendable {
        var consecutiveFailures = 0
        var lastSuccess: Date?
        var lastFailure: Date?
        var lastFailureReason: String?
        var successes = 0
        var failures = 0
    }

    private let entries = Mutex<[String: Entry]>([:])
    /// After this many consecutive failures an upstream is reported unhealthy.
    let unhealthyAfter = 3

    func success(_ upstream: String, at now: Date = Date()) {
        entries.withLock { e in
            var entry = e[upstream] ?? Entry()
            entry.consecutiveFailures = 0
            entry.lastSuccess = now
            entry.successes += 1
            e[upstream] = entry
        }
    }

    func failure(_ upstream: String, reason: String, at now: Date = Date()) {
        entries.withLock { e in
            var entry = e[upstream] ?? Entry()
            entry.consecutiveFailures += 1
            entry.lastFailure = now
            entry.lastFailureReason = reason
            entry.failures += 1
            e[upstream] = entry
        }
    }

    func entry(_ upstream: String) -> Entry {
        entries.withLock { $0[upstream] ?? Entry() }
    }

    func json(_ upstream: String) -> JSONValue {
        let e = entry(upstream)
        let status: String
        if e.lastSuccess == nil && e.lastFailure == nil {
            status = "unknown"
        } else {
            status = e.consecutiveFailures >= unhealthyAfter ? "unhealthy" : "healthy"
        }
        return [
            "status": .string(status),
            "consecutive_failures": .int(e.consecutiveFailures),
            "successes": .int(e.successes),
            "failures": .int(e.failures),
            "last_success_at": .time(e.lastSuccess),
            "last_failure_at": .time(e.lastFailure),
            "last_failure_reason": .optionalString(e.lastFailureReason),
        ]
    }
}
