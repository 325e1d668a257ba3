#!/usr/bin/env python3
"""Where a streamed answer's time to first token goes on the wire, from a loopback capture of bench/ttft.sh run with
Trellis only (BENCH_LITELLM=0): for each request through the gateway, client request -> the gateway's request to
the model server -> the model server's first content event -> the gateway's first content event to the client; and
for each direct request, request -> first content. Prints the median, p90 and mean of each leg.

    tcpdump -i lo -s 600 -w /tmp/ttft.pcap tcp &   # as root; stop it when bench/ttft.sh has printed its table
    BENCH_LITELLM=0 bench/ttft.sh
    bench/ttft-wire.py /tmp/ttft.pcap               # or: bench/ttft-wire.py FILE GATEWAY_PORT MODEL_PORT

The gateway's port is the one that receives requests with a bearer key; the model server's, the other one that
receives POSTs. The upstream connections it opened are counted too (a SYN each). Only the standard library.
"""
import re
import statistics
import struct
import sys

path = sys.argv[1]
gw_port, model_port = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (0, 0)
data = open(path, "rb").read()
magic = struct.unpack("<I", data[:4])[0]
assert magic in (0xa1b2c3d4, 0xa1b23c4d), hex(magic)
nano = magic == 0xa1b23c4d
linktype = struct.unpack("<I", data[20:24])[0]
off = 24
pkts = []
syns_to: dict[int, int] = {}
while off + 16 <= len(data):
    ts_s, ts_f, incl, orig = struct.unpack("<IIII", data[off:off + 16])
    off += 16
    frame = data[off:off + incl]
    off += incl
    t = ts_s + ts_f / (1e9 if nano else 1e6)
    if linktype == 1:
        ip = frame[14:]
    elif linktype == 113:  # Linux cooked
        ip = frame[16:]
    elif linktype == 276:
        ip = frame[20:]
    else:
        ip = frame
    if not ip or ip[0] >> 4 != 4:
        continue
    ihl = (ip[0] & 15) * 4
    if ip[9] != 6:
        continue
    tcp = ip[ihl:]
    sport, dport = struct.unpack(">HH", tcp[:4])
    doff = (tcp[12] >> 4) * 4
    payload = tcp[doff:]
    if tcp[13] & 0x12 == 0x02:
        syns_to[dport] = syns_to.get(dport, 0) + 1
    if payload:
        pkts.append((t, sport, dport, payload))

if gw_port == 0:
    gw_port = next(d for t, s_, d, p in pkts if p.startswith(b"POST") and b"authorization: bearer" in p.lower())
    model_port = next(d for t, s_, d, p in pkts if p.startswith(b"POST") and d != gw_port)
    print("gateway port", gw_port, "model port", model_port)

def has_content(p):
    # a chat chunk whose delta carries non-empty content
    i = p.find(b'"delta"')
    while i >= 0:
        seg = p[i:i + 400]
        m = re.search(rb'"content":\s*"(.)', seg)
        if m and m.group(1) != b'"':
            return True
        i = p.find(b'"delta"', i + 1)
    return False

# Requests go one at a time: a request to the model server that follows one to the gateway is the gateway's.
events = []
for t, s, d, p in pkts:
    if d == gw_port and p.startswith(b"POST"):
        events.append(("gw_req", t, s))
    elif d == model_port and p.startswith(b"POST"):
        events.append(("model_req", t, s))
    elif s == model_port and has_content(p):
        events.append(("model_content", t, d))
    elif s == gw_port and has_content(p):
        events.append(("gw_content", t, d))

rows_gw, rows_direct = [], []
cur = None
for kind, t, port in events:
    if kind == "gw_req":
        cur = {"via": True, "a": t}
    elif kind == "model_req":
        if cur is not None and cur.get("via") and "b" not in cur:
            cur["b"] = t; cur["up_port"] = port
        else:
            cur = {"via": False, "b": t, "up_port": port}
    elif kind == "model_content" and cur is not None and "c" not in cur and port == cur.get("up_port"):
        cur["c"] = t
        if not cur["via"]:
            rows_direct.append(cur); cur = None
    elif kind == "gw_content" and cur is not None and cur.get("via") and "c" in cur and "d" not in cur:
        cur["d"] = t
        rows_gw.append(cur); cur = None

def q(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(p * len(xs)))]
def show(name, xs):
    xs = [x * 1000 for x in xs]
    print(f"{name:40s} n={len(xs):3d} median {statistics.median(xs):7.3f} ms  p90 {q(xs, 0.9):7.3f}  mean {statistics.mean(xs):7.3f}")
show("gateway in: client req -> upstream req", [r["b"] - r["a"] for r in rows_gw])
show("model via gateway: req -> first content", [r["c"] - r["b"] for r in rows_gw])
show("gateway relay: model content -> client", [r["d"] - r["c"] for r in rows_gw])
show("total via gateway (wire)", [r["d"] - r["a"] for r in rows_gw])
show("model direct: req -> first content", [r["c"] - r["b"] for r in rows_direct])
print(f"connections opened to the gateway: {syns_to.get(gw_port, 0)}, to the model server: {syns_to.get(model_port, 0)} "
      f"(requests to the model server: {len(rows_gw) + len(rows_direct)})")
