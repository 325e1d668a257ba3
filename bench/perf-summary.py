#!/usr/bin/env python3
"""Summarise a `perf record --call-graph dwarf` profile of trellis: where the CPU goes, by module and by component.

    perf script -i FILE.perf.data --no-inline -F comm,tid,period,ip,sym,dso > FILE.txt
    bench/perf-summary.py FILE.txt

Used by bench/run.sh when BENCH_PROFILE=1. Needs `swift demangle` on PATH for readable names.
Percentages are of all samples of the trellis process (every thread, user and kernel).
"""
import collections
import re
import subprocess
import sys


def parse(path):
    samples, current = [], None
    for line in open(path, errors="replace"):
        if not line.strip():
            if current and current["frames"]:
                samples.append(current)
            current = None
            continue
        if not line[0].isspace():
            parts = line.split()
            current = {"thread": " ".join(parts[:-2]) if len(parts) >= 3 else parts[0], "frames": []}
            continue
        m = re.match(r"\s*[0-9a-f]+\s+(.*?)(\+0x[0-9a-f]+)?\s+\((.*)\)\s*$", line)
        if m and current is not None:
            current["frames"].append((m.group(1), m.group(3)))
    if current and current["frames"]:
        samples.append(current)
    return samples


def swift_module(sym):
    m = re.match(r"\$s(\d+)([A-Za-z_][A-Za-z0-9_]*)", sym)
    if m:
        return m.group(2)[: int(m.group(1))]
    if sym.startswith(("$ss", "$sS")):
        return "Swift stdlib (specialised)"
    if sym.startswith("c_nio_llhttp"):
        return "llhttp (C)"
    if sym.startswith("$s"):
        return "Swift (other)"
    if sym.startswith("swift_") or "swift::" in sym:
        return "Swift runtime"
    if "sqlite3" in sym:
        return "SQLite"
    return "C: " + (sym.split("(")[0][:30] or "?")


def in_binary(dso):
    return dso.rsplit("/", 1)[-1] == "trellis"


RETAIN_RELEASE = ("swift_retain", "swift_release", "swift_bridgeObjectRetain", "swift_bridgeObjectRelease",
                  "swift_retain_n", "swift_release_n", "swift_unknownObjectRetain", "swift_unknownObjectRelease")
METADATA = ("Metadata", "WitnessTable", "tryCast", "dynamicCast", "getCache", "instantiateConcreteType",
            "conformsTo", "TupleCache", "getTypeByMangledName", "AssociatedType")
ALLOC = ("malloc", "_int_malloc", "_int_free", "free", "cfree", "realloc", "_int_realloc", "unlink_chunk",
         "malloc_consolidate", "__malloc_usable_size", "swift_slowAlloc", "swift_slowDealloc", "swift_allocObject",
         "swift_deallocObject", "swift_deallocClassInstance")


