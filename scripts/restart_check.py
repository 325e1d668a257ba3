#!/usr/bin/env python3
"""What a SIGTERM and a `kill -9` cost a gateway under traffic, measured on the real binary (SQLite).

Run through scripts/restart-check.sh (which builds the binaries when needed). Three checks, each against a fresh
`trellis serve` and the canned upstream (trellis-bench-upstream):

- `sigterm`: clients send chat requests on keep-alive connections while the gateway gets SIGTERM, once with
  `server.drain_delay_ms` (the drain phase) and once with 0 (the listener closes at once). Each request is
  classified: answered (2xx; whether it said `Connection: close`), refused (the connection could not be opened:
  nothing was sent, a load balancer retries it elsewhere), broken (sent, then the connection failed before an
  answer: a load balancer cannot safely retry a POST) or an HTTP error. Also: when /readyz turned 503 and when
  the first connection was refused, after the signal; the exit status; usage rows vs answers.
- `second-signal`: a second SIGTERM during a long drain phase ends the shutdown at once (exit status, time).
- `grace`: a request whose upstream never answers does not hold the shutdown past `server.drain_delay_ms` +
  `server.shutdown_grace_seconds` (exit status, time, what the stuck client got).
- `kill9`: `kill -9` under traffic: answers (2xx, with their request ids) vs usage rows stored, against the bound
  `usage.flush_interval_ms` x the answer rate.

No load balancer is involved: after the listener closes, the single gateway refuses new connections, which is
expected and counted apart. What must be zero is broken requests and HTTP errors.

Each JSON line ends with `problems`: the documented bounds it missed (exit status 0 after a signal; no broken
request, HTTP error or answer without its usage row after a SIGTERM; a second signal ends the shutdown within
10 s; the grace check exits within drain + grace + 5 s and writes the stuck request's usage row; after kill -9
no answer older than usage.flush_interval_ms + 1 s lacks its row). The script exits 1 when any check has one."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ADMIN_KEY = "restart-check-" + os.urandom(12).hex()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstream:
    def __init__(self, binary: str) -> None:
        self.proc = subprocess.Popen([binary, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        # "trellis-bench-upstream listening on http://127.0.0.1:PORT ..."
        self.base_url = line.split("listening on ")[1].split()[0] + "/v1"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


class Gateway:
    def __init__(self, binary: str, work: Path, settings: dict[str, str]) -> None:
        self.port = free_port()
        self.data = work / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
        env.update({"TRELLIS_ADMIN_KEY": ADMIN_KEY, "TRELLIS_LOG_LEVEL": "notice",
                    "TRELLIS_UPSTREAM_HEALTH_CHECK_INTERVAL_MS": "0", **settings})
        self.log_path = work / "trellis.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while self.readyz() != 200:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the gateway did not become ready:\n{self.log_path.read_text()[-2000:]}")
            time.sleep(0.05)

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def readyz(self) -> int | None:
        try:
            c = self.connection()
            c.request("GET", "/readyz")
            status = c.getresponse().status
            c.close()
            return status
        except OSError:
            return None

    def admin(self, path: str, body: dict) -> dict:
        c = self.connection()
        c.request("POST", "/admin/v1" + path, json.dumps(body),
                  {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status // 100 != 2:
            raise SystemExit(f"admin {path}: {r.status} {data!r}")
        return json.loads(data)

    def setup(self, upstream: Upstream) -> str:
        self.admin("/tenants", {"name": "load"})
        self.admin("/upstreams", {"name": "bench", "base_url": upstream.base_url, "kind": "openai"})
        self.admin("/models", {"name": "bench", "spec": {"upstream": "bench", "model": "bench-model"}})
        # No rate limit gets in the way of the load.
        return self.admin("/tenants/load/keys", {"name": "load", "scopes": ["inference"]})["key"]

    def usage_ids(self) -> set[str]:
        db = sqlite3.connect(f"file:{self.data / 'trellis.sqlite'}?mode=ro", uri=True)
        try:
            return {row[0] for row in db.execute("SELECT request_id FROM usage")}
        finally:
            db.close()


class Load:
    """`clients` threads, each sending chat requests on one keep-alive connection (reopened after a close)."""

    def __init__(self, gw: Gateway, key: str, clients: int, stream: bool = False) -> None:
        self.gw, self.key, self.stream = gw, key, stream
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.answered: list[tuple[str, float, bool]] = []  # request id, time, said Connection: close
        self.refused: list[float] = []
        self.broken: list[tuple[float, str]] = []
        self.http_errors: list[tuple[float, int]] = []
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def client(self) -> None:
        body = json.dumps({"model": "bench", "stream": self.stream, "messages": [{"role": "user", "content": "x"}]})
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        conn = None
        while not self.stop.is_set():
            if conn is None:
                conn = self.gw.connection()
                try:
                    conn.connect()
                except OSError:
                    with self.lock:
                        self.refused.append(time.monotonic())
                    conn = None
                    time.sleep(0.01)
                    continue
            try:
                conn.request("POST", "/v1/chat/completions", body, headers)
                r = conn.getresponse()
                data = r.read()
                closes = (r.getheader("Connection") or "").lower() == "close"
                if self.stream and r.status == 200 and not data.rstrip().endswith(b"data: [DONE]"):
                    raise http.client.IncompleteRead(data)
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.broken.append((time.monotonic(), type(e).__name__))
                conn.close()
                conn = None
                continue
            now = time.monotonic()
            with self.lock:
                if r.status // 100 == 2:
                    self.answered.append((r.getheader("x-request-id") or "", now, closes))
                else:
                    self.http_errors.append((now, r.status))
            if closes or r.will_close:
                conn.close()
                conn = None

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def sigterm_check(args, drain_ms: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="trellis-restart-") as tmp:
        upstream = Upstream(args.upstream)
        gw = Gateway(args.trellis, Path(tmp), {"TRELLIS_SERVER_DRAIN_DELAY_MS": str(drain_ms)})
        try:
            key = gw.setup(upstream)
            load = Load(gw, key, args.clients, stream=args.stream)
            time.sleep(args.warmup)
            signalled = time.monotonic()
            gw.proc.send_signal(signal.SIGTERM)
            not_ready_at = None
            while gw.proc.poll() is None and time.monotonic() - signalled < 120:
                if not_ready_at is None and gw.readyz() != 200:
                    not_ready_at = time.monotonic()
                time.sleep(0.02)
            code = gw.proc.wait(timeout=60)
            load.finish()
            stopped = time.monotonic()
            ids = gw.usage_ids()
        finally:
            upstream.stop()
            if gw.proc.poll() is None:
                gw.proc.kill()
        after = [a for a in load.answered if a[1] >= signalled]
        return {
            "drain_delay_ms": drain_ms,
            "exit_status": code,
            "answered": len(load.answered),
            "answered_after_signal": len(after),
            "answered_after_signal_with_connection_close": sum(1 for a in after if a[2]),
            "broken": len(load.broken),
            "broken_kinds": sorted({k for _, k in load.broken}),
            "broken_after_ms": sorted(round((t - signalled) * 1000) for t, _ in load.broken),
            "http_errors": len(load.http_errors),
            "refused_connections": len(load.refused),
            "readyz_503_after_ms": None if not_ready_at is None else round((not_ready_at - signalled) * 1000),
            "first_refusal_after_ms": None if not load.refused else round((min(load.refused) - signalled) * 1000),
            "exit_after_ms": round((stopped - signalled) * 1000),
            "answers_without_usage_row": sum(1 for rid, _, _ in load.answered if rid not in ids),
        }


def second_signal_check(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="trellis-restart-") as tmp:
        upstream = Upstream(args.upstream)
        gw = Gateway(args.trellis, Path(tmp), {"TRELLIS_SERVER_DRAIN_DELAY_MS": "600000"})
        try:
            gw.setup(upstream)
            first = time.monotonic()
            gw.proc.send_signal(signal.SIGTERM)
            while gw.readyz() == 200:
                time.sleep(0.02)
            second = time.monotonic()
            gw.proc.send_signal(signal.SIGTERM)
            code = gw.proc.wait(timeout=60)
            done = time.monotonic()
        finally:
            upstream.stop()
            if gw.proc.poll() is None:
                gw.proc.kill()
        return {"drain_delay_ms": 600000, "exit_status": code, "second_signal_after_ms": round((second - first) * 1000),
                "exit_after_second_signal_ms": round((done - second) * 1000)}


class HangingUpstream:
    """Accepts connections, reads the request and never answers: a request to it stays in flight."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.base_url = f"http://127.0.0.1:{self.server.getsockname()[1]}/v1"
        self.held: list[socket.socket] = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.held.append(conn)

    def stop(self) -> None:
        self.server.close()
        for conn in self.held:
            conn.close()


