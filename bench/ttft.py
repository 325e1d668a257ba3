#!/usr/bin/env python3
"""Time to first token through each gateway, against a real model server.

Sends the same streaming chat completion, one at a time, to every target in turn (so drift on the machine
affects all of them alike), and measures from just before the request is written to the first SSE event
that carries content. Each target keeps one keep-alive connection, as an SDK client does. Prints a Markdown
table: median, p90 and mean time to first token, and what each gateway adds over the model server itself.

    ttft.py --requests 40 direct=http://127.0.0.1:8081 trellis=http://127.0.0.1:9000@KEY litellm=http://...@KEY

Only the standard library: run it with any python3.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from urllib.parse import urlsplit


def parse_target(spec: str) -> tuple[str, str, int, str]:
    name, _, rest = spec.partition("=")
    url, _, key = rest.partition("@")
    parts = urlsplit(url)
    if not name or parts.scheme != "http" or not parts.hostname or not parts.port:
        raise SystemExit(f"bad target {spec!r}: want NAME=http://HOST:PORT[@KEY]")
    return name, parts.hostname, parts.port, key


def first_token(conn: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> tuple[float, float]:
    """Seconds to the first response byte and to the first content event; reads the stream to its end."""
    start = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
    response = conn.getresponse()
    first_byte = time.perf_counter() - start
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {response.read()[:300]!r}")
    ttft = None
    while True:
        line = response.readline()
        if not line:
            break
        if ttft is None and line.startswith(b"data: {"):
            event = json.loads(line[6:])
            choices = event.get("choices") or []
            if choices and (choices[0].get("delta") or {}).get("content"):
                ttft = time.perf_counter() - start
    if ttft is None:
        raise RuntimeError("the stream carried no content")
    return first_byte, ttft


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=40, help="measured requests per target (default 40)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured requests per target first (default 3)")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--max-tokens", type=int, default=4)
    parser.add_argument("targets", nargs="+", help="NAME=http://HOST:PORT[@KEY]; the first is the baseline")
    args = parser.parse_args()

    if args.requests < 2:
        parser.error("--requests must be at least 2 (for a p90)")
    targets = [parse_target(t) for t in args.targets]
    body = json.dumps(
        {
            "model": args.model,
            "messages": [{"role": "user", "content": "Name one colour."}],
            "max_tokens": args.max_tokens,
            "temperature": 0,
            "stream": True,
        }
    ).encode()
    conns = {name: http.client.HTTPConnection(host, port, timeout=60) for name, host, port, _ in targets}
    headers = {
        name: {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
        for name, _, _, key in targets
    }
    samples: dict[str, list[float]] = {name: [] for name, *_ in targets}
    first_bytes: dict[str, list[float]] = {name: [] for name, *_ in targets}
    for round_ in range(args.warmup + args.requests):
        # Rotate the order each round so no target always follows another.
        order = targets[round_ % len(targets) :] + targets[: round_ % len(targets)]
        for name, *_ in order:
            fb, ttft = first_token(conns[name], body, headers[name])
            if round_ >= args.warmup:
                samples[name].append(ttft)
                first_bytes[name].append(fb)

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.2f}"

    def p90(values: list[float]) -> float:
        return statistics.quantiles(values, n=10)[-1]

    base = targets[0][0]
    base_median = statistics.median(samples[base])
    print(f"| target | requests | TTFT median ms | TTFT p90 ms | TTFT mean ms | first byte median ms | added median ms (vs {base}) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, *_ in targets:
        values = samples[name]
        added = "–" if name == base else f"{(statistics.median(values) - base_median) * 1000:+.2f}"
        print(
            f"| {name} | {len(values)} | {ms(statistics.median(values))} | {ms(p90(values))} | "
            f"{ms(statistics.fmean(values))} | {ms(statistics.median(first_bytes[name]))} | {added} |"
        )
    # Paired differences cancel the model server's own drift: request i to each target ran within moments.
    for name, *_ in targets[1:]:
        diffs = sorted(a - b for a, b in zip(samples[name], samples[base]))
        print(
            f"\n{name}: paired added TTFT median {statistics.median(diffs) * 1000:+.2f} ms, "
            f"p90 {p90(diffs) * 1000:+.2f} ms over {len(diffs)} pairs",
            end="",
        )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
