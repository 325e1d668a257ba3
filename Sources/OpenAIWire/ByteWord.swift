/// Eight bytes at a time, for the scans of the hot path (`JSONScan.string`, `SSEParser`'s lines): which bytes of a
/// word (loaded little-endian, so the first byte is the lowest) equal a byte or lie below one, each marked by its
/// high bit. A mark can be wrong only above a true one (a borrow carries upwards), so the lowest mark is always
/// the first such byte, and a word without marks has none.
enum ByteWord {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// The eight bytes from `offset`, which the caller has checked are there.
    @inline(__always)
    static func load(_ raw: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Marks the bytes equal to `byte`: they are the zero bytes of `word ^ byte…`, which lend through their high
    /// bit when one is subtracted from each.
    @inline(__always)
    static func equal(_ word: UInt64, _ byte: UInt8) -> UInt64 {
        let x = word ^ (ones &* UInt64(byte))
        return (x &- ones) & ~x & highs
    }

    /// Marks the bytes below `byte` (at most 0x80).
    @inline(__always)
    static func below(_ word: UInt64, _ byte: UInt8) -> UInt64 {
        (word &- ones &* UInt64(byte)) & ~word & highs
    }

    /// How many bytes come before the first mark (8 when there is none).
    @inline(__always)
    static func before(_ marks: UInt64) -> Int {
        marks == 0 ? 8 : marks.trailingZeroBitCount / 8
    }
}

extension ByteWord {
    /// Whether the `count` bytes at `a` and at `b` are the same: a word at a time, the last word overlapping the
    /// one before it rather than reading past the end; under eight bytes, two overlapping halves of four, or byte by
    /// byte under four.
    @inline(__always)
    static func same(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int) -> Bool {
        if count >= 8 {
            var i = 0
            while i + 8 <= count {
                guard a.loadUnaligned(fromByteOffset: i, as: UInt64.self) == b.loadUnaligned(fromByteOffset: i, as: UInt64.self) else { return false }
                i += 8
            }
            return i == count
                || a.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        }
        if count >= 4 {
            return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
                && a.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self) == b.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
        }
        for i in 0..<count where a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        return true
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Whether these bytes are `other`'s, a word at a time (for the short values a stream repeats in every chunk,
    /// where `elementsEqual` costs several times more).
    public func sameBytes(as other: UnsafeBufferPointer<UInt8>) -> Bool {
        guard count == other.count else { return false }
        guard let a = baseAddress, let b = other.baseAddress else { return true }  // both empty
        return ByteWord.same(a, b, count: count)
    }

    /// Whether these bytes are `name`'s.
    public func sameBytes(as name: StaticString) -> Bool {
        count == name.utf8CodeUnitCount && name.withUTF8Buffer { sameBytes(as: $0) }
    }
}
