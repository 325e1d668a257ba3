"""Replicas come and go under continuous traffic through nginx (the openai SDK, streamed and plain answers).

- A rolling restart (SIGTERM each replica in turn, wait for it to exit 0, start it again, wait for /readyz)
  answers every request 2xx, two streams in flight on each replica when it is told to stop finish whole, and
  every answer has its usage row (a replica flushes its buffer before exiting).
  This needs the gateway's drain phase on SIGTERM (/readyz 503 at once, requests still answered for
  `server.drain_delay_ms` with `Connection: close`, then the listener closes) and a load balancer that stops
  sending new connections when /readyz turns 503 (scripts/cluster.sh's health check takes the replica out of
  nginx's upstream): a connection still in the accept queue when the listener closes is reset after nginx has
  sent the request, and a POST is not resent (config/nginx-cluster.conf).
- `kill -9` of one replica: the only requests that may fail are those in flight on it (started before it died;
  nginx carries the rest to the others), and the only usage rows lost are the answers it gave in the last
  `usage.flush_interval_ms` (plus the write in progress). Prints the failed requests and lost rows against
  that bound.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import openai

import usage_db
from conftest import FLUSH_MS, Cluster, new_tenant

THREADS = 4


@dataclass
class Outcome:
    started: float
    ended: float
    request_id: str | None
    error: str | None  # None: a 2xx answer read to the end


@dataclass
class Traffic:
    """THREADS clients sending back to back through nginx until stopped; every third request streamed."""

    cluster: Cluster
    key: str
    model: str
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    reconnects: int = 0  # connections nginx closed before answering, sent again on a new one

    def __enter__(self) -> "Traffic":
        for i in range(THREADS):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)

    def _one(self, client: openai.OpenAI, stream: bool) -> str | None:
        messages = [{"role": "user", "content": "keep going"}]
        if not stream:
            raw = client.chat.completions.with_raw_response.create(model=self.model, messages=messages)
            completion = raw.parse()
            assert completion.choices[0].message.content, completion
            return raw.headers.get("x-request-id")
        with client.chat.completions.with_streaming_response.create(
            model=self.model, messages=messages, stream=True, stream_options={"include_usage": True}
        ) as response:
            chunks = list(response.parse())
            assert chunks and chunks[-1].usage is not None, f"the stream ended early: {chunks[-3:]}"
            return response.headers.get("x-request-id")

    def _run(self, index: int) -> None:
        client = self.cluster.client(self.key)
        n = index
        while not self.stopping.is_set():
            n += 1
            started = time.monotonic()
            # Like the openai SDK's own default (max_retries=2) for a connection that closed before any answer, and
            # for that only: nginx closes its idle client connections when scripts/cluster.sh's health check reloads
            # it, and a request sent on one at that moment gets no answer (it never reached a replica). Every HTTP
            # status, a 502 from nginx included, still counts as an answer and fails the test if it is an error.
            for attempt in range(3):
                try:
                    request_id, error = self._one(client, stream=n % 3 == 0), None
                except openai.APIConnectionError as e:
                    request_id, error = None, f"{type(e).__name__}: {e}"[:300]
                    if attempt < 2 and not isinstance(e, openai.APITimeoutError):
                        with self.lock:
                            self.reconnects += 1
                        continue
                except Exception as e:  # noqa: BLE001 — every failure is counted and shown
                    request_id, error = None, f"{type(e).__name__}: {e}"[:300]
                break
            with self.lock:
                self.outcomes.append(Outcome(started, time.monotonic(), request_id, error))

    def snapshot(self) -> list[Outcome]:
        with self.lock:
            return list(self.outcomes)

    def wait_answers(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        start = len(self.snapshot())
        while len(self.snapshot()) < start + count:
            assert time.monotonic() < deadline, f"the traffic got fewer than {count} answers in {timeout:.0f} s"
            time.sleep(0.05)


def _served_by(cluster: Cluster) -> dict[str, str]:
    """x-request-id → the replica address that answered it (the last one nginx tried), from nginx's access log."""
    served = {}
    pattern = re.compile(r"upstream=(.*?) ustatus=(.*?) rid=(\S*)")
    for line in cluster.nginx_log.read_text(errors="replace").splitlines():
        m = pattern.search(line)
        if m and m.group(3) not in ("", "-"):
            served[m.group(3)] = m.group(1).split(", ")[-1].split(" : ")[-1]
    return served


