"""The cluster end-to-end suite: scripts/cluster.sh starts a throwaway PostgreSQL, three `trellis serve` replicas
sharing it and nginx in front of them, with the mock upstream (mock_upstream.py, answers at once); the tests drive
the replicas one by one and nginx with the official openai SDK.

Run with scripts/e2e-cluster.sh (scripts/test.sh does, after the end-to-end suite).

Environment:
  TRELLIS_BIN                 the gateway (default <repo>/.build/release/trellis)
  TRELLIS_E2E_CLUSTER_KEEP    1: leave the cluster's folder (logs, nginx access log) in place at the end

The replicas run with `catalog.refresh_interval_ms` at 10 s, so that a change seen on another replica within
PROPAGATION_S (2 s; the issue asks for 1 s, the rest is slack for two busy CPUs) was carried by the change
notification, not by the periodic re-read that is only its fallback.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import openai
import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
CLUSTER_SH = REPO / "scripts" / "cluster.sh"
sys.path.insert(0, str(REPO / "Tests" / "e2e"))

for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = ",".join(v for v in (os.environ.get(_var), "127.0.0.1", "localhost") if v)

# Settings of every replica of the suite's cluster.
REFRESH_MS = 10_000  # the fallback re-read; changes must arrive by notification long before it
FLUSH_MS = 1_000  # usage.flush_interval_ms (the default): what a crash can lose is bounded by it
PROPAGATION_S = 2.0  # a change made through one replica holds on the others within this
KNOWLEDGE_S = 5.0  # a document uploaded through one replica is searchable through the others within this
WARM_S = 20.0  # setting up a test's objects (longer than REFRESH_MS: not what is measured)

CLUSTER_ENV = " ".join(
    [
        f"TRELLIS_CATALOG_REFRESH_INTERVAL_MS={REFRESH_MS}",
        f"TRELLIS_USAGE_FLUSH_INTERVAL_MS={FLUSH_MS}",
        # The mock upstream is always there; no health probes in the logs.
        "TRELLIS_UPSTREAM_HEALTH_CHECK_INTERVAL_MS=0",
        "TRELLIS_LOG_LEVEL=notice",
    ]
)


def wait_until(what: str, check: Callable[[], Any], deadline_s: float, interval: float = 0.05) -> tuple[Any, float]:
    """Polls check() until it returns something truthy; (that value, seconds it took). Fails at the deadline."""
    started = time.monotonic()
    last: Any = None
    while True:
        try:
            last = check()
        except Exception as e:  # noqa: BLE001 — the last error is shown at the deadline
            last = e
        else:
            if last:
                return last, time.monotonic() - started
        if time.monotonic() - started > deadline_s:
            raise AssertionError(f"{what}: not within {deadline_s:.1f} s (last: {last!r})")
        time.sleep(interval)


class Admin:
    """/admin/v1 of one replica (or of nginx) with the operator key."""

    def __init__(self, base: str, key: str) -> None:
        self.base = base + "/admin/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, *, expect: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        r = self.session.request(method, self.base + path, timeout=30, **kwargs)
        assert r.status_code in expect, f"{method} {self.base}{path} -> {r.status_code} (wanted {expect}): {r.text}"
        return r.json() if r.content else {}

    def post(self, path: str, body: dict, expect: tuple[int, ...] = (200, 201)) -> Any:
        return self.call("POST", path, json=body, expect=expect)

    def get(self, path: str) -> Any:
        return self.call("GET", path, expect=(200,))


@dataclass
class Cluster:
    dir: Path
    url: str  # nginx
    replicas: list[str]  # each replica's own URL, replica 1 first
    admin_key: str
    upstream_url: str  # the mock upstream's API root
    store_url: str
    nginx_log: Path
    demo_key: str | None

    def admin(self, n: int | None = None) -> Admin:
        """The admin API through replica n (1-based), or through nginx."""
        return Admin(self.url if n is None else self.replicas[n - 1], self.admin_key)

    def client(self, key: str, n: int | None = None) -> openai.OpenAI:
        """The openai SDK against replica n (1-based), or against nginx; no retries of its own."""
        base = self.url if n is None else self.replicas[n - 1]
        return openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=30)

    def script(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run([str(CLUSTER_SH), *args], capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"cluster.sh {' '.join(args)} failed ({done.returncode}):\n{done.stderr}{done.stdout}"
        return done.stdout.strip()

    def stop_replica(self, n: int, signal: str = "TERM") -> str:
        """Signals replica n and waits for it to exit; its exit status."""
        return self.script("replica-stop", str(self.dir), str(n), signal)

    def start_replica(self, n: int) -> None:
        """Starts replica n again on its port; returns once its /readyz answers 200."""
        self.script("replica-start", str(self.dir), str(n))

    def replica_port(self, n: int) -> int:
        return int(self.replicas[n - 1].rsplit(":", 1)[1])

    def log_tail(self, n: int, lines: int = 40) -> str:
        path = self.dir / f"replica-{n}" / "trellis.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as e:
            return f"<no log: {e}>"


def _read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            values[k] = v
    return values


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    binary = os.environ.get("TRELLIS_BIN") or str(REPO / ".build" / "release" / "trellis")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"gateway binary not found at {binary}: build it (swift build -c release) or set TRELLIS_BIN", pytrace=False)
    folder = Path(tempfile.mkdtemp(prefix="trellis-e2e-cluster.", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_CLUSTER_")}
    env.update(TRELLIS_BIN=binary, TRELLIS_CLUSTER_UPSTREAM="mock", TRELLIS_CLUSTER_ENV=CLUSTER_ENV, TRELLIS_CLUSTER_CATALOG="1")
    started = time.monotonic()
    done = subprocess.run([str(CLUSTER_SH), "start", str(folder)], env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        subprocess.run([str(CLUSTER_SH), "stop", str(folder)], capture_output=True, timeout=120)
        pytest.fail(f"scripts/cluster.sh start failed ({done.returncode}):\n{done.stderr}{done.stdout}", pytrace=False)
    values = _read_env(folder / "cluster.env")
    count = int(values["TRELLIS_CLUSTER_REPLICAS"])
    demo_key_file = values.get("TRELLIS_CLUSTER_DEMO_KEY_FILE")
    c = Cluster(
        dir=folder,
        url=values["TRELLIS_CLUSTER_URL"],
        replicas=[values[f"TRELLIS_CLUSTER_REPLICA_{n}_URL"] for n in range(1, count + 1)],
        admin_key=Path(values["TRELLIS_CLUSTER_ADMIN_KEY_FILE"]).read_text().strip(),
        upstream_url=values["TRELLIS_CLUSTER_UPSTREAM_URL"],
        store_url=values["TRELLIS_CLUSTER_STORE_URL"],
        nginx_log=Path(values["TRELLIS_CLUSTER_NGINX_LOG"]),
        demo_key=Path(demo_key_file).read_text().strip() if demo_key_file else None,
    )
    print(f"\ncluster in {folder} ready in {time.monotonic() - started:.1f} s: nginx {c.url}, replicas {' '.join(c.replicas)}")
    try:
        yield c
    finally:
        if os.environ.get("TRELLIS_E2E_CLUSTER_KEEP") == "1":
            print(f"\ncluster kept in {folder}; stop it with scripts/cluster.sh stop {folder}")
        else:
            subprocess.run([str(CLUSTER_SH), "stop", str(folder)], capture_output=True, timeout=180)


@dataclass
class Tenant:
    name: str
    key: str
    key_id: str


@pytest.fixture(scope="session")
def mock_model(cluster: Cluster) -> str:
    """A shared upstream `mock` (the cluster's mock upstream) and the shared models `fast` and `slow` on it."""
    admin = cluster.admin(1)
    admin.post("/upstreams", {"name": "mock", "base_url": cluster.upstream_url, "kind": "openai", "labels": ["private"]})
    admin.post("/models", {"name": "fast", "spec": {"upstream": "mock", "model": "fast"}})
    # Streams ten words 0.2 s apart (mock_upstream.py): a stream still in flight when a replica is stopped.
    admin.post("/models", {"name": "slow", "spec": {"upstream": "mock", "model": "slow"}})
    return "fast"


def new_tenant(cluster: Cluster, prefix: str, *, through: int = 1, key_body: dict | None = None) -> Tenant:
    """A tenant of its own for one test (name `prefix-<random>`) and an inference key, made through replica
    `through`; returns once every replica accepts the key (within WARM_S)."""
    name = f"{prefix}-{secrets.token_hex(3)}"
    admin = cluster.admin(through)
    admin.post("/tenants", {"name": name})
    body = {"name": "e2e-cluster", "scopes": ["inference", "usage"], **(key_body or {})}
    created = admin.post(f"/tenants/{name}/keys", body)
    tenant = Tenant(name=name, key=created["key"], key_id=created["id"])
    for n in range(1, len(cluster.replicas) + 1):
        url = cluster.replicas[n - 1] + "/v1/models"
        wait_until(
            f"the new key of {name} accepted by replica {n}",
            lambda: requests.get(url, headers={"Authorization": f"Bearer {tenant.key}"}, timeout=5).status_code == 200,
            WARM_S,
        )
    return tenant


def chat(client: openai.OpenAI, model: str, content: str = "hi", **extra: Any) -> tuple[str, dict[str, str]]:
    """One non-streaming chat completion: (the answer's text, its headers)."""
    raw = client.chat.completions.with_raw_response.create(model=model, messages=[{"role": "user", "content": content}], **extra)
    completion = raw.parse()
    return completion.choices[0].message.content or "", dict(raw.headers)