def grace_check(args) -> dict:
    """A request that never ends does not hold the shutdown past server.drain_delay_ms + shutdown_grace_seconds."""
    with tempfile.TemporaryDirectory(prefix="trellis-restart-") as tmp:
        upstream = Upstream(args.upstream)
        hanging = HangingUpstream()
        gw = Gateway(args.trellis, Path(tmp), {"TRELLIS_SERVER_DRAIN_DELAY_MS": "500", "TRELLIS_SERVER_SHUTDOWN_GRACE_SECONDS": "2"})
        outcome: dict = {}
        try:
            key = gw.setup(upstream)
            gw.admin("/upstreams", {"name": "hanging", "base_url": hanging.base_url, "kind": "openai"})
            gw.admin("/models", {"name": "hanging", "spec": {"upstream": "hanging", "model": "m"}})

            def stuck() -> None:
                c = gw.connection()
                try:
                    c.request("POST", "/v1/chat/completions", json.dumps({"model": "hanging", "messages": [{"role": "user", "content": "x"}]}),
                              {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
                    outcome["status"] = c.getresponse().status
                except (OSError, http.client.HTTPException) as e:
                    outcome["error"] = type(e).__name__

            client = threading.Thread(target=stuck, daemon=True)
            client.start()
            held_by = time.monotonic() + 30
            while not hanging.held:
                if time.monotonic() > held_by or not client.is_alive():
                    raise SystemExit(f"grace: the request never reached the hanging upstream (client: {outcome})")
                time.sleep(0.01)
            signalled = time.monotonic()
            gw.proc.send_signal(signal.SIGTERM)
            code = gw.proc.wait(timeout=60)
            done = time.monotonic()
            client.join(timeout=10)
            rows = len(gw.usage_ids())
        finally:
            hanging.stop()
            upstream.stop()
            if gw.proc.poll() is None:
                gw.proc.kill()
        return {"drain_delay_ms": 500, "shutdown_grace_seconds": 2, "exit_status": code,
                "exit_after_ms": round((done - signalled) * 1000), "stuck_request": outcome,
                "usage_rows_of_the_stuck_request": rows}


def kill9_check(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="trellis-restart-") as tmp:
        upstream = Upstream(args.upstream)
        gw = Gateway(args.trellis, Path(tmp), {"TRELLIS_USAGE_FLUSH_INTERVAL_MS": str(args.flush_ms)})
        try:
            key = gw.setup(upstream)
            load = Load(gw, key, args.clients)
            time.sleep(args.warmup)
            started = time.monotonic()
            count_start = len(load.answered)
            time.sleep(args.kill_after)
            rate = (len(load.answered) - count_start) / (time.monotonic() - started)
            killed = time.monotonic()
            gw.proc.send_signal(signal.SIGKILL)
            gw.proc.wait(timeout=30)
            load.finish()
            ids = gw.usage_ids()
        finally:
            upstream.stop()
            if gw.proc.poll() is None:
                gw.proc.kill()
        answered = [a for a in load.answered if a[1] <= killed]
        lost = [a for a in answered if a[0] not in ids]
        return {
            "flush_interval_ms": args.flush_ms,
            "answers_per_second": round(rate),
            "answered": len(answered),
            "usage_rows": len(ids),
            "answers_without_usage_row": len(lost),
            "oldest_lost_ms_before_kill": None if not lost else round((killed - min(a[1] for a in lost)) * 1000),
            "bound_rate_x_interval": round(rate * args.flush_ms / 1000),
            "failed_in_flight": len(load.broken),
        }


# Slack over the documented bounds for starting to exit, the final flush (it waits up to 2 s for the rows of
# requests being cut) and the process exit, on a busy machine.
EXIT_MARGIN_MS = 5000
# Slack over usage.flush_interval_ms for the write of the last batch before kill -9.
WRITE_MARGIN_MS = 1000


def problems(check: str, r: dict) -> list[str]:
    """The documented bounds `r` missed."""
    found = []
    if check in ("sigterm", "second-signal", "grace") and r["exit_status"] != 0:
        found.append(f"exit status {r['exit_status']}, not 0")
    if check == "sigterm":
        for field in ("broken", "http_errors", "answers_without_usage_row"):
            if r[field]:
                found.append(f"{field}: {r[field]}")
    elif check == "second-signal" and r["exit_after_second_signal_ms"] > 10_000:
        found.append(f"exit {r['exit_after_second_signal_ms']} ms after the second signal (bound 10000)")
    elif check == "grace":
        bound = r["drain_delay_ms"] + r["shutdown_grace_seconds"] * 1000 + EXIT_MARGIN_MS
        if r["exit_after_ms"] > bound:
            found.append(f"exit {r['exit_after_ms']} ms after the signal (bound {bound})")
        if r["usage_rows_of_the_stuck_request"] != 1:
            found.append(f"{r['usage_rows_of_the_stuck_request']} usage rows for the stuck request, not 1")
    elif check == "kill9":
        oldest = r["oldest_lost_ms_before_kill"]
        if oldest is not None and oldest > r["flush_interval_ms"] + WRITE_MARGIN_MS:
            found.append(f"an answer {oldest} ms before the kill has no usage row (bound {r['flush_interval_ms'] + WRITE_MARGIN_MS})")
    return found


def report(check: str, r: dict) -> bool:
    """Prints one JSON line with its problems; whether there were none."""
    found = problems(check, r)
    print(json.dumps({"check": check, **r, "problems": found}), flush=True)
    return not found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trellis", default=os.environ.get("TRELLIS_BIN", str(REPO / ".build/debug/trellis")))
    p.add_argument("--upstream", default=os.environ.get("TRELLIS_BENCH_UPSTREAM", str(REPO / ".build/debug/trellis-bench-upstream")))
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of traffic before the signal")
    p.add_argument("--drain-ms", type=int, default=5000)
    p.add_argument("--stream", action="store_true", help="streamed requests in the SIGTERM checks")
    p.add_argument("--flush-ms", type=int, default=1000)
    p.add_argument("--kill-after", type=float, default=3.0, help="seconds of measured traffic before kill -9")
    p.add_argument("checks", nargs="*", default=["sigterm", "second-signal", "grace", "kill9"])
    args = p.parse_args()
    ok = True
    for check in args.checks:
        if check == "sigterm":
            for drain in (args.drain_ms, 0):
                ok = report("sigterm", sigterm_check(args, drain)) and ok
        elif check == "grace":
            ok = report("grace", grace_check(args)) and ok
        elif check == "second-signal":
            ok = report("second-signal", second_signal_check(args)) and ok
        elif check == "kill9":
            ok = report("kill9", kill9_check(args)) and ok
        else:
            raise SystemExit(f"unknown check {check}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
