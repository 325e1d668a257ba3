import Testing

@testable import OpenAIWire

/// `sameBytes(as:)` compares a word at a time with overlapping last loads; these check it for every length up to
/// 40, equal and with one byte different at every position, at several alignments of both sides (the loads are
/// unaligned), so no byte is skipped and none is read past either end.
@Suite struct SameBytesTests {
    @Test func equalAndUnequalAtEveryLengthPositionAndAlignment() {
        for count in 0...40 {
            let base = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            for offsetA in 0..<3 {
                for offsetB in 0..<3 {
                    // Each side sits inside a larger buffer whose bytes around it differ, so a read past the end
                    // would change the answer.
                    var a = [UInt8](repeating: 0xAA, count: count + 6)
                    var b = [UInt8](repeating: 0x55, count: count + 6)
                    a.replaceSubrange(offsetA..<(offsetA + count), with: base)
                    b.replaceSubrange(offsetB..<(offsetB + count), with: base)
                    #expect(Self.same(a, offsetA, b, offsetB, count), "equal, \(count) bytes")
                    for position in 0..<count {
                        var changed = b
                        changed[offsetB + position] ^= 0x01
                        #expect(!Self.same(a, offsetA, changed, offsetB, count), "\(count) bytes, differing at \(position)")
                    }
                }
            }
        }
    }

    @Test func differentLengthsAndNamesCompare() {
        let data: [UInt8] = Array("data".utf8)
        data.withUnsafeBufferPointer { d in
            #expect(d.sameBytes(as: "data"))
            #expect(!d.sameBytes(as: "date"))
            #expect(!d.sameBytes(as: "dat"))
            #expect(!d.sameBytes(as: "datas"))
            #expect(!UnsafeBufferPointer(rebasing: d[0..<3]).sameBytes(as: d))
        }
        let empty: [UInt8] = []
        empty.withUnsafeBufferPointer { e in
            #expect(e.sameBytes(as: ""))
            #expect(e.sameBytes(as: e))
            #expect(!e.sameBytes(as: "a"))
        }
    }

    private static func same(_ a: [UInt8], _ offsetA: Int, _ b: [UInt8], _ offsetB: Int, _ count: Int) -> Bool {
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                let x = UnsafeBufferPointer(rebasing: a[offsetA..<(offsetA + count)])
                let y = UnsafeBufferPointer(rebasing: b[offsetB..<(offsetB + count)])
                return x.sameBytes(as: y)
            }
        }
    }
}
