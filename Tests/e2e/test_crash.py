"""Crash safety and graceful shutdown of the real binary under load.

- `kill -9` while 8 clients send requests: the database opens, `PRAGMA integrity_check` is ok (SQLite), and every
  usage row for an answer the client had received more than one flush interval (plus a margin for the write)
  before the kill is in it. What the last un-flushed batch can lose is bounded by `usage.flush_interval_ms`.
- SIGTERM under load: every answer a client received has its usage row (the final flush), and the process
  exits 0."""

from __future__ import annotations

import signal
import threading
import time

import requests

import usage_db
from conftest import Admin, start_gateway, stop_gateway
from fast_upstream import FastUpstream

FLUSH_MS = 200


def _setup(gw, upstream: FastUpstream) -> str:
    admin = Admin(gw.url, gw.admin_key)
    admin.post("/tenants", {"name": "crash"})
    admin.post("/upstreams", {"name": "fast", "base_url": upstream.base_url})
    admin.post("/models", {"name": "fast", "spec": {"upstream": "fast", "model": "fast"}})
    return admin.create_key("crash", "load", ["inference"])["key"]


def _load(gw, key: str, stop: threading.Event, answered: list, lock: threading.Lock) -> None:
    session = requests.Session()
    body = {"model": "fast", "messages": [{"role": "user", "content": "x"}]}
    headers = {"Authorization": f"Bearer {key}"}
    while not stop.is_set():
        try:
            r = session.post(gw.api_url + "/chat/completions", json=body, headers=headers, timeout=5)
        except requests.RequestException:
            continue  # the gateway is gone
        if r.status_code == 200:
            with lock:
                answered.append((r.headers["x-request-id"], time.monotonic()))


def _run_load(gw, key: str, seconds: float, then) -> tuple[list, float]:
    stop = threading.Event()
    answered: list = []
    lock = threading.Lock()
    threads = [threading.Thread(target=_load, args=(gw, key, stop, answered, lock)) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    at = time.monotonic()
    then()
    stop.set()
    for t in threads:
        t.join(timeout=10)
    with lock:
        return list(answered), at


def _usage_ids(store) -> tuple[str, set[str]]:
    return usage_db.request_ids(store)


def test_kill_9_under_load_keeps_the_database_and_every_flushed_row(tmp_path):
    upstream = FastUpstream()
    gw = start_gateway(tmp_path, extra_env={
        "TRELLIS_USAGE_FLUSH_INTERVAL_MS": str(FLUSH_MS), "TRELLIS_UPSTREAM_HEALTH_CHECK_INTERVAL_MS": "0"})
    try:
        key = _setup(gw, upstream)
        answered, killed_at = _run_load(gw, key, 3.0, lambda: gw.proc.send_signal(signal.SIGKILL))
        gw.proc.wait(timeout=10)
    finally:
        upstream.stop()
        if gw.proc.poll() is None:
            gw.proc.kill()
    assert len(answered) > 100, f"the load got only {len(answered)} answers"
    check, ids = _usage_ids(gw.store)
    assert check == "ok"
    settled = [rid for rid, at in answered if at < killed_at - (FLUSH_MS / 1000 + 0.8)]
    missing = [rid for rid in settled if rid not in ids]
    assert not missing, f"{len(missing)} of {len(settled)} rows older than the flush window are missing"
    lost = sum(1 for rid, _ in answered if rid not in ids)
    print(f"\nkill -9: {len(answered)} answers, {len(ids)} usage rows, {lost} answers in the last window not yet written")


def test_sigterm_under_load_records_every_answer(tmp_path):
    upstream = FastUpstream()
    # The production drain phase (5 s of serving after SIGTERM), which the suite's other gateways turn off.
    gw = start_gateway(tmp_path, extra_env={"TRELLIS_UPSTREAM_HEALTH_CHECK_INTERVAL_MS": "0", "TRELLIS_SERVER_DRAIN_DELAY_MS": "5000"})
    code = None
    try:
        key = _setup(gw, upstream)
        answered, _ = _run_load(gw, key, 2.0, lambda: gw.proc.send_signal(signal.SIGTERM))
        code = stop_gateway(gw)
    finally:
        upstream.stop()
    assert code == 0, gw.log_tail()
    check, ids = _usage_ids(gw.store)
    assert check == "ok"
    missing = [rid for rid, _ in answered if rid not in ids]
    assert len(answered) > 50
    assert not missing, f"{len(missing)} of {len(answered)} answered requests have no usage row after SIGTERM"
