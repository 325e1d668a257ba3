import Foundation
import NIOCore
import TrellisCore

/// Where a call to an upstream connects, as the gateway's egress check decided (`EgressCache` in the server).
/// Every call, probe and adapter load takes one, so no outbound request can skip the check.
public enum UpstreamRoute: Sendable, Hashable {
    /// Connect to the host as the base URL writes it: an IP literal (the address itself was checked), or a
    /// name the policy allows wherever it resolves (a name or wildcard rule, or `any`).
    case asNamed
    /// Connect only to these addresses, the ones the host name resolved to when it was checked (every one
    /// allowed), never to a fresh resolution. The `Host` header, TLS SNI and certificate verification still
    /// use the name. An empty list connects nowhere.
    case pinned([IPAddress])

    /// The host of `url` exactly as AsyncHTTPClient reads it to choose where to connect (Foundation's `URL`,
    /// IPv6 brackets removed), or nil when it has none. The egress check decides on this same text, so what
    /// is checked and what is connected to cannot differ by parsing.
    public static func host(ofURL url: String) -> String? {
        guard var host = URL(string: url)?.host, !host.isEmpty else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") && host.count >= 2 { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : host
    }

    /// The key AsyncHTTPClient looks a host up by in `dnsOverride`: the host itself, an IPv6 literal in
    /// brackets (its connection target's serialisation).
    static func overrideKey(forHost host: String) -> String {
        if case .v6? = try? SocketAddress(ipAddress: host, port: 0) { return "[\(host)]" }
        return host
    }
}
