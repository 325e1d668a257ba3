#!/usr/bin/env python3
"""Knowledge-base load benchmark: ingest throughput and search latency at 10k and 100k chunks.

Starts its own gateway (the release build by default) and a fake embeddings server (bench/rag/fake_embedder.py:
deterministic pseudo-random 576-dim vectors from a hash of the text, no model), generates a synthetic bilingual
insurance-like corpus (seeded; vocabulary from bench/rag/corpus plus pseudo-words, Zipf-distributed, Markdown
sections, about 18 chunks per document at the default chunk size), and then:

1. Ingest, keyword-only knowledge bases (no embedding upstream, so only Trellis is measured): `kw-10k` then
   `kw-100k`, uploaded as JSON documents by --concurrency clients; MB/s (UTF-8 text bytes) and chunks/s.
2. Keyword search latency on each (sequential requests, one client, `top_k` 5): p50/p99 over the query set
   (the 49 handbook questions plus sampled Chinese, English and mixed spans of the corpus, 1 to 12 words).
3. The same sizes with the fake embedding upstream (`hy-10k`, `hy-100k`; ingest reported too, it includes the
   embedding server), and search latency in keyword, vector and hybrid mode. Vector and hybrid latency include
   one call to the embedding server per query: its handler time is measured on the server side and reported
   separately, and vector-mode latency shows the embedding call + vector scan without the keyword half.
4. Where the time goes: for every query, the FTS5 statement the gateway runs (bm25, same MATCH expression) and
   the chunk materialisation query, timed directly on the gateway's SQLite file with Python's sqlite3 (the same
   system libsqlite3), and the gateway's own retrieval histogram (`trellis_retrieval_duration_seconds`, server
   side, without HTTP), next to the client-side figures and a GET /healthz round trip as the HTTP floor.

    .venv/bin/python bench/rag/load.py                       # 10k and 100k, everything
    .venv/bin/python bench/rag/load.py --sizes 10000 --no-hybrid
    .venv/bin/python bench/rag/load.py --bin .build/release/trellis --concurrency 4 --repeat 3

Client-side latency includes Python `requests` and HTTP on loopback (the /healthz floor shows how much). Run on
an otherwise idle machine: the client, the gateway and the embedding server share its CPUs.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

import harness

HERE = Path(__file__).resolve().parent
TOP_K = 5


# ------------------------------------------------------------------------------------------------ corpus

class Corpus:
    """Deterministic synthetic documents. Chinese text is a Zipf-distributed sequence of 1-3 character words
    (characters from the handbook corpus plus common Han characters), English text a Zipf-distributed sequence of
    words (the handbook's words plus pseudo-words), in Markdown sections of paragraphs."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        handbook = "\n".join(p.read_text() for p in sorted((HERE / "corpus").iterdir()))
        han = sorted({c for c in handbook if harness.is_cjk(c)})
        extra = [chr(c) for c in range(0x4E00, 0x9FA5)]
        self.rng.shuffle(extra)
        han_pool = han + [c for c in extra[:4000] if c not in set(han)]
        han_cdf = np.cumsum(self.zipf_p(len(han_pool), 0.9))
        zh_words = []
        seen = set()
        # Real two-character words of the handbook first (the most frequent), then random ones.
        for w in re.findall(r"[\u4e00-\u9fff]{2}", handbook):
            if w not in seen:
                seen.add(w)
                zh_words.append(w)
        while len(zh_words) < 30000:
            n = int(self.rng.choice([1, 2, 2, 2, 3]))
            w = "".join(han_pool[int(i)] for i in self.sample(han_cdf, n))
            if w not in seen:
                seen.add(w)
                zh_words.append(w)
        en_words = []
        seen = set()
        for w in re.findall(r"[A-Za-z]+", handbook):
            w = w.lower()
            if w not in seen:
                seen.add(w)
                en_words.append(w)
        syllables = ["ka", "lo", "ren", "ti", "mo", "sa", "ve", "dor", "pin", "que", "lu", "mar", "sen", "to", "bri", "gal", "hu", "nex", "or", "ta"]
        while len(en_words) < 30000:
            w = "".join(self.rng.choice(syllables, size=int(self.rng.integers(2, 5))))
            if w not in seen:
                seen.add(w)
                en_words.append(w)
        self.zh_words = zh_words
        self.en_words = en_words
        self.zh_cdf = np.cumsum(self.zipf_p(len(zh_words), 1.05))
        self.en_cdf = np.cumsum(self.zipf_p(len(en_words), 1.05))

    def sample(self, cdf: np.ndarray, k: int) -> np.ndarray:
        return np.minimum(np.searchsorted(cdf, self.rng.random(k)), len(cdf) - 1)

    @staticmethod
    def zipf_p(n: int, s: float) -> np.ndarray:
        p = 1.0 / np.arange(1, n + 1) ** s
        return p / p.sum()

    def zh_sentence(self, words: int) -> str:
        idx = self.sample(self.zh_cdf, words)
        return "".join(self.zh_words[i] for i in idx) + "。"

    def en_sentence(self, words: int) -> str:
        idx = self.sample(self.en_cdf, words)
        s = " ".join(self.en_words[i] for i in idx)
        return s[0].upper() + s[1:] + "."

    def paragraph(self) -> str:
        kind = self.rng.random()
        if kind < 0.5:
            return "".join(self.zh_sentence(int(self.rng.integers(6, 16))) for _ in range(int(self.rng.integers(3, 7))))
        if kind < 0.9:
            return " ".join(self.en_sentence(int(self.rng.integers(8, 20))) for _ in range(int(self.rng.integers(3, 7))))
        return self.zh_sentence(8)[:-1] + " " + self.en_sentence(10) + " " + self.zh_sentence(8)

    def document(self, i: int) -> dict:
        parts = [f"# 文档 {i} Document {i}"]
        for s in range(6):
            parts.append(f"## {self.zh_sentence(2)[:-1]} {self.en_sentence(2)[:-1]}")
            for _ in range(int(self.rng.integers(4, 8))):
                parts.append(self.paragraph())
        text = "\n\n".join(parts)
        return {"title": f"Synthetic handbook {i}", "text": text, "content_type": "text/markdown"}

    def queries(self, docs: list[dict], n: int) -> list[tuple[str, str]]:
        """(kind, query): the handbook questions, then spans of the corpus."""
        out = [("handbook", json.loads(line)["query"]) for line in (HERE / "questions.jsonl").read_text().splitlines() if line.strip()]
        while len(out) < n:
            doc = docs[int(self.rng.integers(len(docs)))]["text"]
            paragraphs = [p for p in doc.split("\n\n") if not p.startswith("#")]
            p = paragraphs[int(self.rng.integers(len(paragraphs)))]
            r = self.rng.random()
            if harness.is_cjk(p[0]):
                words = re.findall(r"[\u4e00-\u9fff]+", p)
                run = words[int(self.rng.integers(len(words)))]
                if r < 0.25:  # a one- or two-character keyword
                    k = int(self.rng.integers(1, 3))
                    start = int(self.rng.integers(0, max(1, len(run) - k)))
                    out.append(("zh-short", run[start:start + k]))
                else:  # a phrase of 4 to 16 characters
                    k = int(self.rng.integers(4, 17))
                    start = int(self.rng.integers(0, max(1, len(run) - k)))
                    out.append(("zh-phrase", run[start:start + k]))
            else:
                words = re.findall(r"[A-Za-z]+", p)
                k = int(self.rng.integers(1, 4)) if r < 0.25 else int(self.rng.integers(3, 13))
                start = int(self.rng.integers(0, max(1, len(words) - k)))
                out.append(("en-short" if r < 0.25 else "en-phrase", " ".join(words[start:start + k])))
        return out


# ------------------------------------------------------------------------------------------------ helpers

def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def ingest(gw, kb: str, docs: list[dict], concurrency: int) -> dict:
    local = threading.local()

    def upload(doc: dict) -> int:
        if not hasattr(local, "s"):
            local.s = requests.Session()
            local.s.headers["Authorization"] = f"Bearer {gw.admin_key}"
        r = local.s.post(f"{gw.url}/admin/v1/knowledge-bases/{kb}/documents", json=doc, timeout=600)
        if r.status_code != 201:
            raise RuntimeError(f"upload to {kb} -> {r.status_code}: {r.text[:300]}")
        return r.json()["chunks"]

    nbytes = sum(len(d["text"].encode()) for d in docs)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        chunks = sum(pool.map(upload, docs))
    seconds = time.perf_counter() - started
    return {"kb": kb, "documents": len(docs), "chunks": chunks, "mb": nbytes / 1e6, "seconds": seconds,
            "mb_s": nbytes / 1e6 / seconds, "chunks_s": chunks / seconds}


def retrieval_metric(gw, kb: str) -> tuple[float, float]:
    """(sum seconds, count) of trellis_retrieval_duration_seconds for this knowledge base."""
    text = requests.get(gw.url + "/metrics", timeout=10).text
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith("trellis_retrieval_duration_seconds_sum") and f'knowledge_base="{kb}"' in line:
            total = float(line.rsplit(" ", 1)[1])
        elif line.startswith("trellis_retrieval_duration_seconds_count") and f'knowledge_base="{kb}"' in line:
            count = float(line.rsplit(" ", 1)[1])
    return total, count


def embedder_stats(url: str) -> dict:
    return requests.get(url + "/stats", timeout=10).json()


def measure(gw, key: str, kb: str, mode: str, queries: list[tuple[str, str]], repeat: int, embedder: str | None) -> dict:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"
    url = f"{gw.api_url}/knowledge-bases/{kb}/search"
    for _, q in queries[:30]:  # warm-up
        s.post(url, json={"query": q, "top_k": TOP_K, "mode": mode}, timeout=60).raise_for_status()
    m0 = retrieval_metric(gw, kb)
    e0 = embedder_stats(embedder) if embedder else None
    lat: list[float] = []
    by_kind: dict[str, list[float]] = {}
    hits = 0
    for _ in range(repeat):
        for kind, q in queries:
            t0 = time.perf_counter()
            r = s.post(url, json={"query": q, "top_k": TOP_K, "mode": mode}, timeout=60)
            ms = (time.perf_counter() - t0) * 1000
            r.raise_for_status()
            hits += bool(r.json()["data"])
            lat.append(ms)
            by_kind.setdefault(kind, []).append(ms)
    m1 = retrieval_metric(gw, kb)
    out = {"loadavg": loadavg(), "kb": kb, "mode": mode, "n": len(lat), "p50": pct(lat, 0.5), "p90": pct(lat, 0.9), "p99": pct(lat, 0.99),
           "max": max(lat), "mean": statistics.fmean(lat), "answered": hits / len(lat),
           "by_kind": {k: {"n": len(v), "p50": pct(v, 0.5), "p99": pct(v, 0.99)} for k, v in by_kind.items()}}
    if m1[1] > m0[1]:
        out["server_mean"] = (m1[0] - m0[0]) / (m1[1] - m0[1]) * 1000
    if e0 is not None:
        e1 = embedder_stats(embedder)
        calls = e1["requests"] - e0["requests"]
        out["embed_calls"] = calls
        out["embed_handler_mean"] = (e1["seconds"] - e0["seconds"]) / calls * 1000 if calls else 0.0
    return out


def loadavg() -> float:
    """The one-minute load average after a measurement (other work on the machine shows up here)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def healthz_floor(gw, n: int = 300) -> dict:
    s = requests.Session()
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        s.get(gw.url + "/healthz", timeout=10).raise_for_status()
        lat.append((time.perf_counter() - t0) * 1000)
    return {"p50": pct(lat, 0.5), "p99": pct(lat, 0.99)}


def sqlite_breakdown(db: Path, kb_id: str, queries: list[tuple[str, str]], repeat: int = 3) -> dict:
    """For comparison: the FTS5 statement of the tests' reference search (Tests/TrellisStoreTests/FTS5KeywordSearch.swift) (the gateway itself ranks keywords in
    memory, KeywordIndex, with the same BM25) and the chunk materialisation the gateway does run, timed directly
    on the database file."""
    token = "kb" + "".join(c for c in kb_id if c.isalnum())
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    fts_ms: list[float] = []
    mat_ms: list[float] = []
    matches: list[int] = []
    for _ in range(repeat):
        for _, q in queries:
            unique: list[str] = []
            for t in harness.search_terms(q, for_query=True):
                if t and t not in unique:
                    unique.append(t)
                if len(unique) == 64:
                    break
            if not unique:
                continue
            t0 = time.perf_counter()
            match = gateway_match(conn, token, unique)
            rows = conn.execute(
                "SELECT rowid, bm25(chunk_terms) AS rank FROM chunk_terms WHERE chunk_terms MATCH ? ORDER BY rank LIMIT ?",
                (match, TOP_K)).fetchall() if match else []
            fts_ms.append((time.perf_counter() - t0) * 1000)
            ids = [r[0] for r in rows]
            if ids:
                t0 = time.perf_counter()
                conn.execute(
                    "SELECT c.id, c.document_id, c.heading, c.text, d.title FROM chunks c JOIN documents d ON d.id = c.document_id "
                    f"WHERE c.id IN ({','.join('?' * len(ids))})", ids).fetchall()
                mat_ms.append((time.perf_counter() - t0) * 1000)
    for _, q in queries:  # how many chunks each query matches (what bm25 has to score)
        unique = list(dict.fromkeys(t for t in harness.search_terms(q, for_query=True) if t))[:64]
        if unique:
            match = gateway_match(conn, token, unique)
            matches.append(conn.execute("SELECT count(*) FROM chunk_terms WHERE chunk_terms MATCH ?", (match,)).fetchone()[0] if match else 0)
    conn.close()
    return {"fts_p50": pct(fts_ms, 0.5), "fts_p99": pct(fts_ms, 0.99), "mat_p50": pct(mat_ms, 0.5), "mat_p99": pct(mat_ms, 0.99),
            "matched_p50": pct(matches, 0.5), "matched_p99": pct(matches, 0.99), "matched_max": max(matches) if matches else 0}


POSTINGS_BUDGET = 12_000  # FTS5KeywordSearch.postingsBudget (Tests/TrellisStoreTests)


def gateway_match(conn, token: str, unique: list[str]) -> str | None:
    """The MATCH expression the FTS5 reference search builds: the knowledge base's namespaced terms, rarest first
    while their posting lists fit the budget (document frequencies from fts5vocab), the rarest always."""
    present = []
    for t in unique:
        term = token + "x" + t
        row = conn.execute("SELECT doc FROM chunk_terms_vocab WHERE term = ?", (term,)).fetchone()
        if row and row[0] > 0:
            present.append((row[0], term))
    if not present:
        return None
    present.sort()
    chosen, postings = [], 0
    for df, term in present:
        if not chosen or postings + df <= POSTINGS_BUDGET:
            chosen.append(term)
            postings += df
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in chosen)


def wait_for_vectors(adm, kb: str, chunks: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        info = adm.get(f"/knowledge-bases/{kb}")
        if info.get("vectors") == chunks and info.get("chunks") == chunks:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{kb}: {info.get('vectors')} vectors for {info.get('chunks')} chunks after {timeout}s")
        time.sleep(1)


# ------------------------------------------------------------------------------------------------ main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", type=Path, default=None, help="trellis binary (default: TRELLIS_BIN, else .build/release/trellis)")
    ap.add_argument("--sizes", default="10000,100000", help="chunk counts (comma-separated)")
    ap.add_argument("--concurrency", type=int, default=4, help="concurrent uploads")
    ap.add_argument("--queries", type=int, default=200, help="distinct queries (the 49 handbook questions included)")
    ap.add_argument("--repeat", type=int, default=3, help="times each query is sent per measurement")
    ap.add_argument("--no-hybrid", action="store_true", help="keyword-only knowledge bases only")
    ap.add_argument("--json", type=Path, default=None, help="write the raw figures here")
    ap.add_argument("--keep", action="store_true", help="keep the gateway's data directory (its path is logged)")
    ap.add_argument("--reuse", type=Path, default=None, metavar="ROOT",
                    help="measure search only, on the knowledge bases of a kept run (the directory holding data/)")
    args = ap.parse_args()

    binary = (args.bin or harness.default_binary("release")).resolve()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    report: dict = {"machine": harness.machine(), "binary": str(binary), "sizes": sizes, "concurrency": args.concurrency}

    harness.log("generating the synthetic corpus")
    corpus = Corpus()
    # Documents per size, generated as needed while uploading (each size's knowledge base is filled until it
    # holds the target number of chunks); the hybrid knowledge base of a size gets the same documents.
    doc_sets: dict[int, list[dict]] = {size: [] for size in sizes}
    doc_counter = iter(range(10**9))

    def doc(size: int, i: int) -> dict:
        while len(doc_sets[size]) <= i:
            doc_sets[size].append(corpus.document(next(doc_counter)))
        return doc_sets[size][i]

    per_doc_estimate = 17  # measured: about 17 chunks per synthetic document at the default chunk size
    harness.log("generating the query set")
    queries = corpus.queries([doc(sizes[-1], i) for i in range(300)], args.queries)
    report["queries"] = {k: sum(1 for q in queries if q[0] == k) for k in sorted({q[0] for q in queries})}

    if args.reuse:
        return reuse(args, binary, report, queries)

    fake_port = harness.conftest.free_port()
    fake, fake_url = start_fake(fake_port)
    try:
        with harness.gateway(binary, keep=args.keep) as gw:
            adm = harness.admin(gw)
            key = harness.tenant_key(adm, "bench")
            adm.post("/upstreams", {"name": "fake", "base_url": fake_url + "/v1", "kind": "openai", "labels": ["private"]})
            report["healthz"] = healthz_floor(gw)
            harness.log(f"GET /healthz round trip p50 {report['healthz']['p50']:.2f} ms")
            results = report["results"] = []
            ingests = report["ingest"] = []

            def fill(kb: str, size: int, target: int) -> dict:
                """Uploads documents until the knowledge base holds at least `target` chunks (documents are
                generated before each timed slice, so generation is not timed)."""
                total = {"kb": kb, "documents": 0, "chunks": 0, "mb": 0.0, "seconds": 0.0}
                i = 0
                while total["chunks"] < target:
                    # Upload in slices so that the count lands near the target.
                    remaining = target - total["chunks"]
                    n = max(1, int(remaining / per_doc_estimate * 0.97) + 1)
                    part = ingest(gw, kb, [doc(size, j) for j in range(i, i + n)], args.concurrency)
                    i += n
                    for f in ("documents", "chunks", "mb", "seconds"):
                        total[f] += part[f]
                total["loadavg"] = loadavg()
                total["mb_s"] = total["mb"] / total["seconds"]
                total["chunks_s"] = total["chunks"] / total["seconds"]
                return total

            def kb_id(name: str) -> str:
                return adm.get(f"/knowledge-bases/{name}")["id"]

            # 1-2: keyword-only knowledge bases.
            for size in sizes:
                name = f"kw-{size // 1000}k"
                adm.post("/knowledge-bases", {"name": name, "tenant": "bench"})
                harness.log(f"ingesting {name}")
                ing = fill(name, size, size)
                ing["embedding"] = "none"
                ingests.append(ing)
                harness.log(f"{name}: {ing['chunks']} chunks, {ing['mb']:.1f} MB in {ing['seconds']:.1f}s: {ing['mb_s']:.2f} MB/s, {ing['chunks_s']:.0f} chunks/s")
                res = measure(gw, key, name, "keyword", queries, args.repeat, None)
                res["chunks"] = ing["chunks"]
                res["total_chunks_in_db"] = sum(x["chunks"] for x in ingests)
                res["sqlite"] = sqlite_breakdown(gw.db_path, kb_id(name), queries)
                results.append(res)
                harness.log(f"{name} keyword p50 {res['p50']:.2f} ms p99 {res['p99']:.2f} ms (FTS5 for comparison p50 {res['sqlite']['fts_p50']:.2f} p99 {res['sqlite']['fts_p99']:.2f})")

            # 3: with the fake embedding upstream.
            if not args.no_hybrid:
                for size in sizes:
                    name = f"hy-{size // 1000}k"
                    adm.post("/knowledge-bases", {"name": name, "tenant": "bench", "embedding": {"upstream": "fake", "model": "fake-embed"}})
                    harness.log(f"ingesting {name} (with the fake embedding server)")
                    requests.post(fake_url + "/stats/reset", timeout=5)
                    ing = fill(name, size, size)
                    st = embedder_stats(fake_url)
                    ing["embedding"] = "fake"
                    ing["embedder_seconds"] = st["seconds"]
                    ingests.append(ing)
                    harness.log(f"{name}: {ing['chunks']} chunks in {ing['seconds']:.1f}s ({ing['chunks_s']:.0f} chunks/s; embedder handler {st['seconds']:.1f}s)")
                    t0 = time.monotonic()
                    wait_for_vectors(adm, name, ing["chunks"])
                    time.sleep(5)  # let a vector-index reload triggered by the last uploads finish
                    harness.log(f"{name}: index complete ({time.monotonic() - t0:.0f}s after the last upload)")
                    for mode in ("keyword", "vector", "hybrid"):
                        res = measure(gw, key, name, mode, queries, args.repeat, fake_url if mode != "keyword" else None)
                        res["chunks"] = ing["chunks"]
                        res["total_chunks_in_db"] = sum(x["chunks"] for x in ingests)
                        results.append(res)
                        extra = f", embed handler {res['embed_handler_mean']:.2f} ms/call" if "embed_handler_mean" in res else ""
                        harness.log(f"{name} {mode} p50 {res['p50']:.2f} ms p99 {res['p99']:.2f} ms{extra}")
                    hy = results[-3:]
                    hy[0]["sqlite"] = sqlite_breakdown(gw.db_path, kb_id(name), queries)

                # Keyword again on the largest keyword-only base, now that the database holds every base.
                name = f"kw-{sizes[-1] // 1000}k"
                res = measure(gw, key, name, "keyword", queries, args.repeat, None)
                res["chunks"] = next(x["chunks"] for x in ingests if x["kb"] == name)
                res["total_chunks_in_db"] = sum(x["chunks"] for x in ingests)
                res["again"] = True
                res["sqlite"] = sqlite_breakdown(gw.db_path, kb_id(name), queries)
                results.append(res)
    finally:
        stop_fake(fake)

    return finish(args, report)


def start_fake(port: int) -> tuple[subprocess.Popen, str]:
    fake = subprocess.Popen([sys.executable, str(HERE / "fake_embedder.py"), "--port", str(port)], stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(url + "/v1/models", timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.1)
    return fake, url


def stop_fake(fake: subprocess.Popen) -> None:
    fake.terminate()
    fake.wait(timeout=10)


def finish(args, report: dict) -> int:
    """Prints the report, writes it to --json when given, and returns the exit status."""
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


def reuse(args, binary: Path, report: dict, queries: list[tuple[str, str]]) -> int:
    """Search latency only, on a kept data directory: every keyword-only knowledge base in keyword mode, every
    one with an embedding model in keyword, vector and hybrid mode."""
    report["ingest"] = []
    with harness.gateway(binary, root=args.reuse.resolve()) as gw:
        adm = harness.admin(gw)
        key = adm.create_key("bench", "bench-reuse", ["inference"])["key"]
        base_url = adm.get("/upstreams/fake")["base_url"]
        fake, fake_url = start_fake(int(re.search(r":(\d+)/", base_url).group(1)))
        try:
            report["healthz"] = healthz_floor(gw)
            kbs = [adm.get(f"/knowledge-bases/{k['name']}?tenant=bench") for k in adm.get("/knowledge-bases?tenant=bench")["data"]]
            total = sum(k["chunks"] for k in kbs)
            results = report["results"] = []
            for kb in sorted(kbs, key=lambda k: (k["embedding"] is not None, k["chunks"])):
                modes = ("keyword",) if kb["embedding"] is None else ("keyword", "vector", "hybrid")
                for mode in modes:
                    res = measure(gw, key, kb["name"], mode, queries, args.repeat, fake_url if mode != "keyword" else None)
                    res["chunks"] = kb["chunks"]
                    res["total_chunks_in_db"] = total
                    if mode == "keyword":
                        res["sqlite"] = sqlite_breakdown(gw.db_path, kb["id"], queries)
                    results.append(res)
                    harness.log(f"{kb['name']} {mode} p50 {res['p50']:.2f} ms p99 {res['p99']:.2f} ms")
        finally:
            stop_fake(fake)
    return finish(args, report)


def print_report(r: dict) -> None:
    print()
    print(f"Machine: {r['machine']}. Binary: {r['binary']}. Uploads: {r['concurrency']} concurrent clients.")
    print(f"Queries: {sum(r['queries'].values())} distinct ({', '.join(f'{k} {v}' for k, v in r['queries'].items())}), "
          f"top_k {TOP_K}, sequential, one client. GET /healthz round trip (the HTTP floor): p50 {r['healthz']['p50']:.2f} ms, p99 {r['healthz']['p99']:.2f} ms.")
    print()
    if r["ingest"]:
        print("Ingest")
        print()
        print("| knowledge base | embedding | documents | chunks | MB | seconds | MB/s | chunks/s | load avg |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for i in r["ingest"]:
            emb = "none" if i["embedding"] == "none" else f"fake server ({i['embedder_seconds']:.1f}s in its handler)"
            print(f"| {i['kb']} | {emb} | {i['documents']} | {i['chunks']} | {i['mb']:.1f} | {i['seconds']:.1f} | {i['mb_s']:.2f} | {i['chunks_s']:.0f} | {i.get('loadavg', float('nan')):.1f} |")
        print()
    print("Search (client-side milliseconds; server = the gateway's own retrieval time, mean)")
    print()
    print("| knowledge base | chunks | chunks in database | mode | p50 | p90 | p99 | max | server mean | embedding call (handler mean) | load avg |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for x in r["results"]:
        emb = f"{x['embed_handler_mean']:.2f}" if "embed_handler_mean" in x else "–"
        srv = f"{x['server_mean']:.2f}" if "server_mean" in x else "–"
        print(f"| {x['kb']} | {x['chunks']} | {x['total_chunks_in_db']} | {x['mode']} | {x['p50']:.2f} | {x['p90']:.2f} | {x['p99']:.2f} | {x['max']:.2f} | {srv} | {emb} | {x.get('loadavg', float('nan')):.1f} |")
    print()
    print("By query kind (p50 / p99 ms)")
    print()
    kinds = sorted({k for x in r["results"] for k in x["by_kind"]})
    print("| knowledge base | chunks in database | mode | " + " | ".join(kinds) + " |")
    print("|---|---:|---|" + "---:|" * len(kinds))
    for x in r["results"]:
        cells = [f"{x['by_kind'][k]['p50']:.1f} / {x['by_kind'][k]['p99']:.1f}" if k in x["by_kind"] else "–" for k in kinds]
        print(f"| {x['kb']} | {x['total_chunks_in_db']} | {x['mode']} | " + " | ".join(cells) + " |")
    print()
    print("For comparison, the same ranking as an FTS5 statement timed directly in SQLite (Python sqlite3 on the gateway's file; ms; "
          "the gateway ranks in memory), the chunk materialisation the gateway runs, and chunks matched per query")
    print()
    print("| knowledge base | chunks in database | FTS5 bm25 p50 | FTS5 p99 | materialise p50 | materialise p99 | matched p50 | matched p99 | matched max |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for x in r["results"]:
        if "sqlite" in x:
            s = x["sqlite"]
            print(f"| {x['kb']} | {x['total_chunks_in_db']} | {s['fts_p50']:.2f} | {s['fts_p99']:.2f} | {s['mat_p50']:.2f} | {s['mat_p99']:.2f} | "
                  f"{s['matched_p50']:.0f} | {s['matched_p99']:.0f} | {s['matched_max']} |")


if __name__ == "__main__":
    sys.exit(main())
