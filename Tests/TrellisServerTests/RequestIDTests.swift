import Foundation
import Synchronization
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

/// The random bits behind request ids, taken from the system's generator a batch at a time.
@Suite struct RandomBitsTests {
    @Test("values come out in the order they were filled, and the buffer is filled again only once it is used up")
    func batches() {
        let fills = Mutex(0)
        let bits = RandomBits { values in
            let n = fills.withLock { n -> Int in
                n += 1
                return n
            }
            for i in values.indices { values[i] = UInt64(n) << 32 | UInt64(i) }
        }
        let taken = (0..<(RandomBits.batch * 2 + 1)).map { _ in bits.next() }
        #expect(taken.prefix(RandomBits.batch) == ArraySlice((0..<RandomBits.batch).map { 1 << 32 | UInt64($0) }))
        #expect(taken[RandomBits.batch] == 2 << 32)
        #expect(taken.last == 3 << 32)
        #expect(fills.withLock { $0 } == 3)
    }

    @Test("the system fill replaces every value: no two of 4,096 values alike, no batch with a zero word left")
    func systemFill() {
        var seen = Set<UInt64>()
        for _ in 0..<(4096 / RandomBits.batch) {
            var values = [UInt64](repeating: 0, count: RandomBits.batch)
            RandomBits.systemFill(&values)
            #expect(!values.contains(0))
            seen.formUnion(values)
        }
        #expect(seen.count == 4096)
    }

    @Test("threads taking values at once never get the same one")
    func concurrent() async {
        // Each fill hands out numbers no fill gave before, so a value handed out twice shows as a repeat.
        let counter = Mutex<UInt64>(0)
        let bits = RandomBits { values in
            counter.withLock { c in
                for i in values.indices {
                    c += 1
                    values[i] = c
                }
            }
        }
        let all = await withTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<8 { group.addTask { (0..<500).map { _ in bits.next() } } }
            return await group.reduce(into: [UInt64]()) { $0 += $1 }
        }
        #expect(all.count == 4000)
        #expect(Set(all).count == 4000)
    }
}
