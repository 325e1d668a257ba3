import Foundation
import HTTPTypes
import Logging
import NIOCore
import OpenAIWire
import TrellisCore
import TrellisStore
import TrellisUpstream

/// Sends a call to the first target that answers, in the plan's order, skipping targets whose circuit is open.
/// Failures that are the upstream's (connect errors, timeouts, 5xx, 429) move on to the next target; failures
/// caused by the request (4xx) end the attempt at once, since another server would refuse it too. When every
/// target has failed and nothing has reached the client yet, the round is retried after a backoff (doubling,
/// with jitter), up to `upstream.retries` times and only while `upstream.retry_budget_ms` has not run out.
struct Dispatcher {
    let gateway: Gateway
    /// The catalog the request was planned on: its targets, and whether they were masked for, were decided
    /// from this snapshot, so the upstreams it sends to are read from it too, never from a newer one.
    let snapshot: CatalogSnapshot

    init(gateway: Gateway, snapshot: CatalogSnapshot) {
        self.gateway = gateway
        self.snapshot = snapshot
    }

    struct Answered<Value: Sendable>: Sendable {
        var value: Value
        var upstream: Upstream
        var target: ModelSpec.Target
        /// Attempts beyond the first.
        var retries: Int
    }

    /// `body` makes the bytes for a target; `read` consumes a 2xx answer into a value (the whole body, or the
    /// first events of a stream). A failure in `read` still counts as that target's failure, so a server that
    /// breaks before anything reached the client is retried elsewhere.
    ///
    /// For streams, success is not recorded here: the caller records the stream's outcome (`health.success`,
    /// `failure` or `release`) when it ends, since a stream can still break after its first events.
    func send<Value: Sendable>(
        targets: [ModelSpec.Target], path: String, stream: Bool, requestID: String, logger: Logger,
        body: (ModelSpec.Target) -> [UInt8],
        read: (UpstreamResponse, Upstream) async throws(UpstreamFailure) -> Value
    ) async throws(TrellisError) -> Answered<Value> {
        let config = gateway.config
        var lastFailure: TrellisError?
        var retries = 0
        let started = ContinuousClock.now
        var round = 0
        while true {
            var circuitOpen: Double?
            var retryable = false
            for target in targets {
                guard let upstream = snapshot.upstreams[target.upstream] else { continue }
                let apiKey: String?
                switch gateway.credential(for: upstream) {
                case .none: apiKey = nil
                case .key(let k): apiKey = k
                case .missing(let variable):
                    logger.warning("upstream credential variable is not set", metadata: ["upstream": "\(upstream.name)", "variable": "\(variable)"])
                    lastFailure = UpstreamFailure(kind: .status, upstream: upstream.name, status: 401).clientError
                    continue
                }
                let route: UpstreamRoute
                do {
                    route = try await gateway.egressCache.route(for: upstream, logger: logger)
                } catch {
                    lastFailure = error
                    continue
                }
                guard gateway.health.allow(upstream.name) else {
                    let wait = gateway.health.retryAfter(upstream.name) ?? 1
                    circuitOpen = min(circuitOpen ?? wait, wait)
                    continue
                }
                let call = UpstreamCall(
                    upstream: upstream, route: route, path: path, body: body(target), stream: stream, requestID: requestID, apiKey: apiKey)
                do {
                    let response = try await sendLoadingAdapter(call, target: target, upstream: upstream, apiKey: apiKey, logger: logger)
                    let value = try await read(response, upstream)
                    if !stream, gateway.health.success(upstream.name) { publishCircuit(upstream.name) }
                    return Answered(value: value, upstream: upstream, target: target, retries: retries)
                } catch {
                    if error.kind == .cancelled {
                        gateway.health.release(upstream.name)
                        throw error.clientError
                    }
                    gateway.metrics.upstreamFailure(upstream: upstream.name, reason: error.label)
                    let changed: Bool
                    // 429 is the server pacing callers, not failing: it moves on to the next target, but neither
                    // counts against the circuit nor starts another round (which would ignore its Retry-After).
                    if error.kind != .status || (error.status ?? 0) >= 500 {
                        changed = gateway.health.failure(upstream.name, reason: error.label)
                    } else {
                        // The server answered: it is up, whatever it thought of the request.
                        changed = gateway.health.success(upstream.name)
                    }
                    if changed {
                        publishCircuit(upstream.name)
                        logger.notice(
                            "upstream circuit changed", metadata: ["upstream": "\(upstream.name)", "circuit": "\(gateway.health.circuit(upstream.name))"])
                    }
                    logger.notice("upstream call failed", metadata: ["upstream": "\(upstream.name)", "reason": "\(error.label)", "round": "\(round)"])
                    lastFailure = error.clientError
                    if !error.isRetryable { throw error.clientError }
                    if error.status != 429 { retryable = true }
                }
            }
            // Another round only for failures worth retrying, within the count and the time budget.
            guard retryable, round < config.upstreamRetries else {
                if !retryable, let circuitOpen {
                    throw TrellisError(
                        status: 503, type: "server_error", code: "upstream_circuit_open",
                        message: "Every model server for this model is failing; the gateway stopped sending to them for a while.",
                        headers: [("Retry-After", String(max(1, Int(circuitOpen.rounded(.up)))))])
                }
                break
            }
            let backoff = Self.backoff(round: round, baseMs: config.upstreamRetryBackoffMs)
            let elapsed = ContinuousClock.now - started
            guard elapsed + backoff < .milliseconds(config.upstreamRetryBudgetMs) else { break }
            do {
                try await Task.sleep(for: backoff)
            } catch {
                throw UpstreamFailure(kind: .cancelled, upstream: "").clientError
            }
            round += 1
            retries += 1
            if let first = targets.first { gateway.metrics.upstreamRetry(upstream: first.upstream) }
        }
        throw lastFailure ?? .upstream("No model server is configured for this model.", code: "upstream_unavailable")
    }

    func publishCircuit(_ upstream: String) {
        gateway.metrics.upstreamState(upstream: upstream, circuitOpen: gateway.health.circuit(upstream) != "closed", up: nil)
    }

    /// The wait before retry round `round + 1`: `baseMs · 2^round`, between half and all of it (jitter, so
    /// callers that failed together do not come back together), at most 5 seconds.
    static func backoff(round: Int, baseMs: Int) -> Duration {
        let full = min(Double(baseMs) * pow(2, Double(min(round, 16))), 5_000)
        return .milliseconds(Int64(full / 2 + Double.random(in: 0...(full / 2))))
    }

    /// Sends a call, first loading the target's vLLM adapter when it needs one. A 404 for a loaded adapter
    /// means the server forgot it (a restart): it is loaded again and the call repeated, once.
    func sendLoadingAdapter(
        _ call: UpstreamCall, target: ModelSpec.Target, upstream: Upstream, apiKey: String?, logger: Logger
    ) async throws(UpstreamFailure) -> UpstreamResponse {
        guard let load = target.loadAdapter else { return try await gateway.upstreams.send(call, logger: logger) }
        let loader = gateway.adapterLoader
        try await loader.ensureLoaded(load, upstream: upstream, route: call.route, apiKey: apiKey, client: gateway.upstreams, logger: logger)
        do {
            return try await gateway.upstreams.send(call, logger: logger)
        } catch  where error.kind == .status && error.status == 404 {
            loader.forget(load, upstream: upstream.name)
            try await loader.ensureLoaded(load, upstream: upstream, route: call.route, apiKey: apiKey, client: gateway.upstreams, logger: logger)
            return try await gateway.upstreams.send(call, logger: logger)
        }
    }
}
