#!/usr/bin/env python3
"""Fault drill for docs/reliability.md: load through a real Trellis while its upstreams fail, then stop it
hard and softly, and print what clients saw and what the database kept.

  scripts/fault.py [--bin .build/release/trellis] [--seconds 20] [--clients 8]

1. Two fast upstream servers (Tests/e2e/fast_upstream.py, separate processes) serve one industry model as two
   weighted deployments. While clients send requests, upstream A is killed (SIGKILL) and restarted every few
   seconds. Reported: answers by status, and what /admin/v1/upstreams says about A's circuit.
2. SIGTERM under load: every answer a client received must have its usage row after the final flush.
3. kill -9 under load: the database must open with PRAGMA integrity_check = ok, and every answer older than
   the flush window must have its row; the rows of the last window are the bounded loss.

Needs only Python 3 and `requests` (the e2e virtualenv has it: .venv/bin/python scripts/fault.py)."""

from __future__ import annotations

import argparse
import collections
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
FAST = REPO / "Tests" / "e2e" / "fast_upstream.py"
FLUSH_MS = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_upstream(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(FAST), str(port)])
    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}/v1/models", timeout=0.2)
            return proc
        except requests.RequestException:
            time.sleep(0.05)
    raise SystemExit(f"upstream on {port} did not start")


def start_gateway(binary: str, data: Path, admin: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    env.update({
        "TRELLIS_ADMIN_KEY": admin, "TRELLIS_USAGE_FLUSH_INTERVAL_MS": str(FLUSH_MS), "TRELLIS_LOG_LEVEL": "warning",
        "TRELLIS_UPSTREAM_HEALTH_CHECK_INTERVAL_MS": "1000", "TRELLIS_UPSTREAM_CIRCUIT_COOL_DOWN_MS": "2000",
    })
    proc = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data)], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(data / "trellis.log", "ab"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if requests.get(url + "/readyz", timeout=0.5).status_code == 200:
                return proc, url
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise SystemExit("gateway did not become ready")


class Load:
    def __init__(self, url: str, key: str, clients: int) -> None:
        self.url, self.key = url, key
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.statuses: collections.Counter = collections.Counter()
        self.answered: list[tuple[str, float]] = []
        self.threads = [threading.Thread(target=self.run) for _ in range(clients)]

    def run(self) -> None:
        s = requests.Session()
        body = {"model": "drill", "messages": [{"role": "user", "content": "x"}]}
        while not self.stop.is_set():
            try:
                r = s.post(self.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {self.key}"}, timeout=10)
            except requests.RequestException:
                with self.lock:
                    self.statuses["connection error"] += 1
                time.sleep(0.01)
                continue
            with self.lock:
                self.statuses[r.status_code] += 1
                if r.status_code == 200:
                    self.answered.append((r.headers["x-request-id"], time.monotonic()))

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)


def usage(db: Path) -> tuple[str, set[str]]:
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0], {r[0] for r in con.execute("SELECT request_id FROM usage")}
    finally:
        con.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(REPO / ".build" / "release" / "trellis"))
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trellis-fault-"))
    admin = "op-" + secrets.token_urlsafe(24)
    ports = [free_port(), free_port()]
    upstreams = [start_upstream(p) for p in ports]
    gw, url = start_gateway(args.bin, work, admin)
    h = {"Authorization": f"Bearer {admin}"}

    def post(path: str, body: dict) -> dict:
        r = requests.post(url + "/admin/v1" + path, json=body, headers=h, timeout=10)
        r.raise_for_status()
        return r.json()

    post("/tenants", {"name": "drill"})
    for name, port in zip("ab", ports):
        post("/upstreams", {"name": f"up-{name}", "base_url": f"http://127.0.0.1:{port}/v1", "timeouts": {"first_byte_ms": 2000}})
    post("/models", {"name": "drill", "spec": {"model": "fast", "deployments": [{"upstream": "up-a", "weight": 1}, {"upstream": "up-b", "weight": 1}]}})
    key = post("/tenants/drill/keys", {"name": "load", "scopes": ["inference"]})["key"]

    print(f"1. {args.seconds:.0f} s of load ({args.clients} clients); upstream A killed and restarted every 4 s")
    kills = 0
    opened = set()
    with Load(url, key, args.clients) as load:
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            time.sleep(2)
            upstreams[0].send_signal(signal.SIGKILL)
            upstreams[0].wait()
            kills += 1
            time.sleep(1.5)
            health = requests.get(url + "/admin/v1/upstreams/up-a", headers=h, timeout=5).json()["health"]
            opened.add(health["circuit"])
            upstreams[0] = start_upstream(ports[0])
    total = sum(load.statuses.values())
    print(f"   {total} requests: " + ", ".join(f"{k}: {v}" for k, v in sorted(load.statuses.items(), key=str)))
    print(f"   upstream A killed {kills} times; its circuit was seen as {sorted(opened)} while down")
    a = requests.get(url + "/admin/v1/upstreams/up-a", headers=h, timeout=5).json()["health"]
    print(f"   A's health now: circuit {a['circuit']}, opened {a['circuit_opened']} times, {a['failures']} failures")

    print("2. SIGTERM under load")
    with Load(url, key, args.clients) as load:
        time.sleep(3)
        gw.send_signal(signal.SIGTERM)
        code = gw.wait(timeout=60)
    check, ids = usage(work / "trellis.sqlite")
    missing = [r for r, _ in load.answered if r not in ids]
    print(f"   exit {code}; {len(load.answered)} answers during the drill, {len(missing)} without a usage row; integrity {check}")

    print("3. kill -9 under load")
    gw, url = start_gateway(args.bin, work, admin)
    with Load(url, key, args.clients) as load:
        time.sleep(3)
        killed_at = time.monotonic()
        gw.send_signal(signal.SIGKILL)
        gw.wait()
    check, ids = usage(work / "trellis.sqlite")
    settled = [r for r, at in load.answered if at < killed_at - (FLUSH_MS / 1000 + 0.8)]
    lost_settled = [r for r in settled if r not in ids]
    lost = [r for r, _ in load.answered if r not in ids]
    print(f"   integrity {check}; {len(load.answered)} answers, {len(lost)} without a row (all in the last "
          f"{FLUSH_MS} ms flush window + write), {len(lost_settled)} older ones missing")
    for p in upstreams:
        p.kill()
    ok = check == "ok" and not missing and not lost_settled and code == 0
    print("drill " + ("passed" if ok else "FAILED") + f" (data in {work})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
