import Foundation

/// An in-memory vector index for one knowledge base: unit-length float32 vectors in one flat array, searched
/// by cosine similarity (a dot product of unit vectors) with SIMD, exhaustively. Exact, and fast enough at
/// the sizes an embedded store holds (100k × 576 dimensions is about 58 M multiply-adds per query).
public struct VectorIndex: Sendable {
    public let dimensions: Int
    public private(set) var ids: [Int64] = []
    private var values: [Float] = []

    public init(dimensions: Int) {
        self.dimensions = dimensions
    }

    public var count: Int { ids.count }

    /// Adds a vector (normalised here); one of the wrong length or with no magnitude is ignored.
    @discardableResult
    public mutating func add(id: Int64, vector: [Float]) -> Bool {
        guard vector.count == dimensions, let unit = Self.normalized(vector) else { return false }
        ids.append(id)
        values.append(contentsOf: unit)
        return true
    }

    public mutating func remove(ids removed: Set<Int64>) {
        guard !removed.isEmpty else { return }
        var newIDs: [Int64] = []
        var newValues: [Float] = []
        newIDs.reserveCapacity(ids.count)
        newValues.reserveCapacity(values.count)
        for (i, id) in ids.enumerated() where !removed.contains(id) {
            newIDs.append(id)
            newValues.append(contentsOf: values[(i * dimensions)..<((i + 1) * dimensions)])
        }
        ids = newIDs
        values = newValues
    }

    public static func normalized(_ v: [Float]) -> [Float]? {
        var sum: Float = 0
        for x in v { sum += x * x }
        guard sum.isFinite, sum > 0 else { return nil }
        let scale = 1 / sum.squareRoot()
        return v.map { $0 * scale }
    }

    /// Above this many vectors a search splits the scan across the machine's cores: the scan is bound by
    /// memory bandwidth (100k × 576 floats is 230 MB read per query), which one core does not saturate.
    public static let parallelThreshold = 16_384

    /// The `k` most similar vectors, best first, with their cosine similarity.
    public func search(_ query: [Float], k: Int) -> [(id: Int64, score: Float)] {
        guard k > 0, query.count == dimensions, let q = Self.normalized(query), !ids.isEmpty else { return [] }
        let parts = ids.count >= Self.parallelThreshold ? min(4, max(1, ProcessInfo.processInfo.activeProcessorCount)) : 1
        if parts == 1 { return scan(q, rows: 0..<ids.count, k: k) }
        let step = (ids.count + parts - 1) / parts
        let partial = UnsafeMutableBufferPointer<[(id: Int64, score: Float)]>.allocate(capacity: parts)
        partial.initialize(repeating: [])
        defer { partial.deinitialize(); partial.deallocate() }
        let results = SendableBuffer(partial)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let rows = (part * step)..<min(ids.count, (part + 1) * step)
            results.buffer[part] = scan(q, rows: rows, k: k)
        }
        var merged = Array(partial.joined())
        merged.sort { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }
        return Array(merged.prefix(k))
    }

    /// Each part writes only its own element of the buffer, and the buffer outlives `concurrentPerform`,
    /// which returns only after every part has finished: no element is shared between threads.
    private struct SendableBuffer: @unchecked Sendable {
        let buffer: UnsafeMutableBufferPointer<[(id: Int64, score: Float)]>
        init(_ buffer: UnsafeMutableBufferPointer<[(id: Int64, score: Float)]>) { self.buffer = buffer }
    }

    private func scan(_ q: [Float], rows: Range<Int>, k: Int) -> [(id: Int64, score: Float)] {
        var best: [(id: Int64, score: Float)] = []
        best.reserveCapacity(k + 1)
        var threshold = -Float.infinity
        values.withUnsafeBufferPointer { all in
            q.withUnsafeBufferPointer { qp in
                let d = dimensions
                for row in rows {
                    let score = Self.dot(qp, UnsafeBufferPointer(rebasing: all[(row * d)..<((row + 1) * d)]))
                    if best.count < k || score > threshold {
                        // Insert in order; k is small.
                        var i = best.count
                        while i > 0 && best[i - 1].score < score { i -= 1 }
                        best.insert((ids[row], score), at: i)
                        if best.count > k { best.removeLast() }
                        threshold = best.count == k ? best[best.count - 1].score : -Float.infinity
                    }
                }
            }
        }
        return best
    }

    @inline(__always)
    static func dot(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Float {
        let n = a.count
        guard let pa = a.baseAddress, let pb = b.baseAddress else { return 0 }
        let ra = UnsafeRawPointer(pa)
        let rb = UnsafeRawPointer(pb)
        // Whole-vector loads into two independent accumulators (the loop is bound by the multiply-add latency
        // otherwise); 16 floats a step.
        var acc0 = SIMD8<Float>()
        var acc1 = SIMD8<Float>()
        var i = 0
        while i + 16 <= n {
            let offset = i * MemoryLayout<Float>.stride
            acc0 += ra.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            acc1 += ra.loadUnaligned(fromByteOffset: offset + 32, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: offset + 32, as: SIMD8<Float>.self)
            i += 16
        }
        var sum = (acc0 + acc1).sum()
        while i < n {
            sum += pa[i] * pb[i]
            i += 1
        }
        return sum
    }

    /// Vectors as stored: little-endian float32, packed.
    public static func encode(_ v: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(v.count * 4)
        for x in v {
            let bits = x.bitPattern.littleEndian
            withUnsafeBytes(of: bits) { out.append(contentsOf: $0) }
        }
        return out
    }

    public static func decode(_ bytes: [UInt8]) -> [Float] {
        guard bytes.count % 4 == 0 else { return [] }
        var out: [Float] = []
        out.reserveCapacity(bytes.count / 4)
        var i = 0
        while i < bytes.count {
            let bits = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
            out.append(Float(bitPattern: bits))
            i += 4
        }
        return out
    }
}
