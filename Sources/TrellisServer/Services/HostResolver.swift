import TrellisCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Host-name resolution for the egress check, kept out of `TrellisCore` (which does no I/O): the check
/// (`EgressCache`) resolves a name once, decides on every address with `EgressPolicy.allowsAddresses`, and
/// the upstream client then connects to those addresses only.
enum HostResolver {
    /// A host that could not be resolved.
    struct ResolutionError: Error, Sendable, Equatable, CustomStringConvertible {
        var host: String
        var problem: String

        var description: String { "cannot resolve '\(host.prefix(200))': \(problem)" }
    }

    /// The addresses `host` resolves to through the system resolver (`getaddrinfo`: hosts file, then DNS),
    /// both families, without duplicates, in the resolver's order. `localhost` gives loopback addresses.
    /// An IPv6 literal may be given in brackets.
    ///
    /// This call blocks for as long as the lookup takes: run it on a thread that may block (a thread pool,
    /// a detached task), never on an event loop.
    /// - Throws: `ResolutionError` when the name does not resolve or the port is out of range.
    static func resolve(host: String, port: Int) throws -> [IPAddress] {
        guard (0...65535).contains(port) else { throw ResolutionError(host: host, problem: "port \(port) is out of range") }
        var name = host
        if name.hasPrefix("[") && name.hasSuffix("]") && name.count >= 2 { name = String(name.dropFirst().dropLast()) }
        guard !name.isEmpty, !name.utf8.contains(0) else { throw ResolutionError(host: host, problem: "not a host name") }

        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, String(port), &hints, &list)
        guard status == 0 else {
            let problem = gai_strerror(status).map { String(cString: $0) } ?? "error \(status)"
            throw ResolutionError(host: host, problem: problem)
        }
        defer { freeaddrinfo(list) }

        var addresses: [IPAddress] = []
        var seen: Set<IPAddress> = []
        var cursor = list
        while let info = cursor {
            cursor = info.pointee.ai_next
            guard let sockaddrPointer = info.pointee.ai_addr else { continue }
            let length = Int(info.pointee.ai_addrlen)
            var address: IPAddress?
            if info.pointee.ai_family == AF_INET, length >= MemoryLayout<sockaddr_in>.size {
                address = sockaddrPointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                    IPAddress(ipv4: UInt32(bigEndian: p.pointee.sin_addr.s_addr))
                }
            } else if info.pointee.ai_family == AF_INET6, length >= MemoryLayout<sockaddr_in6>.size {
                address = sockaddrPointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                    withUnsafeBytes(of: p.pointee.sin6_addr) { IPAddress(bytes: $0) }
                }
            }
            if let address, seen.insert(address).inserted { addresses.append(address) }
        }
        guard !addresses.isEmpty else { throw ResolutionError(host: host, problem: "no IPv4 or IPv6 address") }
        return addresses
    }
}
