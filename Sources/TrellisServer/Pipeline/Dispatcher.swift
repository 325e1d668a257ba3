import HTTPTypes
import Logging
import NIOCore
import OpenAIWire
import TrellisCore
import TrellisStore
import TrellisUpstream

/// Sends a call to the first target that answers, in the plan's order. Failures that are the upstream's (connect
/// errors, timeouts, 5xx, 429) move on to the next target; failures caused by the request (4xx) end the attempt
/// at once, since another server would refuse it too.
struct Dispatcher {
    let gateway: Gateway

    struct Answered<Value: Sendable>: Sendable {
        var value: Value
        var upstream: Upstream
        var target: ModelSpec.Target
    }

    /// `body` makes the bytes for a target; `read` consumes a 2xx answer into a value (the whole body, or the
    /// first events of a stream). A failure in `read` still counts as that target's failure, so a server that
    /// breaks before anything reached the client is retried elsewhere.
    func send<Value: Sendable>(
        targets: [ModelSpec.Target], path: String, stream: Bool, requestID: String, logger: Logger,
        body: (ModelSpec.Target) -> [UInt8],
        read: (UpstreamResponse, Upstream) async throws(UpstreamFailure) -> Value
    ) async throws(TrellisError) -> Answered<Value> {
        let snapshot = gateway.snapshot
        var lastFailure: UpstreamFailure?
        for target in targets {
            guard let upstream = snapshot.upstreams[target.upstream] else { continue }
            let apiKey: String?
            switch gateway.credential(for: upstream) {
            case .none: apiKey = nil
            case .key(let k): apiKey = k
            case .missing(let variable):
                logger.warning("upstream credential variable is not set", metadata: ["upstream": "\(upstream.name)", "variable": "\(variable)"])
                lastFailure = UpstreamFailure(kind: .status, upstream: upstream.name, status: 401)
                continue
            }
            let call = UpstreamCall(upstream: upstream, path: path, body: body(target), stream: stream, requestID: requestID, apiKey: apiKey)
            do {
                let response = try await sendLoadingAdapter(call, target: target, upstream: upstream, apiKey: apiKey, logger: logger)
                let value = try await read(response, upstream)
                gateway.health.success(upstream.name)
                return Answered(value: value, upstream: upstream, target: target)
            } catch {
                if error.kind == .cancelled { throw error.clientError }
                gateway.metrics.upstreamFailure(upstream: upstream.name, reason: error.label)
                if error.kind != .status || (error.status ?? 0) >= 500 || error.status == 429 {
                    gateway.health.failure(upstream.name, reason: error.label)
                }
                logger.notice("upstream call failed", metadata: ["upstream": "\(upstream.name)", "reason": "\(error.label)"])
                lastFailure = error
                if !error.isRetryable { break }
            }
        }
        throw lastFailure?.clientError ?? .upstream("No model server is configured for this model.", code: "upstream_unavailable")
    }

    /// Sends a call, first loading the target's vLLM adapter when it needs one. A 404 for a loaded adapter
    /// means the server forgot it (a restart): it is loaded again and the call repeated, once.
    func sendLoadingAdapter(
        _ call: UpstreamCall, target: ModelSpec.Target, upstream: Upstream, apiKey: String?, logger: Logger
    ) async throws(UpstreamFailure) -> UpstreamResponse {
        guard let load = target.loadAdapter else { return try await gateway.upstreams.send(call, logger: logger) }
        let loader = gateway.adapterLoader
        try await loader.ensureLoaded(load, upstream: upstream, apiKey: apiKey, client: gateway.upstreams, logger: logger)
        do {
            return try await gateway.upstreams.send(call, logger: logger)
        } catch where error.kind == .status && error.status == 404 {
            loader.forget(load, upstream: upstream.name)
            try await loader.ensureLoaded(load, upstream: upstream, apiKey: apiKey, client: gateway.upstreams, logger: logger)
            return try await gateway.upstreams.send(call, logger: logger)
        }
    }
}
