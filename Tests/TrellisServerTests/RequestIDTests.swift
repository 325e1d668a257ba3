import Foundation
import Testing

@testable import TrellisServer

/// Request ids: the published shape, ordered by the second they were made, random within it.
@Suite struct RequestIDTests {
    @Test("an id is req_ and 24 lowercase hex digits, the second first")
    func shape() {
        let id = RequestIDs.make(second: 0x6543_21FE, random: 0x0123_4567_89AB_CDEF)
        #expect(id == "req_654321fe0123456789abcdef")
        let made = RequestIDs.make()
        #expect(made.count == 28 && made.hasPrefix("req_"))
        #expect(made.dropFirst(4).allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test("hex digits: lowercase, zero-padded, the last ones kept")
    func hexDigits() {
        #expect(RequestIDs.hex(0) == "0000000000000000")
        #expect(RequestIDs.hex(.max) == "ffffffffffffffff")
        #expect(RequestIDs.hex(0x0123_4567_89AB_CDEF) == "0123456789abcdef")
        #expect(RequestIDs.hex(0xABC, digits: 3) == "abc")
        #expect(RequestIDs.hex(0x1_2345, digits: 4) == "2345")
        #expect(RequestIDs.make(second: 0, random: 0) == "req_000000000000000000000000")
        #expect(RequestIDs.make(second: .max, random: .max) == "req_ffffffffffffffffffffffff")
    }

    @Test("ids of a later second sort after those of an earlier one, whatever their random bits")
    func orderedBySecond() {
        let earlier = RequestIDs.make(second: 1_800_000_000, random: .max)
        let later = RequestIDs.make(second: 1_800_000_001, random: 0)
        #expect(earlier < later)
    }

    @Test("the second is the wall clock's, and two ids of one second differ")
    func nowAndRandom() throws {
        let before = UInt32(Date().timeIntervalSince1970)
        let a = RequestIDs.make()
        let b = RequestIDs.make()
        let after = UInt32(Date().timeIntervalSince1970)
        let second = try #require(UInt32(a.dropFirst(4).prefix(8), radix: 16))
        #expect(second >= before && second <= after)
        #expect(a != b)
    }
}
