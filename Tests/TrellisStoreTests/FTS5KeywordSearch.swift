import Foundation
import GRDB
import TrellisCore
import TrellisStore
import TrellisStoreTestSupport

/// The reference keyword search: BM25 computed by SQLite's FTS5 over the `chunk_terms` table the store
/// writes. The gateway searches in memory (`KeywordIndex`); the tests check that it gives FTS5's scores and
/// order, and that what the store indexes is namespaced per knowledge base.
struct FTS5KeywordSearch {
    /// The most postings a query reads. Query terms are taken rarest first (document frequency in the
    /// knowledge base, from fts5vocab) while their posting lists fit in this budget, and the rarest is always
    /// taken: very common terms match most chunks and weigh least in BM25.
    static let postingsBudget = 12_000

    /// The database file.
    let path: String

    /// The best `limit` chunk ids and scores (higher is better) within one knowledge base; terms are matched
    /// with OR, so a chunk matching more (and rarer) terms ranks higher.
    func keywordSearch(knowledgeBase: KnowledgeBase, terms: [String], limit: Int) async throws -> [(id: Int64, score: Double)] {
        var unique: [String] = []
        for t in terms where !unique.contains(t) && !t.isEmpty {
            unique.append(t)
            if unique.count == 64 { break }
        }
        guard !unique.isEmpty else { return [] }
        let prefix = knowledgeBase.termPrefix
        let queryTerms = unique
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        return try await queue.read { db in
            var present: [(term: String, df: Int)] = []
            for t in queryTerms {
                let term = prefix + t
                let df = try Int.fetchOne(db, sql: "SELECT doc FROM chunk_terms_vocab WHERE term = ?", arguments: [term]) ?? 0
                if df > 0 { present.append((term, df)) }
            }
            guard !present.isEmpty else { return [] }
            present.sort { $0.df < $1.df }
            var chosen: [String] = []
            var postings = 0
            for (term, df) in present where chosen.isEmpty || postings + df <= Self.postingsBudget {
                chosen.append(term)
                postings += df
            }
            let match = chosen.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: " OR ")
            let rows = try Row.fetchAll(
                db, sql: "SELECT rowid, bm25(chunk_terms) AS rank FROM chunk_terms WHERE chunk_terms MATCH ? ORDER BY rank LIMIT ?",
                arguments: [match, limit])
            return rows.map { (id: $0["rowid"], score: -($0["rank"] as Double)) }
        }
    }
}

extension TemporaryStore {
    /// The reference search over this store's file.
    var fts5: FTS5KeywordSearch { FTS5KeywordSearch(path: path) }
}
