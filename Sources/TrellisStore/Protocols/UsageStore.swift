import TrellisCore

/// Usage: one row per request with its daily roll-ups written in the same transaction, and the reports read
/// from the roll-ups.
public protocol UsageStore: Sendable {
    /// Appends usage rows and their roll-ups in one transaction.
    func insertUsage(_ events: [UsageEvent]) async throws
    /// Tokens each tenant used since the start of `month` (`"2026-11"`), by tenant id.
    func tokensThisMonth(_ month: String) async throws -> [String: Int]
    /// Sums, distinct end users, errors, tokens, cost, latency and time-to-first-token histograms and feedback,
    /// for any grouping of the query's dimensions, sorted by the group's values.
    func usageReport(_ query: UsageQuery) async throws -> [UsageRow]
    /// Who a request belonged to, from its usage row; nil when there is none.
    func usageOwner(requestID: String) async throws -> UsageOwner?
}
