import Foundation
import NIOCore
import NIOHTTP1
import OpenAIWire
import Synchronization
import TrellisCore

/// Where a plain-http call URL goes on the lean client: the host to connect to (as named), its port, the request
/// target, and the `Host` header (the name, also when the call is pinned to a checked address).
struct LeanTarget: Sendable, Equatable {
    var host: String
    var port: Int
    var path: String
    var hostHeader: String

    /// Nil unless `url` is an absolute `http://` URL with a host (an `https://` upstream goes through
    /// AsyncHTTPClient). The host is read as `UpstreamRoute.host(ofURL:)` reads it, the text the egress check
    /// decided on.
    static func parse(_ url: String) -> LeanTarget? {
        guard let components = URLComponents(string: url), components.scheme?.lowercased() == "http",
            components.user == nil, components.password == nil,
            let host = UpstreamRoute.host(ofURL: url)
        else { return nil }
        let port = components.port ?? 80
        guard (1...65_535).contains(port) else { return nil }
        var path = components.percentEncodedPath
        if path.isEmpty { path = "/" }
        if let query = components.percentEncodedQuery { path += "?" + query }
        let name = host.contains(":") ? "[\(host)]" : host
        return LeanTarget(host: host, port: port, path: path, hostHeader: port == 80 ? name : "\(name):\(port)")
    }
}

extension UpstreamClient {
    /// The lean target of a call URL, remembered per URL (a handful per upstream) so that the hot path parses
    /// each URL once; nil for an URL the lean client does not take.
    func leanTarget(forURL url: String) -> LeanTarget? {
        if let known = leanTargets.withLock({ $0[url] }) { return known }
        let target = LeanTarget.parse(url)
        leanTargets.withLock { targets in
            if targets.count >= 4096 { targets.removeAll() }
            targets[url] = target
        }
        return target
    }

    /// `send` on the lean HTTP/1.1 client: the same headers, timeouts, egress route and failures as on
    /// AsyncHTTPClient. A pinned route tries the checked addresses in turn (the one that last accepted a
    /// connection first), moving on only when no connection could be made, so nothing was sent.
    func sendLean(_ call: UpstreamCall, target: LeanTarget, headers: HTTPHeaders) async throws(UpstreamFailure) -> UpstreamResponse {
        let name = call.upstream.name
        let timeouts = call.upstream.timeouts
        let sent = ContinuousClock.now
        let firstByte = TimeAmount.milliseconds(Int64(min(timeouts.firstByteMs, timeouts.totalMs)))
        let limits = HTTP1Client.Timeouts(
            connect: .milliseconds(Int64(timeouts.connectMs)), poolWait: firstByte, head: firstByte,
            idle: .milliseconds(Int64(min(timeouts.idleMs, defaultReadMs))), total: .milliseconds(Int64(timeouts.totalMs)))
        var headers = headers
        headers.add(name: "Host", value: target.hostHeader)
        let response: HTTP1Response
        do {
            response = try await leanExecute(target: target, route: call.route, headers: headers, body: call.body, timeouts: limits)
        } catch {
            throw error.upstreamFailure(upstream: name)
        }
        let status = Int(response.head.status.code)
        if (200..<300).contains(status) {
            return UpstreamResponse(
                status: status, contentType: response.head.headers.first(name: "Content-Type"), body: UpstreamBody(lean: response.body),
                deadline: sent + .milliseconds(timeouts.totalMs))
        }
        var failure = UpstreamFailure(kind: .status, upstream: name, status: status, retryAfter: response.head.headers.first(name: "Retry-After"))
        if let buffer = try? await response.body.collect(upTo: maxErrorBodyBytes) {
            failure.upstreamError = OpenAIError.parse(upstreamBody: buffer.readableBytesView)
        }
        throw failure
    }

    /// One POST along `route`: to the host as named, or to each checked address in turn.
    private func leanExecute(
        target: LeanTarget, route: UpstreamRoute, headers: HTTPHeaders, body: [UInt8], timeouts: HTTP1Client.Timeouts
    ) async throws(HTTP1Error) -> HTTP1Response {
        guard case .pinned(let addresses) = route else {
            return try await lean.execute(
                host: target.host, port: target.port, method: .POST, path: target.path, headers: headers, body: body, timeouts: timeouts)
        }
        // Nothing to connect to: a connect failure, never a lookup of the name.
        guard !addresses.isEmpty else { throw .connectFailed }
        var candidates = addresses.prefix(Self.maxAddressesTried).map(\.description)
        let key = target.hostHeader
        if let first = preferred.withLock({ $0[key] }), let i = candidates.firstIndex(of: first), i > 0 {
            candidates.insert(candidates.remove(at: i), at: 0)
        }
        for (i, address) in candidates.enumerated() {
            do {
                let response = try await lean.execute(
                    host: address, port: target.port, method: .POST, path: target.path, headers: headers, body: body, timeouts: timeouts)
                if i > 0 {
                    preferred.withLock { map in
                        if map.count >= 4096 { map.removeAll() }
                        map[key] = address
                    }
                }
                return response
            } catch  where i < candidates.count - 1 && (error == .connectFailed || error == .connectTimeout) {
                continue
            }
        }
        throw .connectFailed  // not reached: the last candidate's error is thrown above
    }
}