def main():
    samples = parse(sys.argv[1])
    n = len(samples)
    if not n:
        sys.exit("no samples")
    syms = sorted({s for sample in samples for s, _ in sample["frames"] if s.startswith("$s")})
    try:
        out = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(syms), capture_output=True,
                             text=True, check=True).stdout.split("\n")
        names = dict(zip(syms, out))
    except (OSError, subprocess.CalledProcessError):
        names = {}

    def name(sym):
        return names.get(sym, sym)

    def pct(count):
        return f"{100 * count / n:5.1f}%"

    print(f"{n} samples\n")

    print("By thread:")
    for k, v in collections.Counter(s["thread"] for s in samples).most_common(8):
        print(f"  {pct(v)}  {k}")

    print("\nSelf time by leaf category:")
    leaf = collections.Counter()
    for s in samples:
        sym, dso = s["frames"][0]
        if "kernel" in dso:
            leaf["kernel"] += 1
        elif sym in RETAIN_RELEASE:
            leaf["Swift retain/release"] += 1
        elif any(x in sym for x in METADATA):
            leaf["Swift runtime: generic metadata, casts, witness tables"] += 1
        elif sym in ALLOC or sym.startswith(("malloc", "_int_")):
            leaf["malloc/free"] += 1
        elif "Concurrency" in dso or "dispatch" in dso or sym.startswith(("swift_task", "swift_job", "_dispatch")):
            leaf["Swift concurrency / dispatch runtime"] += 1
        elif in_binary(dso):
            leaf["code: " + swift_module(sym)] += 1
        else:
            leaf["library: " + dso.rsplit("/", 1)[-1]] += 1
    for k, v in leaf.most_common(22):
        print(f"  {pct(v)}  {k}")

    print("\nSelf time charged to the nearest Swift module on the stack (runtime, libc and kernel time included):")
    owner = collections.Counter()
    for s in samples:
        owner_name = "(no Swift frame)"
        for sym, dso in s["frames"]:
            if in_binary(dso) and sym.startswith("$s"):
                owner_name = swift_module(sym)
                break
        owner[owner_name] += 1
    for k, v in owner.most_common(22):
        print(f"  {pct(v)}  {k}")

    components = [
        ("kernel: network send (write/writev/sendmsg)", lambda f: f[0] in ("tcp_sendmsg", "sock_write_iter")),
        ("kernel: thread wake/sleep (futex)", lambda f: "futex" in f[0] and "kernel" in f[1]),
        ("kernel: epoll_wait", lambda f: f[0] == "do_epoll_wait"),
        ("Hummingbird (inbound HTTP server)", lambda f: swift_module(f[0]).startswith("Hummingbird")),
        ("AsyncHTTPClient (upstream client)", lambda f: swift_module(f[0]) == "AsyncHTTPClient"),
        ("  AHC request tracing attributes", lambda f: "TracingSupport" in name(f[0])),
        ("  Logger metadata copies (any module)", lambda f: "Logger.subscript.setter" in name(f[0])),
        ("TrellisServer code", lambda f: swift_module(f[0]) == "TrellisServer"),
        ("  the inference flow (InferenceFlow, AdmittedCall, StreamRelay)", lambda f: any(t in name(f[0]) for t in ("InferenceFlow", "AdmittedCall", "StreamRelay"))),
        ("  AuthMiddleware + Gateway.authenticate", lambda f: "AuthMiddleware" in name(f[0])),
        ("  GatewayMiddleware", lambda f: "GatewayMiddleware" in name(f[0])),
        ("  Accounting.finish (usage event + metrics)", lambda f: "Accounting.finish" in name(f[0])),
        ("  GatewayMetrics", lambda f: "GatewayMetrics" in name(f[0])),
        ("  ConnectionWatcher / ClientDisconnect", lambda f: "ConnectionWatcher" in name(f[0]) or "ClientDisconnect" in name(f[0])),
        ("  StreamSession.readMore", lambda f: "StreamSession.readMore" in name(f[0])),
        ("OpenAIWire: SSEParser", lambda f: "SSEParser" in name(f[0])),
        ("OpenAIWire: JSONParser", lambda f: "JSONParser" in name(f[0])),
        ("OpenAIWire: JSONWriter / SSEWriter", lambda f: "JSONWriter" in name(f[0]) or "SSEWriter" in name(f[0])),
        ("TrellisCore: ChatPlanner", lambda f: "ChatPlanner" in name(f[0])),
        ("TrellisCore: ChatStreamRewriter", lambda f: "ChatStreamRewriter" in name(f[0])),
        ("TrellisStore: SQLiteStore.insertUsage (GRDB + SQLite)", lambda f: "insertUsage" in name(f[0])),
        ("  GRDB Codable record encoding", lambda f: "RecordEncoder" in name(f[0]) or "UsageRecord.encode" in name(f[0])),
        ("AsyncAlgorithms (AsyncChannel)", lambda f: swift_module(f[0]) == "AsyncAlgorithms"),
        ("swift-log (any)", lambda f: swift_module(f[0]) == "Logging"),
        ("Prometheus / swift-metrics", lambda f: swift_module(f[0]) in ("Prometheus", "CoreMetrics", "Metrics")),
    ]
    print("\nInclusive (samples with such a frame anywhere on the stack; rows overlap):")
    for label, pred in components:
        c = sum(1 for s in samples if any(pred(f) for f in s["frames"]))
        if c:
            print(f"  {pct(c)}  {label}")

    print("\nTop leaf functions:")
    top = collections.Counter()
    for s in samples:
        sym, dso = s["frames"][0]
        top[f"{name(sym)[:110]}  [{dso.rsplit('/', 1)[-1]}]"] += 1
    for k, v in top.most_common(25):
        print(f"  {pct(v)}  {k}")

    print("\nTrellis functions, inclusive:")
    inc = collections.Counter()
    for s in samples:
        seen = set()
        for sym, dso in s["frames"]:
            if swift_module(sym) in ("TrellisServer", "TrellisCore", "OpenAIWire", "TrellisUpstream", "TrellisStore"):
                label = name(sym)[:130]
                if label not in seen:
                    seen.add(label)
                    inc[label] += 1
    for k, v in inc.most_common(25):
        print(f"  {pct(v)}  {k}")


if __name__ == "__main__":
    main()
