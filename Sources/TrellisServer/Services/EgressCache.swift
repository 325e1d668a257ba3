import Foundation
import Logging
import NIOPosix
import Synchronization
import TrellisCore
import TrellisUpstream

/// The egress policy at connect time. Every outbound call (chat, embeddings, knowledge-base embeddings,
/// probes, adapter loads) asks for its upstream's route here first and passes it to the upstream client,
/// which connects along it and nowhere else:
///
/// - an IP literal, or a name a name or wildcard rule lists, is decided once per base URL (`asNamed`: the
///   literal is the address; a listed name is trusted wherever it resolves);
/// - any other name is resolved here, once, on NIO's blocking thread pool (never on an event loop), every
///   address is checked, and the verdict is kept for `ttl` seconds together with those addresses
///   (`pinned`): the client connects to them and never resolves the name itself, so a name that answers an
///   allowed address to the check and another one to the connection (DNS rebinding) cannot get through.
final class EgressCache: Sendable {
    typealias Resolver = @Sendable (_ host: String, _ port: Int) throws -> [IPAddress]

    private struct Verdict {
        enum Outcome {
            case allowed([IPAddress])
            case denied
            case unresolved
        }
        var outcome: Outcome
        var checkedAt: Double
    }

    let policy: EgressPolicy
    let ttl: Double
    /// A failed lookup is remembered this long, so an unreachable resolver is not asked on every request.
    let failureTTL = 5.0
    let clock: @Sendable () -> Double
    private let verdicts = Mutex<[String: Verdict]>([:])
    private let resolver = Mutex<Resolver>({ try HostResolver.resolve(host: $0, port: $1) })
    /// Decisions that never change for a base URL (IP literals, listed names, malformed hosts), so the hot
    /// path does not parse the URL again: the route, or nil for a refusal. Names that need resolving are absent.
    private let fixed = Mutex<[String: UpstreamRoute?]>([:])
    /// For base URLs whose host is a name to resolve: that host and its verdict key, so the hot path does not
    /// parse the URL on every call either.
    private let resolvedHosts = Mutex<[String: (host: String, key: String)]>([:])

    init(policy: EgressPolicy, ttl: Double = 30, clock: @escaping @Sendable () -> Double) {
        self.policy = policy
        self.ttl = ttl
        self.clock = clock
    }

    /// Replaces the resolver (tests make a name resolve somewhere else) and forgets every verdict.
    func setResolver(_ resolve: @escaping Resolver) {
        resolver.withLock { $0 = resolve }
        verdicts.withLock { $0.removeAll() }
        fixed.withLock { $0.removeAll() }
        resolvedHosts.withLock { $0.removeAll() }
    }

    /// Where a call to `upstream` may connect. Throws `egress_denied` (502) when the policy does not allow
    /// its host (or any address its name resolves to), `upstream_unavailable` when the name does not resolve.
    func route(for upstream: Upstream, logger: Logger) async throws(TrellisError) -> UpstreamRoute {
        if policy.allowsAny { return .asNamed }
        if let decided = fixed.withLock({ $0[upstream.baseURL] }) {
            guard let route = decided else { throw Self.denied }
            return route
        }
        let host: String
        let key: String
        if let known = resolvedHosts.withLock({ $0[upstream.baseURL] }) {
            (host, key) = known
        } else {
            // The host as the HTTP client will read it, so the check and the connection agree on it.
            guard let parsed = UpstreamRoute.host(ofURL: upstream.baseURL) else {
                fixed.withLock { $0[upstream.baseURL] = .some(nil) }
                throw Self.denied
            }
            switch policy.allowsHost(parsed) {
            case .allowed:
                fixed.withLock { $0[upstream.baseURL] = .some(.asNamed) }
                return .asNamed
            case .denied:
                fixed.withLock { $0[upstream.baseURL] = .some(nil) }
                logger.warning("egress policy refused an upstream", metadata: ["upstream": "\(upstream.name)", "host": "\(parsed)"])
                throw Self.denied
            case .needsResolution:
                (host, key) = (parsed, parsed.lowercased())
                resolvedHosts.withLock { $0[upstream.baseURL] = (host, key) }
            }
        }
        let now = clock()
        if let verdict = verdicts.withLock({ $0[key] }) {
            switch verdict.outcome {
            case .allowed(let addresses) where now - verdict.checkedAt < ttl: return .pinned(addresses)
            case .denied where now - verdict.checkedAt < ttl: throw Self.denied
            case .unresolved where now - verdict.checkedAt < failureTTL: throw Self.unresolved
            default: break
            }
        }
        let components = URLComponents(string: upstream.baseURL)
        let port = components?.port ?? (components?.scheme?.lowercased() == "https" ? 443 : 80)
        let resolve = resolver.withLock { $0 }
        let addresses: [IPAddress]
        do {
            addresses = try await NIOThreadPool.singleton.runIfActive { try resolve(host, port) }
        } catch {
            verdicts.withLock { $0[key] = Verdict(outcome: .unresolved, checkedAt: now) }
            throw Self.unresolved
        }
        // Every address must be allowed (and there must be one): the client may connect to any of them.
        guard !addresses.isEmpty, policy.allowsAddresses(addresses, host: host) else {
            verdicts.withLock { $0[key] = Verdict(outcome: .denied, checkedAt: now) }
            logger.warning(
                "egress policy refused an upstream's resolved address",
                metadata: ["upstream": "\(upstream.name)", "host": "\(host)", "addresses": "\(addresses.map(\.description).joined(separator: ","))"])
            throw Self.denied
        }
        verdicts.withLock { $0[key] = Verdict(outcome: .allowed(addresses), checkedAt: now) }
        return .pinned(addresses)
    }

    static let unresolved = TrellisError.upstream("Could not resolve the model server's host name.", code: "upstream_unavailable")

    static let denied = TrellisError.upstream(
        "The model server's address is outside the deployment's egress policy (egress.allow).", code: "egress_denied")

    /// The check when an upstream is registered or changed: 400 `egress_denied` on `base_url` when the host is
    /// not allowed (names not listed by a rule are resolved, and every address must be allowed).
    static func checkRegistration(baseURL: String, policy: EgressPolicy) async throws(TrellisError) {
        if policy.allowsAny { return }
        guard let host = UpstreamRoute.host(ofURL: baseURL) else { return }
        let refusal = TrellisError.invalidRequest(
            "The host '\(host.prefix(200))' is outside the deployment's egress policy (egress.allow: \(policy.rules.joined(separator: ", "))).",
            param: "base_url", code: "egress_denied")
        switch policy.allowsHost(host) {
        case .allowed: return
        case .denied: throw refusal
        case .needsResolution:
            let port = URLComponents(string: baseURL)?.port ?? 80
            let addresses = try? await NIOThreadPool.singleton.runIfActive { try HostResolver.resolve(host: host, port: port) }
            guard let addresses, policy.allowsAddresses(addresses, host: host) else { throw refusal }
        }
    }
}
