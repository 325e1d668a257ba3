import Foundation
import Logging
import OpenAIWire
import TrellisCore
import TrellisUpstream

/// Sends a call to the first target that answers, in the plan's order, skipping targets whose circuit is open.
/// The rules (which failures move on, which end the attempt, when another round starts and after how long,
/// what error a client gets when all fail) are `DispatchPolicy`'s, in TrellisCore; this is the I/O loop that
/// carries out what it answers: it checks and sends to a target, records the outcome on the upstream's circuit,
/// sleeps between rounds, and feeds each outcome back.
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
        var policy = DispatchPolicy(
            targets: targets.count, stream: stream,
            config: DispatchPolicy.Config(
                retries: config.upstreamRetries, backoffBaseMs: config.upstreamRetryBackoffMs, retryBudgetMs: config.upstreamRetryBudgetMs))
        var random = SystemRandomNumberGenerator()
        let started = ContinuousClock.now
        var action = policy.start()
        while true {
            switch action {
            case .fail(let error):
                throw error
            case .wait(let backoff):
                do {
                    try await Task.sleep(for: backoff)
                } catch {
                    throw UpstreamFailure(kind: .cancelled, upstream: "").clientError
                }
                if let first = targets.first { gateway.metrics.upstreamRetry(upstream: first.upstream) }
                action = policy.waited()
            case .send(let index):
                let target = targets[index]
                guard let upstream = snapshot.upstreams[target.upstream] else {
                    action = policy.unregistered(elapsed: ContinuousClock.now - started, random: &random)
                    continue
                }
                let apiKey: String?
                switch gateway.credential(for: upstream) {
                case .none: apiKey = nil
                case .key(let k): apiKey = k
                case .missing(let variable):
                    logger.warning("upstream credential variable is not set", metadata: ["upstream": "\(upstream.name)", "variable": "\(variable)"])
                    let error = UpstreamFailure(kind: .status, upstream: upstream.name, status: 401).clientError
                    action = policy.notSent(error, elapsed: ContinuousClock.now - started, random: &random)
                    continue
                }
                let route: UpstreamRoute
                do {
                    route = try await gateway.egressCache.route(for: upstream, logger: logger)
                } catch {
                    action = policy.notSent(error, elapsed: ContinuousClock.now - started, random: &random)
                    continue
                }
                guard gateway.health.allow(upstream.name) else {
                    action = policy.circuitOpen(
                        retryAfter: gateway.health.retryAfter(upstream.name), elapsed: ContinuousClock.now - started, random: &random)
                    continue
                }
                let call = UpstreamCall(
                    upstream: upstream, route: route, path: path, body: body(target), stream: stream, requestID: requestID, apiKey: apiKey)
                do {
                    let response = try await sendLoadingAdapter(call, target: target, upstream: upstream, apiKey: apiKey, logger: logger)
                    let value = try await read(response, upstream)
                    if policy.answered() == .success, gateway.health.success(upstream.name) { publishCircuit(upstream.name) }
                    return Answered(value: value, upstream: upstream, target: target, retries: policy.round)
                } catch {
                    let decision = policy.failed(
                        error.dispatchFailure, error: error.clientError, elapsed: ContinuousClock.now - started, random: &random)
                    record(error, on: upstream.name, as: decision.circuit, round: policy.round, logger: logger)
                    action = decision.action
                }
            }
        }
    }

    /// Records a failed call on its upstream's circuit (and in the metrics and the log), as the policy decided.
    private func record(_ error: UpstreamFailure, on upstream: String, as circuit: DispatchPolicy.CircuitRecord, round: Int, logger: Logger) {
        let changed: Bool
        switch circuit {
        case .release:
            gateway.health.release(upstream)
            return
        case .failure:
            gateway.metrics.upstreamFailure(upstream: upstream, reason: error.label)
            changed = gateway.health.failure(upstream, reason: error.label)
        case .success:
            gateway.metrics.upstreamFailure(upstream: upstream, reason: error.label)
            changed = gateway.health.success(upstream)
        }
        if changed {
            publishCircuit(upstream)
            logger.notice("upstream circuit changed", metadata: ["upstream": "\(upstream)", "circuit": "\(gateway.health.circuit(upstream))"])
        }
        logger.notice("upstream call failed", metadata: ["upstream": "\(upstream)", "reason": "\(error.label)", "round": "\(round)"])
    }

    func publishCircuit(_ upstream: String) {
        gateway.metrics.upstreamState(upstream: upstream, circuitOpen: gateway.health.circuit(upstream) != .closed, up: nil)
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
