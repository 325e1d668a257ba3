import Testing
import TrellisCore

@testable import TrellisServer

/// The system resolver behind the egress check (moved out of `TrellisCore`, which does no I/O).
@Suite struct HostResolverTests {
    func policy(_ rules: String...) throws -> EgressPolicy { try EgressPolicy(rules: rules) }
    func address(_ text: String) throws -> IPAddress { try #require(IPAddress(text)) }

    @Test("localhost resolves to loopback addresses only, which private and loopback allow")
    func resolveLocalhost() throws {
        let addresses = try HostResolver.resolve(host: "localhost", port: 11434)
        #expect(!addresses.isEmpty)
        let loopback = try policy("loopback")
        for a in addresses { #expect(loopback.allows(a), "\(a) is loopback") }
        #expect(Set(addresses).count == addresses.count, "no duplicates")
        let p = try policy("private")
        #expect(p.allowsHost("localhost") == .needsResolution)
        #expect(p.allowsAddresses(addresses, host: "localhost"))
        #expect(!(try policy("10.0.0.0/8")).allowsAddresses(addresses, host: "localhost"))
    }

    @Test("literals resolve to themselves; bad ports are refused")
    func resolveLiterals() throws {
        #expect(try HostResolver.resolve(host: "127.0.0.1", port: 80) == [try address("127.0.0.1")])
        #expect(try HostResolver.resolve(host: "[::1]", port: 80) == [try address("::1")])
        #expect(throws: HostResolver.ResolutionError.self) { try HostResolver.resolve(host: "localhost", port: 70000) }
        #expect(throws: HostResolver.ResolutionError.self) { try HostResolver.resolve(host: "", port: 80) }
    }
}
