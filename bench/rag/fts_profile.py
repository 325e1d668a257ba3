#!/usr/bin/env python3
"""Where a keyword search's time goes, on a gateway's SQLite file (read-only): the FTS5 statement Trellis runs
(bm25 over `kb : TOKEN AND terms : (t1 OR t2 …)`, ORDER BY rank LIMIT k), timed per query against the number
of chunks it matches, and variants that show what the cost depends on:

- `first k, no ranking`: the same MATCH without ORDER BY (stops at the first k matches: the index lookup alone);
- `count matches`: every match enumerated, nothing scored;
- `drop common terms`: the gateway's statement without the query terms that occur in more than --df of the
  table's rows (document frequency from fts5vocab), keeping at least the rarest term; with the share of its
  top k that equals the full statement's top k (a proxy for what the pruning costs in ranking).

    .venv/bin/python bench/rag/fts_profile.py DATA_DIR/trellis.sqlite kw-100k [--queries 200] [--df 0.05]

The query set is load.py's (same seed).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import time
from pathlib import Path

import harness
import load

TOP_K = 5


def unique_terms(q: str) -> list[str]:
    return list(dict.fromkeys(t for t in harness.search_terms(q, for_query=True) if t))[:64]


def match_expr(token: str, terms: list[str]) -> str:
    quoted = ['"' + t.replace('"', '""') + '"' for t in terms]
    return f'kb : "{token}" AND terms : ({" OR ".join(quoted)})'


def timed(conn: sqlite3.Connection, sql: str, args: tuple) -> tuple[float, list]:
    t0 = time.perf_counter()
    rows = conn.execute(sql, args).fetchall()
    return (time.perf_counter() - t0) * 1000, rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db", type=Path)
    ap.add_argument("kb")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--df", type=float, default=0.05, help="drop query terms in more than this share of rows")
    args = ap.parse_args()

    corpus = load.Corpus()
    queries = corpus.queries([corpus.document(i) for i in range(300)], args.queries)

    conn = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    kb_id = conn.execute("SELECT id FROM knowledge_bases WHERE name = ?", (args.kb,)).fetchone()[0]
    token = "kb" + "".join(c for c in kb_id if c.isalnum())
    rows_total = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    kb_rows = conn.execute("SELECT count(*) FROM chunks WHERE kb_id = ?", (kb_id,)).fetchone()[0]
    conn.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, chunks_fts, row)")
    df = {}

    def doc_freq(term: str) -> int:
        if term not in df:
            r = conn.execute("SELECT doc FROM temp.vocab WHERE term = ?", (term,)).fetchone()
            df[term] = r[0] if r else 0
        return df[term]

    ranked_sql = "SELECT rowid, bm25(chunks_fts, 0.0, 1.0) AS rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?"
    out = {"full": [], "first": [], "count": [], "pruned": []}
    matched, matched_pruned, agree, dropped = [], [], [], []
    per_query = []
    for rep in range(2):
        for kind, q in queries:
            terms = unique_terms(q)
            if not terms:
                continue
            expr = match_expr(token, terms)
            ms_full, full = timed(conn, ranked_sql, (expr, TOP_K))
            ms_first, _ = timed(conn, "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?", (expr, TOP_K))
            ms_count, count_rows = timed(conn, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (expr,))
            count = count_rows[0][0]
            keep = [t for t in terms if doc_freq(t) <= args.df * rows_total]
            if not keep:
                keep = [min(terms, key=doc_freq)]
            pexpr = match_expr(token, keep)
            ms_pruned, pruned = timed(conn, ranked_sql, (pexpr, TOP_K))
            if rep == 1:  # the second pass is measured (the first warms the page cache)
                out["full"].append(ms_full)
                out["first"].append(ms_first)
                out["count"].append(ms_count)
                out["pruned"].append(ms_pruned)
                matched.append(count)
                matched_pruned.append(conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (pexpr,)).fetchone()[0])
                a = {r[0] for r in full}
                agree.append(len(a & {r[0] for r in pruned}) / len(a) if a else 1.0)
                dropped.append(len(terms) - len(keep))
                per_query.append((ms_full, count, kind, q, len(terms)))

    def p(v, q):
        return load.pct(v, q)

    print(f"{args.db}: {rows_total} rows in chunks_fts; knowledge base {args.kb}: {kb_rows} chunks; {len(out['full'])} queries "
          f"(second pass), top_k {TOP_K}; SQLite {sqlite3.sqlite_version}")
    print()
    print("| statement | p50 ms | p90 ms | p99 ms | chunks matched p50 / p99 |")
    print("|---|---:|---:|---:|---:|")
    print(f"| as the gateway runs it (bm25, ORDER BY rank LIMIT {TOP_K}) | {p(out['full'], .5):.2f} | {p(out['full'], .9):.2f} | {p(out['full'], .99):.2f} | {p(matched, .5):.0f} / {p(matched, .99):.0f} |")
    print(f"| first {TOP_K} matches, no ranking | {p(out['first'], .5):.2f} | {p(out['first'], .9):.2f} | {p(out['first'], .99):.2f} | |")
    print(f"| count(*) of the matches, no ranking | {p(out['count'], .5):.2f} | {p(out['count'], .9):.2f} | {p(out['count'], .99):.2f} | |")
    print(f"| without terms in > {args.df:.0%} of rows (bm25, ORDER BY rank) | {p(out['pruned'], .5):.2f} | {p(out['pruned'], .9):.2f} | {p(out['pruned'], .99):.2f} | {p(matched_pruned, .5):.0f} / {p(matched_pruned, .99):.0f} |")
    print()
    print(f"Dropping common terms removed {statistics.fmean(dropped):.1f} terms per query on average; its top {TOP_K} "
          f"equals the full statement's top {TOP_K} for {statistics.fmean(agree):.0%} of the chunks (mean over queries).")
    # Time per matched chunk, from the slowest half.
    slow = sorted(per_query, reverse=True)[: len(per_query) // 2]
    us = [ms * 1000 / max(c, 1) for ms, c, *_ in slow]
    print(f"Cost per matched chunk (slower half of the queries): median {statistics.median(us):.2f} µs.")
    print()
    print("Slowest statements:")
    print()
    print("| ms | matched | terms | kind | query |")
    print("|---:|---:|---:|---|---|")
    for ms, c, kind, q, n in sorted(per_query, reverse=True)[:8]:
        print(f"| {ms:.1f} | {c} | {n} | {kind} | {q[:60]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
