#!/usr/bin/env python3
"""A tiny, fast OpenAI-compatible embeddings server for benchmarks: `POST /v1/embeddings` answers a deterministic
pseudo-random unit vector per input, chosen by a hash of the text from a pool of --pool vectors made (and
JSON-encoded) at start, so the same text always has the same vector, no model runs and an answer costs little
more than joining strings (texts whose hashes collide share a vector, which costs a vector search nothing). `GET /v1/models` lists the model; `GET /stats` reports the requests served and the time spent
in the handler (parse, generate, encode), so a benchmark can subtract it; `POST /stats/reset` zeroes it.

    .venv/bin/python bench/rag/fake_embedder.py --port 8099 [--dims 576]

Meaningless for retrieval quality: use it only to measure the gateway's own cost.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.inputs = 0
        self.seconds = 0.0

    def add(self, inputs: int, seconds: float) -> None:
        with self.lock:
            self.requests += 1
            self.inputs += inputs
            self.seconds += seconds


class Pool:
    """`size` unit vectors of `dims` dimensions, each already encoded as a JSON array."""

    def __init__(self, size: int, dims: int, seed: int = 576) -> None:
        rng = np.random.default_rng(seed)
        m = rng.standard_normal((size, dims), dtype=np.float32)
        m /= np.linalg.norm(m, axis=1, keepdims=True)
        self.encoded = ["[" + ",".join(f"{x:.5f}" for x in row) + "]" for row in m]

    def json_for(self, text: str) -> str:
        h = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
        return self.encoded[h % len(self.encoded)]


def make_handler(pool: Pool, model: str, stats: Stats):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One segment per answer and no Nagle: headers and body written separately, with Nagle on, make every
        # answer wait for the client's delayed ACK (about 40 ms on Linux).
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:  # quiet
            pass

        def send(self, code: int, body: bytes) -> None:
            head = (f"HTTP/1.1 {code} {'OK' if code == 200 else 'Not Found'}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n").encode()
            self.wfile.write(head + body)
            self.wfile.flush()

        def do_GET(self) -> None:
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self.send(200, json.dumps({"object": "list", "data": [{"id": model, "object": "model", "owned_by": "bench"}]}).encode())
            elif self.path == "/stats":
                with stats.lock:
                    self.send(200, json.dumps({"requests": stats.requests, "inputs": stats.inputs, "seconds": stats.seconds}).encode())
            else:
                self.send(404, b'{"error":{"message":"not found"}}')

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path == "/stats/reset":
                with stats.lock:
                    stats.reset()
                self.send(200, b"{}")
                return
            if self.path.rstrip("/") not in ("/v1/embeddings", "/embeddings"):
                self.send(404, b'{"error":{"message":"not found"}}')
                return
            started = time.perf_counter()
            body = json.loads(raw)
            inputs = body.get("input")
            if isinstance(inputs, str):
                inputs = [inputs]
            data = ",".join(f'{{"object":"embedding","index":{i},"embedding":{pool.json_for(t)}}}' for i, t in enumerate(inputs))
            out = (f'{{"object":"list","model":{json.dumps(body.get("model", model))},"data":[{data}],'
                   '"usage":{"prompt_tokens":0,"total_tokens":0}}').encode()
            stats.add(len(inputs), time.perf_counter() - started)
            self.send(200, out)

    return Handler


def serve(host: str, port: int, dims: int, model: str, pool_size: int) -> tuple[ThreadingHTTPServer, Stats]:
    stats = Stats()
    server = ThreadingHTTPServer((host, port), make_handler(Pool(pool_size, dims), model, stats))
    server.daemon_threads = True
    return server, stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8099)
    ap.add_argument("--dims", type=int, default=576)
    ap.add_argument("--model", default="fake-embed")
    ap.add_argument("--pool", type=int, default=8192, help="distinct vectors")
    args = ap.parse_args()
    server, _ = serve(args.host, args.port, args.dims, args.model, args.pool)
    print(f"fake embedder on http://{args.host}:{server.server_address[1]}/v1 ({args.dims} dims)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
