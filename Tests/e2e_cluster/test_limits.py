"""Limits count across replicas: three replicas under one key's 120 requests/minute limit for 20 s accept at most
15% more than a single process would.

A single process: the bucket starts full (120) and refills at 2 a second, so 20 s of steady demand are answered
120 + 20 × 2 = 160 times at most; the bound here is 160 × 1.15 = 184. Per-process buckets would let each replica
accept its own 160 (480 in all), the failure LiteLLM's issues #27736 and #40291 describe.

This test passes once the cluster-wide limiter (local buckets taking from a budget shared through PostgreSQL) is
in the gateway; until then it fails with the per-process figure."""

from __future__ import annotations

import threading
import time

import openai

from conftest import Cluster, new_tenant

RPM = 120
SECONDS = 20.0
SINGLE_PROCESS = RPM + SECONDS * RPM / 60  # 160
BOUND = int(SINGLE_PROCESS * 1.15)  # 184
THREADS = 6
RATE_PER_THREAD = 10.0  # 60 requests/s offered in all: 1,200 in 20 s, far above any bound


def _send(cluster: Cluster, key: str, model: str, index: int, until: float, counts: dict, lock: threading.Lock) -> None:
    # Each thread goes round the replicas directly (not through nginx): every replica sees a third of the demand.
    clients = [cluster.client(key, n) for n in range(1, len(cluster.replicas) + 1)]
    next_at = time.monotonic() + index / (THREADS * RATE_PER_THREAD)
    i = index
    while True:
        now = time.monotonic()
        if now >= until:
            return
        if next_at > now:
            time.sleep(next_at - now)
        next_at += 1 / RATE_PER_THREAD
        client = clients[i % len(clients)]
        i += 1
        try:
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
            outcome = "accepted"
        except openai.RateLimitError:
            outcome = "refused"
        except Exception as e:  # noqa: BLE001 — counted and shown
            outcome = f"error: {type(e).__name__}: {e}"[:200]
        with lock:
            counts[outcome] = counts.get(outcome, 0) + 1


def test_three_replicas_under_a_120_rpm_key_accept_at_most_15_percent_over_one_process(cluster, mock_model):
    tenant = new_tenant(cluster, "rpm", key_body={"rpm": RPM})
    counts: dict[str, int] = {}
    lock = threading.Lock()
    until = time.monotonic() + SECONDS
    threads = [threading.Thread(target=_send, args=(cluster, tenant.key, mock_model, i, until, counts, lock)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=SECONDS + 60)
    accepted, refused = counts.get("accepted", 0), counts.get("refused", 0)
    errors = {k: v for k, v in counts.items() if k.startswith("error")}
    print(f"\n{len(cluster.replicas)} replicas, key rpm {RPM}, {SECONDS:.0f} s: {accepted} accepted, {refused} refused (429), "
          f"errors {errors or 'none'}; single-process bound {SINGLE_PROCESS:.0f}, allowed {BOUND} "
          f"(overshoot {100 * (accepted / SINGLE_PROCESS - 1):+.1f}% over one process)")
    assert not errors, errors
    assert accepted + refused > 3 * SINGLE_PROCESS, f"the load offered too little to test the limit: {counts}"
    assert accepted <= BOUND, (
        f"{accepted} requests accepted under a {RPM} rpm key by {len(cluster.replicas)} replicas in {SECONDS:.0f} s; at most {BOUND} allowed "
        f"(per-process buckets would accept {len(cluster.replicas)} × {SINGLE_PROCESS:.0f}: the cluster-wide limiter is not counting across replicas)"
    )
    assert accepted >= RPM - 10, f"only {accepted} accepted: the cluster-wide limit refuses well below the key's {RPM} rpm"
