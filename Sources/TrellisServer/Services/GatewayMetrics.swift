import CoreMetrics
import Metrics
import Prometheus
import Synchronization
import TrellisCore

/// The gateway's metrics, through swift-metrics onto a Prometheus registry owned by this application instance
/// (not the process-wide bootstrap, so several gateways can run in one test process). Labels are bounded:
/// catalog model names (never raw names from requests), tenant names, status classes.
public final class GatewayMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    private let counters = Mutex<[MetricKey: CoreMetrics.Counter]>([:])
    private let timers = Mutex<[MetricKey: Metrics.Timer]>([:])
    private let modelSeries = Mutex<[ModelSeries.Key: ModelSeries]>([:])

    public init() {
        self.registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        self.factory = factory
    }

    /// Prometheus text exposition.
    public func render() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8 * 1024)
        registry.emit(into: &buffer)
        return buffer
    }

    func increment(_ label: String, _ dimensions: [(String, String)], by amount: Int64 = 1) {
        let counter = Self.cached(label, dimensions, in: counters) { CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory) }
        counter.increment(by: amount)
    }

    func record(_ label: String, _ dimensions: [(String, String)], seconds: Double) {
        let timer = Self.cached(label, dimensions, in: timers) { Metrics.Timer(label: label, dimensions: dimensions, factory: factory) }
        timer.recordNanoseconds(Int64(seconds * 1e9))
    }

    /// The metric for a label and dimensions from `cache`, made and kept there the first time.
    private static func cached<Metric: Sendable>(
        _ label: String, _ dimensions: [(String, String)], in cache: borrowing Mutex<[MetricKey: Metric]>, make: () -> Metric
    ) -> Metric {
        let key = MetricKey(label: label, dimensions: dimensions)
        return cache.withLock { cache in
            if let metric = cache[key] { return metric }
            let metric = make()
            cache[key] = metric
            return metric
        }
    }

    // MARK: What the gateway counts

    func httpRequest(route: String, status: Int) {
        increment("trellis_http_requests_total", [("route", route), ("status", Self.statusClass(status))])
    }

    func modelRequest(tenant: String, model: String, version: Int?, status: Int, seconds: Double, ttft: Double?, promptTokens: Int, completionTokens: Int) {
        let series = series(tenant: tenant, model: model, version: version)
        series.requests(status: Self.statusClass(status)).increment()
        series.duration.recordNanoseconds(Int64(seconds * 1e9))
        if let ttft { series.timeToFirstToken.recordNanoseconds(Int64(ttft * 1e9)) }
        if promptTokens > 0 { series.tokens(.prompt).increment(by: Int64(promptTokens)) }
        if completionTokens > 0 { series.tokens(.completion).increment(by: Int64(completionTokens)) }
    }

    /// A model version's metrics for a tenant: one lookup per request for all of them.
    private func series(tenant: String, model: String, version: Int?) -> ModelSeries {
        let key = ModelSeries.Key(tenant: tenant, model: model, version: version)
        return modelSeries.withLock { cache in
            if let series = cache[key] { return series }
            let series = ModelSeries(key, factory: factory)
            cache[key] = series
            return series
        }
    }

    func limitRefused(tenant: String, limit: LimitRefusal.Which) {
        let name: String
        switch limit {
        case .keyRequests: name = "key_rpm"
        case .keyTokens: name = "key_tpm"
        case .keyConcurrency: name = "key_concurrency"
        case .tenantRequests: name = "tenant_rpm"
        case .tenantTokens: name = "tenant_tpm"
        case .tenantConcurrency: name = "tenant_concurrency"
        case .monthlyQuota: name = "monthly_quota"
        }
        increment("trellis_limit_refusals_total", [("tenant", tenant), ("limit", name)])
    }

    func retrieval(seconds: Double, knowledgeBase: String) {
        record("trellis_retrieval_duration_seconds", [("knowledge_base", knowledgeBase)], seconds: seconds)
    }

    func upstreamFailure(upstream: String, reason: String) {
        increment("trellis_upstream_failures_total", [("upstream", upstream), ("reason", reason)])
    }

    func upstreamRetry(upstream: String) {
        increment("trellis_upstream_retries_total", [("upstream", upstream)])
    }

    func overloadRefused() {
        increment("trellis_overload_refusals_total", [])
    }

    /// A tenant's request refused because the tenant had its share of the in-flight slots.
    func tenantInFlightRefused() {
        increment("trellis_tenant_in_flight_refusals_total", [])
    }

    /// A streamed response cut off because its client stopped reading for `server.write_stall_ms`.
    func writeStalled() {
        increment("trellis_write_stalls_total", [])
    }

    /// 1 while an upstream's circuit is open or half-open, else 0 (`trellis_upstream_circuit_open`), and 1 or
    /// 0 for whether its last active probe answered (`trellis_upstream_up`).
    func upstreamState(upstream: String, circuitOpen: Bool, up: Bool?) {
        registry.makeGauge(name: "trellis_upstream_circuit_open", labels: [("upstream", upstream)]).set(Double(circuitOpen ? 1 : 0))
        if let up { registry.makeGauge(name: "trellis_upstream_up", labels: [("upstream", upstream)]).set(Double(up ? 1 : 0)) }
    }

    /// Usage rows lost because the buffer (`usage.buffer_capacity`) was full, when recorded or when a failed
    /// write was put back (the store unreachable for longer than the buffer lasts).
    func usageDropped(_ count: Int = 1) {
        increment("trellis_usage_rows_dropped_total", [], by: Int64(count))
    }

    /// What the usage recorder lost: usage rows, or captured interactions (`trellis_interactions_dropped_total`).
    func recorderDropped(_ count: Int, kind: UsageRecorder.Dropped) {
        switch kind {
        case .usage: usageDropped(count)
        case .interaction: increment("trellis_interactions_dropped_total", [], by: Int64(count))
        }
    }

    static func statusClass(_ status: Int) -> String {
        switch status {
        case 200..<300: "2xx"
        case 400: "400"
        case 401: "401"
        case 403: "403"
        case 404: "404"
        case 413: "413"
        case 429: "429"
        case 499: "499"
        case 400..<500: "4xx"
        case 502: "502"
        case 503: "503"
        case 504: "504"
        default: "5xx"
        }
    }
}