def _carried(cluster: Cluster, request_ids: set[str]) -> int:
    """How many of these answers nginx got only after trying another replica first (its access log lists more
    than one upstream address for them)."""
    pattern = re.compile(r"upstream=(.*?) ustatus=(.*?) rid=(\S*)")
    count = 0
    for line in cluster.nginx_log.read_text(errors="replace").splitlines():
        m = pattern.search(line)
        if m and m.group(3) in request_ids and ", " in m.group(1):
            count += 1
    return count


def _rows_settled(store: str, wanted: set[str], timeout: float) -> set[str]:
    """The request ids among `wanted` that have a usage row, once every row that will come has come: waits until
    all are there or the count stops changing for a few flush intervals."""
    deadline = time.monotonic() + timeout
    last, stable_since = -1, time.monotonic()
    while True:
        _, ids = usage_db.request_ids(store)
        have = wanted & ids
        if len(have) == len(wanted):
            return have
        if len(have) != last:
            last, stable_since = len(have), time.monotonic()
        if time.monotonic() - stable_since > 3 * FLUSH_MS / 1000 + 2 or time.monotonic() > deadline:
            return have
        time.sleep(0.2)


class SlowStream(threading.Thread):
    """A stream of the model `slow` (ten words, 0.2 s apart) straight to one replica, read to the end."""

    def __init__(self, cluster: Cluster, key: str, n: int) -> None:
        super().__init__(daemon=True)
        self.client, self.replica = cluster.client(key, n), n
        self.first_chunk = threading.Event()
        self.words = 0
        self.usage = False
        self.error: str | None = None

    def run(self) -> None:
        try:
            stream = self.client.chat.completions.create(
                model="slow", messages=[{"role": "user", "content": "x"}], stream=True, stream_options={"include_usage": True})
            for chunk in stream:
                self.first_chunk.set()
                if chunk.choices and (chunk.choices[0].delta.content or "").startswith("w"):
                    self.words += 1
                self.usage = self.usage or chunk.usage is not None
        except Exception as e:  # noqa: BLE001 — shown by the test
            self.error = f"{type(e).__name__}: {e}"[:300]
        finally:
            self.first_chunk.set()

    def problem(self) -> str | None:
        if self.error or self.words != 10 or not self.usage:
            return f"replica {self.replica}: {self.words} of 10 words, usage chunk {self.usage}, error {self.error}"
        return None


def test_a_rolling_restart_under_traffic_answers_every_request(cluster, mock_model):
    tenant = new_tenant(cluster, "rolling")
    exits = {}
    streams: list[SlowStream] = []
    with Traffic(cluster, tenant.key, mock_model) as traffic:
        traffic.wait_answers(50)
        for n in range(1, len(cluster.replicas) + 1):
            # Two streams in flight on the replica when it is told to stop: they must finish.
            pair = [SlowStream(cluster, tenant.key, n) for _ in range(2)]
            for s in pair:
                s.start()
            for s in pair:
                assert s.first_chunk.wait(30), f"no first chunk from replica {n}"
            streams += pair
            exits[n] = cluster.stop_replica(n, "TERM")
            traffic.wait_answers(20)  # served by the others meanwhile
            cluster.start_replica(n)
            # Long enough for nginx to try the replica again (fail_timeout=2s) and send it traffic.
            time.sleep(2.5)
            traffic.wait_answers(50)
    outcomes = traffic.snapshot()
    failed = [o for o in outcomes if o.error]
    answered = [o for o in outcomes if not o.error]
    carried = _carried(cluster, {o.request_id for o in answered if o.request_id})
    print(f"\nrolling restart of {len(cluster.replicas)} replicas: {len(outcomes)} requests through nginx, {len(failed)} failed, "
          f"{carried} answered by another replica after a failed attempt, {traffic.reconnects} sent again on a new connection to nginx; "
              f"exit statuses {exits}")
    for o in failed[:10]:
        print(f"  failed: {o.error}")
    assert all(code == "0" for code in exits.values()), (
        f"a replica did not exit 0 on SIGTERM: {exits}\n" + "\n".join(f"replica {n}:\n{cluster.log_tail(n)}" for n in exits))
    assert not failed, f"{len(failed)} of {len(outcomes)} requests failed during the rolling restart, e.g. {[o.error for o in failed[:5]]}"
    for s in streams:
        s.join(timeout=30)
    cut = [p for p in (s.problem() for s in streams) if p]
    assert not cut, f"streams in flight on a replica told to stop did not finish: {cut}"

    # Every answer has its usage row: each replica flushed its buffer before it exited.
    ids = {o.request_id for o in answered if o.request_id}
    assert len(ids) == len(answered), "an answer without x-request-id"
    have = _rows_settled(cluster.store_url, ids, timeout=30)
    missing = ids - have
    assert not missing, f"{len(missing)} of {len(ids)} answered requests have no usage row after the rolling restart, e.g. {sorted(missing)[:5]}"


