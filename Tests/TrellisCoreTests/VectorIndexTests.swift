import Testing
import TrellisCore

/// The in-memory vector index: exact cosine top-k, removal, normalisation, and the float32 blob format.
@Suite struct VectorIndexTests {
    func randomVector(_ dims: Int, _ g: inout SeededGenerator) -> [Float] {
        (0..<dims).map { _ in Float.random(in: -1...1, using: &g) }
    }

    func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for (x, y) in zip(a, b) {
            dot += Double(x) * Double(y)
            na += Double(x) * Double(x)
            nb += Double(y) * Double(y)
        }
        return dot / (na.squareRoot() * nb.squareRoot())
    }

    @Test(arguments: [3, 8, 37, 64])
    func topKMatchesBruteForce(dims: Int) {
        var g = SeededGenerator(seed: UInt64(1000 + dims))
        var index = VectorIndex(dimensions: dims)
        var stored: [Int64: [Float]] = [:]
        for id in 1...400 {
            let v = randomVector(dims, &g)
            let added = index.add(id: Int64(id * 3), vector: v)
            #expect(added)
            stored[Int64(id * 3)] = v
        }
        #expect(index.count == 400)
        for _ in 0..<25 {
            let q = randomVector(dims, &g)
            let k = 10
            let expected = stored.map { (id: $0.key, score: cosine(q, $0.value)) }.sorted { $0.score > $1.score }
            let got = index.search(q, k: k)
            #expect(got.count == k)
            #expect(Set(got.map(\.id)).count == k, "no duplicates")
            for (i, hit) in got.enumerated() {
                #expect(abs(Double(hit.score) - expected[i].score) < 1e-4, "rank \(i): \(hit.score) vs \(expected[i].score)")
                // The id returned really has that score (not just some id at a similar score).
                #expect(abs(Double(hit.score) - cosine(q, stored[hit.id] ?? [])) < 1e-4)
                if i > 0 { #expect(got[i - 1].score >= hit.score, "best first") }
            }
            // Where brute force has a clear gap, the ids are exactly the same.
            for i in 0..<k where (i == 0 || expected[i - 1].score - expected[i].score > 1e-4) && expected[i].score - expected[i + 1].score > 1e-4 {
                #expect(got[i].id == expected[i].id)
            }
        }
    }

    @Test func kLargerThanTheIndexReturnsEverythingAndZeroReturnsNothing() {
        var index = VectorIndex(dimensions: 2)
        index.add(id: 1, vector: [1, 0])
        index.add(id: 2, vector: [0, 1])
        index.add(id: 3, vector: [1, 1])
        let all = index.search([1, 0.1], k: 50)
        #expect(all.map(\.id) == [1, 3, 2])
        #expect(index.search([1, 0], k: 0).isEmpty)
        #expect(VectorIndex(dimensions: 2).search([1, 0], k: 5).isEmpty, "an empty index finds nothing")
    }

    @Test func removedVectorsAreNeverFound() {
        var g = SeededGenerator(seed: 9)
        var index = VectorIndex(dimensions: 16)
        var vectors: [Int64: [Float]] = [:]
        for id in Int64(1)...100 {
            vectors[id] = randomVector(16, &g)
            index.add(id: id, vector: vectors[id]!)
        }
        let removed: Set<Int64> = Set(stride(from: Int64(2), through: 100, by: 3))
        index.remove(ids: removed)
        #expect(index.count == 100 - removed.count)
        #expect(Set(index.ids).isDisjoint(with: removed))
        for id in removed {
            #expect(!index.search(vectors[id]!, k: 100).contains { $0.id == id }, "removed \(id) is gone")
        }
        // The rest still find themselves first, with their own vectors (rows did not shift).
        for id in Int64(1)...100 where !removed.contains(id) {
            let top = index.search(vectors[id]!, k: 1)
            #expect(top.first?.id == id)
            #expect(abs((top.first?.score ?? 0) - 1) < 1e-5)
        }
        index.remove(ids: [])
        #expect(index.count == 100 - removed.count)
        index.remove(ids: [12345])
        #expect(index.count == 100 - removed.count, "removing an unknown id changes nothing")
    }

    @Test func vectorsAreNormalised() {
        let unit = VectorIndex.normalized([3, 4]) ?? []
        #expect(unit.count == 2 && abs(unit[0] - 0.6) < 1e-6 && abs(unit[1] - 0.8) < 1e-6)
        #expect(VectorIndex.normalized([0, 0, 0]) == nil)
        #expect(VectorIndex.normalized([.nan, 1]) == nil)
        #expect(VectorIndex.normalized([.infinity, 1]) == nil)
        var index = VectorIndex(dimensions: 2)
        let added1 = index.add(id: 1, vector: [3, 4])
        #expect(added1)
        let added2 = index.add(id: 2, vector: [-300, -400])
        #expect(added2)
        let hits = index.search([0.006, 0.008], k: 2)
        #expect(hits.map(\.id) == [1, 2])
        #expect(abs(hits[0].score - 1) < 1e-6, "cosine, not dot product: magnitude does not matter")
        #expect(abs(hits[1].score + 1) < 1e-6)
        let added3 = index.add(id: 3, vector: [0, 0])
        #expect(!added3, "a zero vector has no direction")
        #expect(index.count == 2)
    }

    @Test func wrongDimensionsAreIgnored() {
        var index = VectorIndex(dimensions: 4)
        let added4 = index.add(id: 1, vector: [1, 2, 3])
        #expect(!added4)
        let added5 = index.add(id: 2, vector: [1, 2, 3, 4, 5])
        #expect(!added5)
        let added6 = index.add(id: 3, vector: [])
        #expect(!added6)
        #expect(index.count == 0)
        let added7 = index.add(id: 4, vector: [1, 2, 3, 4])
        #expect(added7)
        #expect(index.search([1, 2, 3], k: 5).isEmpty, "a query of the wrong length finds nothing")
        #expect(index.search([1, 2, 3, 4], k: 5).map(\.id) == [4])
    }

    @Test func blobsAreLittleEndianFloat32AndRoundTripExactly() {
        #expect(VectorIndex.encode([1.0]) == [0x00, 0x00, 0x80, 0x3F])
        #expect(VectorIndex.encode([-2.0]) == [0x00, 0x00, 0x00, 0xC0])
        #expect(VectorIndex.encode([]) == [])
        let values: [Float] = [
            0, -0.0, 1, -1, .pi, -123.456, 1e-30, -1e30,
            .leastNonzeroMagnitude, -.leastNonzeroMagnitude,  // subnormal
            .leastNormalMagnitude / 3, -.leastNormalMagnitude / 7,  // subnormal
            .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .infinity, -.infinity,
        ]
        let bytes = VectorIndex.encode(values)
        #expect(bytes.count == values.count * 4)
        let back = VectorIndex.decode(bytes)
        #expect(back.map(\.bitPattern) == values.map(\.bitPattern), "bit for bit, signs of zero included")
        let nan = Float(bitPattern: 0x7FC0_1234)
        #expect(VectorIndex.decode(VectorIndex.encode([nan])).first?.bitPattern == 0x7FC0_1234)
        var g = SeededGenerator(seed: 3)
        let random = (0..<1000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: g.next())) }
        #expect(VectorIndex.decode(VectorIndex.encode(random)).map(\.bitPattern) == random.map(\.bitPattern))
    }

    @Test func truncatedBlobsDecodeToNothing() {
        #expect(VectorIndex.decode([0x00, 0x00, 0x80]).isEmpty)
        #expect(VectorIndex.decode([0x00, 0x00, 0x80, 0x3F, 0x01]).isEmpty)
        #expect(VectorIndex.decode([]).isEmpty)
    }

    @Test func aLargeIndexSplitAcrossCoresFindsWhatAFullScanFinds() {
        // Past the threshold the scan runs in parts; the answer must equal a brute-force ranking.
        var generator = SystemRandomNumberGenerator()
        let dims = 24
        let count = VectorIndex.parallelThreshold + 1_001
        var index = VectorIndex(dimensions: dims)
        var stored: [(Int64, [Float])] = []
        for id in 0..<count {
            let v = (0..<dims).map { _ in Float.random(in: -1...1, using: &generator) }
            index.add(id: Int64(id), vector: v)
            stored.append((Int64(id), VectorIndex.normalized(v) ?? v))
        }
        // Two stored vectors equal to the query, far apart in the index, so parts must be merged.
        let query = stored[7].1
        index.add(id: Int64(count), vector: query)
        stored.append((Int64(count), query))
        let q = VectorIndex.normalized(query) ?? query
        let expected = stored.map { ($0.0, zip($0.1, q).reduce(Float(0)) { $0 + $1.0 * $1.1 }) }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(25)
        let found = index.search(query, k: 25)
        #expect(found.count == 25)
        #expect(Set(found.prefix(2).map(\.id)) == [7, Int64(count)])
        #expect(Set(found.map(\.id)) == Set(expected.map(\.0)))
        for (f, e) in zip(found, expected) { #expect(abs(f.score - e.1) < 1e-4) }
    }
}
