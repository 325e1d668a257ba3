import Foundation

/// An in-memory inverted index for one knowledge base, ranked by BM25 with SQLite FTS5's formula and
/// parameters (k1 = 1.2, b = 0.75; a term in more than half the chunks weighs almost nothing). A query reads
/// the posting list of each of its terms once and adds into a dense score array, so a search over 100k chunks
/// costs a few microseconds per posting less than FTS5's per-row ranking function and stays in milliseconds
/// even for a term that is in every chunk. SQLite keeps the terms (`chunk_terms`); this is rebuilt from them
/// at start, like the vector index.
public struct KeywordIndex: Sendable {
    public static let k1 = 1.2
    public static let b = 0.75

    private struct Postings: Sendable {
        var slots: [Int32] = []
        var frequencies: [UInt16] = []
    }

    private var postings: [String: Postings] = [:]
    /// Slot → chunk id; a removed chunk's slot keeps its id but is dead.
    private var ids: [Int64] = []
    private var lengths: [Int32] = []
    private var alive: [Bool] = []
    private var slotOf: [Int64: Int32] = [:]
    private var liveCount = 0
    private var liveLength = 0
    private var deadCount = 0

    public init() {}

    /// Chunks in the index.
    public var count: Int { liveCount }

    /// Adds a chunk with its index terms (`SearchTokenizer.indexTerms`); a chunk already there is replaced.
    public mutating func add(id: Int64, terms: [String]) {
        if slotOf[id] != nil { remove(ids: [id]) }
        let slot = Int32(ids.count)
        var frequency: [String: Int] = [:]
        for t in terms where !t.isEmpty { frequency[t, default: 0] += 1 }
        for (term, n) in frequency {
            postings[term, default: Postings()].slots.append(slot)
            postings[term, default: Postings()].frequencies.append(UInt16(clamping: n))
        }
        ids.append(id)
        lengths.append(Int32(clamping: terms.count))
        alive.append(true)
        slotOf[id] = slot
        liveCount += 1
        liveLength += terms.count
    }

    public mutating func remove(ids removed: Set<Int64>) {
        for id in removed {
            guard let slot = slotOf.removeValue(forKey: id) else { continue }
            let s = Int(slot)
            alive[s] = false
            liveCount -= 1
            liveLength -= Int(lengths[s])
            deadCount += 1
        }
        // Dead slots still sit in posting lists; past a quarter of them, rebuild the lists without.
        if deadCount > 1024, deadCount * 4 > ids.count { compact() }
    }

    private mutating func compact() {
        var newSlot = [Int32](repeating: -1, count: ids.count)
        var newIDs: [Int64] = []
        var newLengths: [Int32] = []
        newIDs.reserveCapacity(liveCount)
        newLengths.reserveCapacity(liveCount)
        for s in 0..<ids.count where alive[s] {
            newSlot[s] = Int32(newIDs.count)
            newIDs.append(ids[s])
            newLengths.append(lengths[s])
        }
        var newPostings: [String: Postings] = [:]
        newPostings.reserveCapacity(postings.count)
        for (term, list) in postings {
            var kept = Postings()
            for (slot, n) in zip(list.slots, list.frequencies) where newSlot[Int(slot)] >= 0 {
                kept.slots.append(newSlot[Int(slot)])
                kept.frequencies.append(n)
            }
            if !kept.slots.isEmpty { newPostings[term] = kept }
        }
        postings = newPostings
        ids = newIDs
        lengths = newLengths
        alive = [Bool](repeating: true, count: newIDs.count)
        slotOf = Dictionary(uniqueKeysWithValues: newIDs.enumerated().map { ($1, Int32($0)) })
        deadCount = 0
    }

    /// Live chunks containing `term`.
    public func documentFrequency(_ term: String) -> Int {
        guard let list = postings[term] else { return 0 }
        return deadCount == 0 ? list.slots.count : list.slots.reduce(0) { $0 + (alive[Int($1)] ? 1 : 0) }
    }

    /// The best `limit` chunks for the query's terms (`SearchTokenizer.queryTerms`), best first, ties by id.
    public func search(_ terms: [String], limit: Int) -> [(id: Int64, score: Double)] {
        guard limit > 0, liveCount > 0 else { return [] }
        var unique: [String] = []
        for t in terms where !t.isEmpty && !unique.contains(t) {
            unique.append(t)
            if unique.count == 64 { break }
        }
        let n = Double(liveCount)
        let averageLength = max(1, Double(liveLength) / n)
        var scores = [Double](repeating: 0, count: ids.count)
        var touched: [Int32] = []
        for term in unique {
            guard let list = postings[term] else { continue }
            let df = Double(documentFrequency(term))
            guard df > 0 else { continue }
            // FTS5's bm25(): log((N - df + 0.5) / (df + 0.5)), at least 1e-6.
            let idf = max(1e-6, log((n - df + 0.5) / (df + 0.5)))
            list.slots.withUnsafeBufferPointer { slots in
                list.frequencies.withUnsafeBufferPointer { frequencies in
                    for i in 0..<slots.count {
                        let s = Int(slots[i])
                        guard alive[s] else { continue }
                        let tf = Double(frequencies[i])
                        let norm = Self.k1 * (1 - Self.b + Self.b * Double(lengths[s]) / averageLength)
                        if scores[s] == 0 { touched.append(slots[i]) }
                        scores[s] += idf * tf * (Self.k1 + 1) / (tf + norm)
                    }
                }
            }
        }
        // The top `limit` of the touched slots, kept sorted in a small array.
        var best: [(id: Int64, score: Double)] = []
        best.reserveCapacity(limit + 1)
        for slot in touched {
            let s = Int(slot)
            let candidate = (id: ids[s], score: scores[s])
            if best.count == limit, let last = best.last, !Self.ranksBefore(candidate, last) { continue }
            var i = best.count
            while i > 0, Self.ranksBefore(candidate, best[i - 1]) { i -= 1 }
            best.insert(candidate, at: i)
            if best.count > limit { best.removeLast() }
        }
        return best
    }

    static func ranksBefore(_ a: (id: Int64, score: Double), _ b: (id: Int64, score: Double)) -> Bool {
        a.score != b.score ? a.score > b.score : a.id < b.id
    }
}