def test_kill_9_of_one_replica_fails_only_its_requests_in_flight_and_loses_only_its_unflushed_usage(cluster, mock_model):
    tenant = new_tenant(cluster, "kill")
    victim = 2
    victim_addr = f"127.0.0.1:{cluster.replica_port(victim)}"
    with Traffic(cluster, tenant.key, mock_model) as traffic:
        traffic.wait_answers(200)
        killed_at = time.monotonic()
        status = cluster.stop_replica(victim, "KILL")
        dead_at = time.monotonic()
        traffic.wait_answers(200)
    outcomes = traffic.snapshot()
    cluster.start_replica(victim)  # the cluster whole again for whatever runs next

    failed = [o for o in outcomes if o.error]
    late = [o for o in failed if o.started > dead_at]
    answered = [o for o in outcomes if not o.error and o.request_id]
    served = _served_by(cluster)
    on_victim = [o for o in answered if served.get(o.request_id) == victim_addr]
    elsewhere = [o for o in answered if served.get(o.request_id) not in (None, victim_addr)]
    before = [o for o in on_victim if o.ended < killed_at]
    window = 1.0
    recent = [o for o in before if o.ended >= killed_at - window]
    rate = len(recent) / window  # answers per second of the killed replica just before the kill

    have = _rows_settled(cluster.store_url, {o.request_id for o in answered}, timeout=30)
    lost = [o for o in on_victim if o.request_id not in have]
    lost_elsewhere = [o for o in elsewhere if o.request_id not in have]
    margin_s = 0.5  # the batch being written when the process died
    bound = rate * (FLUSH_MS / 1000 + margin_s)
    old_lost = [o for o in lost if o.ended < killed_at - FLUSH_MS / 1000 - margin_s]
    print(
        f"\nkill -9 of replica {victim} (exit {status}) under {THREADS} clients through nginx: {len(outcomes)} requests, "
        f"{len(failed)} failed (at most {THREADS} can have been in flight on it; {len(late)} started after it died)\n"
        f"usage: {len(on_victim)} answers from the killed replica, {len(lost)} without a usage row; its rate before the kill "
        f"{rate:.0f}/s × (usage.flush_interval_ms {FLUSH_MS} ms + {margin_s * 1000:.0f} ms for the write in progress) = bound {bound:.0f}; "
        f"{len(lost_elsewhere)} rows lost on the live replicas; "
        f"{_carried(cluster, {o.request_id for o in answered})} answers carried to another replica by nginx after a failed attempt"
    )
    for o in failed[:10]:
        print(f"  failed ({o.started - killed_at:+.3f} s .. {o.ended - killed_at:+.3f} s from the kill): {o.error}")
    assert status == "137", f"replica {victim} was not killed by SIGKILL: exit {status}"
    assert len(served) > 0 and len(on_victim) > 0, "nginx's access log names no answer of the killed replica"
    assert not late, f"{len(late)} requests that started after replica {victim} had died failed; nginx should have sent them elsewhere: {[o.error for o in late[:5]]}"
    assert len(failed) <= THREADS, f"{len(failed)} requests failed; at most {THREADS} (one per client) can have been in flight on the killed replica"
    assert all(o.started <= dead_at and o.ended >= killed_at for o in failed), "a failed request was not in flight at the kill"
    assert not lost_elsewhere, f"{len(lost_elsewhere)} answers of live replicas have no usage row"
    assert not old_lost, (
        f"{len(old_lost)} answers the killed replica gave more than {FLUSH_MS} ms + {margin_s * 1000:.0f} ms before the kill have no usage row"
    )
    assert len(lost) <= bound + THREADS, f"{len(lost)} usage rows lost; bound {bound:.0f}"
