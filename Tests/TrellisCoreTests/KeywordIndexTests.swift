import Testing
import TrellisCore

@Suite("KeywordIndex")
struct KeywordIndexTests {
    static func terms(_ text: String) -> [String] { SearchTokenizer.indexTerms(text) }

    @Test func ranksByBM25AndBreaksTiesByID() {
        var index = KeywordIndex()
        index.add(id: 30, terms: Self.terms("hail damage hail"))
        index.add(id: 10, terms: Self.terms("hail"))
        index.add(id: 20, terms: Self.terms("hail"))
        index.add(id: 40, terms: Self.terms("flood damage"))
        index.add(id: 50, terms: Self.terms("fire"))
        let hits = index.search(["hail"], limit: 10)
        #expect(hits.map(\.id) == [10, 20, 30], "short chunks first at one occurrence; equal scores by id")
        #expect(hits[0].score == hits[1].score && hits[1].score > hits[2].score)
        // "hail" is in more than half the chunks, so it weighs almost nothing; "damage" decides, and the
        // shorter chunk with it wins (BM25's length normalisation).
        #expect(index.search(["hail", "damage"], limit: 10).prefix(2).map(\.id) == [40, 30])
        #expect(index.search(["hail"], limit: 2).map(\.id) == [10, 20])
        #expect(index.search(["snow"], limit: 5).isEmpty)
        #expect(index.search(["hail"], limit: 0).isEmpty)
        #expect(index.documentFrequency("hail") == 3 && index.count == 5)
    }

    @Test func removedChunksAreNeverFoundAndCompactionKeepsTheRest() {
        var index = KeywordIndex()
        for id in 0..<3000 { index.add(id: Int64(id), terms: Self.terms(id % 3 == 0 ? "policy clause \(id) hail" : "policy clause \(id)")) }
        let before = index.search(["hail"], limit: 5000)
        #expect(before.count == 1000)
        // Remove 1200 chunks, 400 of them with "hail": past a quarter dead, the lists are rebuilt.
        index.remove(ids: Set((0..<1200).map(Int64.init)))
        #expect(index.count == 1800)
        let after = index.search(["hail"], limit: 5000)
        #expect(after.count == 600 && after.allSatisfy { $0.id >= 1200 && $0.id % 3 == 0 })
        #expect(index.documentFrequency("hail") == 600)
        // A chunk added again replaces its old terms.
        index.add(id: 1500, terms: Self.terms("snow"))
        #expect(!index.search(["hail"], limit: 5000).contains { $0.id == 1500 })
        #expect(index.search(["snow"], limit: 5).map(\.id) == [1500])
        #expect(index.count == 1800)
    }

    @Test func aTermInMostChunksWeighsAlmostNothing() {
        var index = KeywordIndex()
        for id in 0..<10 { index.add(id: Int64(id), terms: Self.terms(id == 7 ? "the policy hail" : "the policy")) }
        let hits = index.search(SearchTokenizer.queryTerms("the hail"), limit: 3)
        #expect(hits.first?.id == 7)
        let common = index.search(["the"], limit: 10)
        #expect(common.count == 10 && common.allSatisfy { $0.score < 1e-4 }, "idf floors at 1e-6, as in FTS5")
    }
}
