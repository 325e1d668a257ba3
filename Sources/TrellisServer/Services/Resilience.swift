import Foundation
import Logging
import NIOPosix
import Synchronization
import TrellisCore
import TrellisStore

/// The egress policy at dispatch: each upstream host is checked again (it may have been registered under an
/// older policy, or its name may now resolve somewhere else), with the verdict kept for `ttl` seconds so the
/// resolver is asked at most that often per host. Names are resolved on NIO's blocking thread pool, never on
/// an event loop.
final class EgressCache: Sendable {
    typealias Resolver = @Sendable (_ host: String, _ port: Int) throws -> [IPAddress]

    private struct Verdict {
        enum Outcome { case allowed, denied, unresolved }
        var outcome: Outcome
        var checkedAt: Double
    }

    private let verdicts = Mutex<[String: Verdict]>([:])
    private let resolver = Mutex<Resolver>({ try EgressPolicy.resolve(host: $0, port: $1) })
    let ttl: Double
    let clock: @Sendable () -> Double

    init(ttl: Double = 30, clock: @escaping @Sendable () -> Double) {
        self.ttl = ttl
        self.clock = clock
    }

    /// Replaces the resolver (tests make a name resolve somewhere else) and forgets every verdict.
    func setResolver(_ resolve: @escaping Resolver) {
        resolver.withLock { $0 = resolve }
        verdicts.withLock { $0.removeAll() }
        fixed.withLock { $0.removeAll() }
    }

    /// Decisions that never change for a base URL (IP literals, listed names, malformed hosts), so the hot
    /// path does not parse the URL again; names that need resolving are absent.
    private let fixed = Mutex<[String: Bool]>([:])
    /// A failed lookup is remembered this long, so an unreachable resolver is not asked on every request.
    let failureTTL = 5.0

    /// Throws `egress_denied` (502) when the policy does not allow the upstream's host.
    func check(_ upstream: Upstream, policy: EgressPolicy, logger: Logger) async throws(TrellisError) {
        if policy.allowsAny { return }
        if let allowed = fixed.withLock({ $0[upstream.baseURL] }) {
            if allowed { return }
            throw Self.denied
        }
        guard let url = URLComponents(string: upstream.baseURL), let host = url.host, !host.isEmpty else {
            fixed.withLock { $0[upstream.baseURL] = false }
            throw Self.denied
        }
        switch policy.allowsHost(host) {
        case .allowed:
            fixed.withLock { $0[upstream.baseURL] = true }
            return
        case .denied:
            fixed.withLock { $0[upstream.baseURL] = false }
            logger.warning("egress policy refused an upstream", metadata: ["upstream": "\(upstream.name)", "host": "\(host)"])
            throw Self.denied
        case .needsResolution: break
        }
        let key = host.lowercased()
        let now = clock()
        if let verdict = verdicts.withLock({ $0[key] }) {
            switch verdict.outcome {
            case .allowed where now - verdict.checkedAt < ttl: return
            case .denied where now - verdict.checkedAt < ttl: throw Self.denied
            case .unresolved where now - verdict.checkedAt < failureTTL: throw Self.unresolved
            default: break
            }
        }
        let port = url.port ?? (url.scheme == "https" ? 443 : 80)
        let resolve = resolver.withLock { $0 }
        let addresses: [IPAddress]
        do {
            addresses = try await NIOThreadPool.singleton.runIfActive { try resolve(host, port) }
        } catch {
            verdicts.withLock { $0[key] = Verdict(outcome: .unresolved, checkedAt: now) }
            throw Self.unresolved
        }
        let allowed = policy.allowsAddresses(addresses, host: host)
        verdicts.withLock { $0[key] = Verdict(outcome: allowed ? .allowed : .denied, checkedAt: now) }
        if !allowed {
            logger.warning(
                "egress policy refused an upstream's resolved address",
                metadata: ["upstream": "\(upstream.name)", "host": "\(host)", "addresses": "\(addresses.map(\.description).joined(separator: ","))"])
            throw Self.denied
        }
    }

    static let unresolved = TrellisError.upstream("Could not resolve the model server's host name.", code: "upstream_unavailable")

    static let denied = TrellisError.upstream(
        "The model server's address is outside the deployment's egress policy (egress.allow).", code: "egress_denied")

    /// The check when an upstream is registered or changed: 400 `egress_denied` on `base_url` when the host is
    /// not allowed (names not listed by a rule are resolved, and every address must be allowed).
    static func checkRegistration(baseURL: String, policy: EgressPolicy) async throws(TrellisError) {
        if policy.allowsAny { return }
        guard let host = URLComponents(string: baseURL)?.host, !host.isEmpty else { return }
        let refusal = TrellisError.invalidRequest(
            "The host '\(host.prefix(200))' is outside the deployment's egress policy (egress.allow: \(policy.rules.joined(separator: ", "))).",
            param: "base_url", code: "egress_denied")
        switch policy.allowsHost(host) {
        case .allowed: return
        case .denied: throw refusal
        case .needsResolution:
            let port = URLComponents(string: baseURL)?.port ?? 80
            let addresses = try? await NIOThreadPool.singleton.runIfActive { try EgressPolicy.resolve(host: host, port: port) }
            guard let addresses, policy.allowsAddresses(addresses, host: host) else { throw refusal }
        }
    }
}

/// Graceful shutdown for streams: once shutdown begins, streams still running when the drain window closes are
/// ended by the gateway with an error event and `[DONE]` (and recorded), instead of being cut off mid-frame.
final class DrainState: Sendable {
    private let startedAt = Mutex<ContinuousClock.Instant?>(nil)

    /// Marks the start of shutdown (the first call wins).
    func begin() {
        startedAt.withLock { if $0 == nil { $0 = .now } }
    }

    var isDraining: Bool { startedAt.withLock { $0 != nil } }

    /// Whether a stream should be ended now: shutdown began at least `window` ago.
    func shouldCut(window: Duration) -> Bool {
        guard let started = startedAt.withLock({ $0 }) else { return false }
        return ContinuousClock.now - started >= window
    }
}

/// The gateway-wide bound on requests in flight. Past it a request is answered 503 with `Retry-After` at
/// once, rather than queued without bound behind the ones already running.
final class InFlightLimit: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes a slot, or returns false (taking nothing) when all are taken.
    func enter() -> Bool {
        let now = count.wrappingAdd(1, ordering: .relaxed).newValue
        if now > limit {
            count.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func leave() {
        count.wrappingSubtract(1, ordering: .relaxed)
    }

    var current: Int { count.load(ordering: .relaxed) }
}

/// One taken `InFlightLimit` slot, given back exactly once: when the response is written, or when the
/// response (and the body closure holding this) is dropped without being written.
final class InFlightSlot: Sendable {
    private let limit: InFlightLimit
    private let released = Atomic<Bool>(false)

    init(_ limit: InFlightLimit) {
        self.limit = limit
    }

    func release() {
        if !released.exchange(true, ordering: .relaxed) { limit.leave() }
    }

    deinit {
        release()
    }
}
