import Foundation

/// The distinct end users of a daily roll-up row: 64-bit FNV-1a hashes of their names, sorted, little-endian.
/// Sets merge by union, so a report counts the distinct users of any grouping from the daily rows alone
/// (exact up to a 64-bit hash collision), without reading a row per user.
enum UserSet {
    static func hash(_ user: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in user.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }

    static func encode(_ set: Set<UInt64>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(set.count * 8)
        for h in set.sorted() {
            for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8((h >> UInt64(shift)) & 0xFF)) }
        }
        return out
    }

    static func append(encoded bytes: some ContiguousBytes, to hashes: inout [UInt64]) {
        forEach(encoded: bytes) { hashes.append($0) }
    }

    static func distinctCount(_ hashes: [UInt64]) -> Int {
        guard !hashes.isEmpty else { return 0 }
        let sorted = hashes.sorted()
        var count = 1
        for i in 1..<sorted.count where sorted[i] != sorted[i - 1] { count += 1 }
        return count
    }

    static func insert(encoded bytes: some ContiguousBytes, into set: inout Set<UInt64>) {
        forEach(encoded: bytes) { set.insert($0) }
    }

    /// Each hash of an encoded set, in order; nothing for bytes that are not whole hashes.
    private static func forEach(encoded bytes: some ContiguousBytes, _ body: (UInt64) -> Void) {
        bytes.withUnsafeBytes { raw in
            guard raw.count % 8 == 0 else { return }
            var o = 0
            while o < raw.count {
                body(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self)))
                o += 8
            }
        }
    }
}