/// A metric's label and dimensions as a dictionary key, compared and hashed member by member: looking a metric up
/// builds nothing (a key joined into one string cost an allocation or more per update, several per request).
struct MetricKey: Hashable, Sendable {
    let label: String
    let dimensions: [(String, String)]

    static func == (a: MetricKey, b: MetricKey) -> Bool {
        a.label == b.label && a.dimensions.elementsEqual(b.dimensions) { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(label)
        hasher.combine(dimensions.count)
        for (name, value) in dimensions {
            hasher.combine(name)
            hasher.combine(value)
        }
    }
}

/// The metrics of one (tenant, model, version), each made the first time it is needed (a series that never had a
/// value is not exported). The lookup of a series hashes three values; looking up each metric by its label and
/// dimensions hashed nine strings or more per metric, four or five metrics per request.
final class ModelSeries: Sendable {
    struct Key: Hashable, Sendable {
        let tenant: String
        let model: String
        let version: Int?
    }

    enum TokenKind: String {
        case prompt, completion
    }

    private struct Made {
        var requests: [String: CoreMetrics.Counter] = [:]
        var timeToFirstToken: Metrics.Timer?
        var promptTokens: CoreMetrics.Counter?
        var completionTokens: CoreMetrics.Counter?
    }

    let dimensions: [(String, String)]
    let factory: PrometheusMetricsFactory
    let duration: Metrics.Timer
    private let made = Mutex(Made())

    init(_ key: Key, factory: PrometheusMetricsFactory) {
        self.dimensions = [("tenant", key.tenant), ("model", key.model), ("version", key.version.map(String.init) ?? "none")]
        self.factory = factory
        self.duration = Metrics.Timer(label: "trellis_model_request_duration_seconds", dimensions: dimensions, factory: factory)
    }

    /// `trellis_model_requests_total` for a status class.
    func requests(status: String) -> CoreMetrics.Counter {
        made.withLock { made in
            if let counter = made.requests[status] { return counter }
            let counter = CoreMetrics.Counter(label: "trellis_model_requests_total", dimensions: dimensions + [("status", status)], factory: factory)
            made.requests[status] = counter
            return counter
        }
    }

    var timeToFirstToken: Metrics.Timer {
        made.withLock { made in
            if let timer = made.timeToFirstToken { return timer }
            let timer = Metrics.Timer(label: "trellis_model_time_to_first_token_seconds", dimensions: dimensions, factory: factory)
            made.timeToFirstToken = timer
            return timer
        }
    }

    /// `trellis_model_tokens_total` for prompt or completion tokens.
    func tokens(_ kind: TokenKind) -> CoreMetrics.Counter {
        made.withLock { made in
            let existing = kind == .prompt ? made.promptTokens : made.completionTokens
            if let counter = existing { return counter }
            let counter = CoreMetrics.Counter(label: "trellis_model_tokens_total", dimensions: dimensions + [("kind", kind.rawValue)], factory: factory)
            if kind == .prompt { made.promptTokens = counter } else { made.completionTokens = counter }
            return counter
        }
    }
}
