import TrellisCore

/// A dimension a usage report can be grouped by.
public enum UsageDimension: String, Sendable, CaseIterable {
    case tenant, model, version, key, user, day
    /// Where the requests came from (``UsageSource``): read from the usage rows themselves, not the roll-ups.
    case source
    /// The child of a router model that answered (empty for other models' requests): read from the usage rows.
    case routedTo = "routed_to"

    /// Whether a report grouped by this reads the usage rows themselves (``RawUsageReport``), not the roll-ups.
    public var readsRows: Bool { self == .source || self == .routedTo }
}

/// Where a usage row came from, by its endpoint: `mcp` for tool calls through `/mcp` (`mcp:<tool>`), `eval` for
/// evaluation runs (`eval:…`), `api` for the `/v1` routes.
public enum UsageSource {
    public static func of(endpoint: String) -> String {
        if endpoint.hasPrefix("mcp:") { return "mcp" }
        if endpoint.hasPrefix("eval:") { return "eval" }
        return "api"
    }
}

/// A usage report's filter and grouping, over whole UTC days (`yyyy-MM-dd`, both ends included).
public struct UsageQuery: Sendable {
    public var tenantID: String?
    public var model: String?
    public var fromDay: String?
    public var toDay: String?
    public var groupBy: [UsageDimension]

    public init(tenantID: String? = nil, model: String? = nil, fromDay: String? = nil, toDay: String? = nil, groupBy: [UsageDimension] = []) {
        self.tenantID = tenantID
        self.model = model
        self.fromDay = fromDay
        self.toDay = toDay
        self.groupBy = groupBy
    }

    /// The UTC day of a time, `yyyy-MM-dd`, as reports name days.
    public static func day(ms: Int64) -> String {
        CivilDate(unixMs: ms).dayString
    }
}

/// One row of a usage report: the group's values and its sums.
public struct UsageRow: Sendable {
    public var group: [UsageDimension: String]
    public var requests = 0
    public var users = 0
    public var errors = 0
    public var promptTokens = 0
    public var completionTokens = 0
    public var costMicros = 0
    public var positive = 0
    public var negative = 0
    public var latency = Histogram()
    public var ttft = Histogram()
    /// Percentiles computed exactly from raw rows (grouping by end user), else from the histograms.
    public var exactLatency: [Double]?
    /// For reports read from the usage rows: what router models' requests would have cost more at their routers'
    /// defaults (negative when routing cost more, as after a cascade). Nil for reports from the roll-ups.
    public var savedMicros: Int?
    /// For reports read from the usage rows: how many of the group's requests a router model sent to a child.
    public var routedRequests: Int?

    public init(
        group: [UsageDimension: String], requests: Int = 0, users: Int = 0, errors: Int = 0, promptTokens: Int = 0, completionTokens: Int = 0,
        costMicros: Int = 0, positive: Int = 0, negative: Int = 0
    ) {
        self.group = group
        self.requests = requests
        self.users = users
        self.errors = errors
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.costMicros = costMicros
        self.positive = positive
        self.negative = negative
    }
}

/// Who a request belonged to, from its usage row (for feedback on it).
public struct UsageOwner: Sendable {
    public var tenantID: String
    public var keyID: String
    public var model: String
    public var modelVersion: Int?
    public var endUser: String?
    public var atMs: Int64

    public init(tenantID: String, keyID: String, model: String, modelVersion: Int?, endUser: String?, atMs: Int64) {
        self.tenantID = tenantID
        self.keyID = keyID
        self.model = model
        self.modelVersion = modelVersion
        self.endUser = endUser
        self.atMs = atMs
    }
}
