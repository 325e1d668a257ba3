#!/usr/bin/env python3
"""Retrieval quality of Trellis knowledge bases on a small bilingual insurance handbook.

Starts its own gateway (the built binary) and the local model server (scripts/model-server.sh, which serves
`smollm2-embed`, SmolLM2-135M mean-pooled embeddings), creates a knowledge base whose embedding upstream is that
server, uploads every file in bench/rag/corpus, asks every question in bench/rag/questions.jsonl in each search
mode (keyword, vector, hybrid) through `POST /v1/knowledge-bases/{kb}/search`, and prints a Markdown table of
recall@1, recall@5 and MRR (of the first chunk from the right document, over the top 10), overall, by language
and by kind of question. `passage@5` counts a question as found when one of the top 5 chunks contains the
question's distinctive phrase.

    .venv/bin/python bench/rag/eval.py                  # release build if present, else debug
    .venv/bin/python bench/rag/eval.py --bin .build/debug/trellis --model-url http://127.0.0.1:8081/v1
    .venv/bin/python bench/rag/eval.py --details        # also one line per question and mode

Question kinds: `keyword` (one to three words, including one- and two-character Chinese queries), `question`
(a natural question sharing words with its passage), `paraphrase` (a question that shares few or no content
words with its passage), `cross-lingual` (asked in one language, answered by a document in the other).
`overlap` in --details is the share of the query's content terms (the gateway's tokenisation: words, CJK
bigrams) found in the target document.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import harness
import requests

HERE = Path(__file__).resolve().parent
MODES = ("keyword", "vector", "hybrid")
DEPTH = 10


def title_of(text: str, fallback: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return fallback


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", type=Path, default=None, help="trellis binary (default: TRELLIS_BIN, .build/release, .build/debug)")
    ap.add_argument("--model-url", default=None, help="API root of a running model server serving smollm2-embed")
    ap.add_argument("--corpus", type=Path, default=HERE / "corpus")
    ap.add_argument("--questions", type=Path, default=HERE / "questions.jsonl")
    ap.add_argument("--chunk-size", type=int, default=None, help="the knowledge base's chunk_size (default: the gateway's)")
    ap.add_argument("--details", action="store_true", help="print each question's rank per mode")
    ap.add_argument("--json", type=Path, default=None, help="write the raw results here")
    args = ap.parse_args()

    binary = (args.bin or harness.default_binary("release")).resolve()
    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    files = sorted(p for p in args.corpus.iterdir() if p.is_file())
    texts = {p.name: p.read_text() for p in files}
    for q in questions:
        if q["doc"] not in texts:
            raise SystemExit(f"{q['id']}: no document {q['doc']} in {args.corpus}")
        if q["phrase"] not in texts[q["doc"]]:
            raise SystemExit(f"{q['id']}: the phrase {q['phrase']!r} is not in {q['doc']}")

    with harness.model_server(args.model_url) as model_url, harness.gateway(binary) as gw:
        adm = harness.admin(gw)
        key = harness.tenant_key(adm, "rag-eval")
        adm.post("/upstreams", {"name": "local", "base_url": model_url, "kind": "llamacpp", "labels": ["private"]})
        kb_body = {"name": "handbook", "tenant": "rag-eval", "embedding": {"upstream": "local", "model": "smollm2-embed"}}
        if args.chunk_size:
            kb_body["chunk_size"] = args.chunk_size
        adm.post("/knowledge-bases", kb_body)

        started = time.monotonic()
        doc_file: dict[str, str] = {}
        chunks = 0
        for p in files:
            body = {"title": title_of(texts[p.name], p.stem), "text": texts[p.name], "content_type": "text/markdown", "metadata": {"file": p.name}}
            r = adm.call("POST", "/knowledge-bases/handbook/documents", expect=(201,), json=body)
            d = r.json()
            doc_file[d["id"]] = p.name
            chunks += d["chunks"]
        ingest_s = time.monotonic() - started
        harness.log(f"ingested {len(files)} documents ({chunks} chunks) with smollm2-embed in {ingest_s:.1f}s")

        search = requests.Session()
        search.headers["Authorization"] = f"Bearer {key}"
        url = f"{gw.api_url}/knowledge-bases/handbook/search"
        results = []
        latency: dict[str, list[float]] = defaultdict(list)
        for q in questions:
            row = {"id": q["id"], "lang": q["lang"], "type": q["type"], "query": q["query"], "doc": q["doc"]}
            target_terms = harness.content_terms(title_of(texts[q["doc"]], "") + "\n" + texts[q["doc"]], for_query=False)
            query_terms = harness.content_terms(q["query"], for_query=True)
            row["overlap"] = len(query_terms & target_terms) / len(query_terms) if query_terms else 0.0
            for mode in MODES:
                t0 = time.perf_counter()
                r = search.post(url, json={"query": q["query"], "top_k": DEPTH, "mode": mode}, timeout=120)
                latency[mode].append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    raise SystemExit(f"search {mode} {q['id']} -> {r.status_code}: {r.text}")
                hits = r.json()["data"]
                ranked = [doc_file.get(h["document_id"], "?") for h in hits]
                rank = next((i + 1 for i, f in enumerate(ranked) if f == q["doc"]), None)
                prank = next((i + 1 for i, h in enumerate(hits) if doc_file.get(h["document_id"]) == q["doc"] and q["phrase"] in h["text"]), None)
                row[mode] = {"rank": rank, "passage_rank": prank, "top": ranked[:3]}
            results.append(row)

    def summary(rows: list[dict], mode: str) -> dict:
        ranks = [r[mode]["rank"] for r in rows]
        pranks = [r[mode]["passage_rank"] for r in rows]
        n = len(rows)
        return {
            "n": n,
            "r1": sum(1 for k in ranks if k == 1) / n,
            "r5": sum(1 for k in ranks if k and k <= 5) / n,
            "mrr": sum(1 / k for k in ranks if k) / n,
            "p5": sum(1 for k in pranks if k and k <= 5) / n,
        }

    slices: list[tuple[str, list[dict]]] = [("all", results)]
    for lang in ("zh", "en", "mixed"):
        slices.append((f"lang={lang}", [r for r in results if r["lang"] == lang]))
    for kind in ("keyword", "question", "paraphrase", "cross-lingual"):
        slices.append((f"kind={kind}", [r for r in results if r["type"] == kind]))
    slices = [(name, rows) for name, rows in slices if rows]

    print()
    print(f"Corpus: {len(files)} documents, {chunks} chunks; {len(questions)} questions; embeddings: smollm2-embed "
          f"(SmolLM2-135M-Instruct, mean-pooled, 576 dims); top_k={DEPTH}.")
    print()
    print("| slice | n | mode | recall@1 | recall@5 | MRR@10 | passage@5 |")
    print("|---|---:|---|---:|---:|---:|---:|")
    table = {}
    for name, rows in slices:
        for mode in MODES:
            s = summary(rows, mode)
            table[f"{name}/{mode}"] = s
            print(f"| {name} | {s['n']} | {mode} | {s['r1']:.2f} | {s['r5']:.2f} | {s['mrr']:.2f} | {s['p5']:.2f} |")
    print()
    print("Search latency through the gateway (client-side, sequential, this corpus): "
          + ", ".join(f"{m} p50 {statistics.median(latency[m]):.1f} ms" for m in MODES)
          + " (vector and hybrid include embedding the query with SmolLM2 on the model server).")
    print(f"Ingest: {len(files)} documents, {chunks} chunks in {ingest_s:.1f}s (embedding every chunk with SmolLM2 on one thread).")

    if args.details:
        print()
        print("| id | lang | kind | overlap | query | target | keyword | vector | hybrid |")
        print("|---|---|---|---:|---|---|---:|---:|---:|")
        for r in results:
            cells = []
            for mode in MODES:
                k = r[mode]["rank"]
                cells.append(str(k) if k else f"– ({r[mode]['top'][0] if r[mode]['top'] else 'none'})")
            print(f"| {r['id']} | {r['lang']} | {r['type']} | {r['overlap']:.2f} | {r['query']} | {r['doc']} | " + " | ".join(cells) + " |")

    if args.json:
        args.json.write_text(json.dumps({"machine": harness.machine(), "results": results, "summary": table}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
