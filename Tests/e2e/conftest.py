"""End-to-end fixtures: a real llama.cpp model server, the real gateway binary, and a
catalog of tenants, keys, an upstream and models set up through the admin API.

Run with scripts/e2e.sh (or `.venv/bin/python -m pytest -q Tests/e2e`).

Environment:
  TRELLIS_BIN                 gateway executable (default <repo>/.build/debug/trellis)
  TRELLIS_E2E_MODEL_URL       API root of a model server that is already running, e.g.
                              http://127.0.0.1:8081/v1 (it must serve `smollm2`,
                              `smollm2-embed` and `smollm2-claims-lora`); otherwise
                              scripts/model-server.sh starts one on a free port for the
                              session (after scripts/make-lora.py has built the adapter)
                              and stops it afterwards
  TRELLIS_E2E_READY_TIMEOUT   seconds to wait for the gateway's GET /readyz (default 60)
  TRELLIS_E2E_KEEP            1: print where the gateway's data dir and log are kept
  TRELLIS_E2E_STORE_URL       postgres://user:password@host:port/db of a PostgreSQL cluster: every
                              gateway of the session stores into a fresh database made in it
                              (TRELLIS_STORE_URL), instead of SQLite in its data dir; a gateway
                              started again on the same root finds the same database

The gateway runs with a clean environment as far as TRELLIS_* goes (only
TRELLIS_ADMIN_KEY and TRELLIS_SERVER_DRAIN_DELAY_MS=0 are set, plus TRELLIS_LOG* if present),
in an empty working directory, so a developer's shell or config/ cannot change what the suite sees.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import openai
import pytest
import requests

import usage_db

REPO = Path(__file__).resolve().parents[2]

# Everything here talks to 127.0.0.1; never through a proxy from the developer's shell.
for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = ",".join(v for v in (os.environ.get(_var), "127.0.0.1", "localhost") if v)

MODEL_SERVER_SCRIPT = REPO / "scripts" / "model-server.sh"
MAKE_LORA_SCRIPT = REPO / "scripts" / "make-lora.py"

# Upstream model names served by scripts/model-server.sh.
UPSTREAM_CHAT_MODEL = "smollm2"
UPSTREAM_EMBED_MODEL = "smollm2-embed"
UPSTREAM_LORA_MODEL = "smollm2-claims-lora"  # smollm2 + the LoRA from scripts/make-lora.py

# Small generations keep the suite fast on SmolLM2-135M with one thread.
MAX_TOKENS = 24


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"<no log: {e}>"


# --------------------------------------------------------------------------- model server


@pytest.fixture(scope="session")
def model_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """API root (".../v1") of a running llama.cpp server."""
    existing = os.environ.get("TRELLIS_E2E_MODEL_URL")
    if existing:
        yield existing.rstrip("/")
        return

    port = free_port()
    state_dir = tmp_path_factory.mktemp("model-server")
    env = dict(os.environ, TRELLIS_STATE_DIR=str(state_dir))
    env.pop("TRELLIS_MODEL_PORT", None)
    started = time.monotonic()
    # The adapter the server offers as smollm2-claims-lora (scripts/model-env.sh builds it too;
    # this is a no-op when it is up to date).
    lora = subprocess.run([sys.executable, str(MAKE_LORA_SCRIPT)], env=env, capture_output=True, text=True, timeout=300)
    if lora.returncode != 0:
        pytest.fail(f"scripts/make-lora.py failed (exit {lora.returncode}):\n{lora.stderr}{lora.stdout}", pytrace=False)
    proc = subprocess.run(
        [str(MODEL_SERVER_SCRIPT), "--background", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"scripts/model-server.sh --background failed (exit {proc.returncode}):\n"
            f"{proc.stderr}{proc.stdout}",
            pytrace=False,
        )
    print(f"\nmodel server on port {port} ready in {time.monotonic() - started:.1f}s")
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        subprocess.run(
            [str(MODEL_SERVER_SCRIPT), "--stop", "--port", str(port)],
            env=env,
            capture_output=True,
            timeout=60,
        )


def fresh_upstream_state(model_base_url: str, alias: str) -> None:
    """Makes the next request for `alias` evaluate its whole prompt from position 0.

    llama-cpp-python keeps the previous prompt's tokens and evaluates only what differs; the batch layout
    changes the floating-point results slightly, and with SmolLM2 that is enough to change a greedy
    (temperature 0) answer when two tokens are nearly tied: the same messages sent twice in a row can
    answer differently the second time. A one-token completion whose prompt shares no first token with a
    chat prompt resets that (and loads `alias` if another model is loaded), so answers compared across
    calls are computed the same way."""
    r = requests.post(
        model_base_url + "/completions", json={"model": alias, "prompt": "0", "max_tokens": 1}, timeout=120
    )
    r.raise_for_status()


# --------------------------------------------------------------------------- gateway


@dataclass
class Gateway:
    url: str  # http://127.0.0.1:PORT (no /v1)
    admin_key: str
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen

    @property
    def api_url(self) -> str:
        return self.url + "/v1"

    store_url: str | None = None  # the PostgreSQL database (TRELLIS_E2E_STORE_URL), or None for SQLite

    @property
    def store(self) -> str:
        """Where the usage rows are, for usage_db: the database URL, or the SQLite file in the data dir."""
        return self.store_url or str(self.data_dir / "trellis.sqlite")

    def log_tail(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)


def _gateway_env(admin_key: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TRELLIS_") or k.startswith("TRELLIS_LOG")
    }
    env["TRELLIS_ADMIN_KEY"] = admin_key
    # No drain phase on SIGTERM: these gateways sit behind no load balancer, and the default 5 s wait made every
    # stop and restart in the suite 5 s long. The drain itself is tested by ShutdownDrainTests, by the cluster
    # suite's rolling restart behind nginx, and here by test_crash's SIGTERM under load, which keeps the default.
    env["TRELLIS_SERVER_DRAIN_DELAY_MS"] = "0"
    env.update(extra or {})
    return env


def gateway_binary() -> Path:
    binary = Path(os.environ.get("TRELLIS_BIN", REPO / ".build" / "debug" / "trellis"))
    if not binary.is_absolute():
        binary = REPO / binary
    if not os.access(binary, os.X_OK):
        pytest.fail(
            f"gateway binary not found at {binary}: build it (swift build) or set TRELLIS_BIN",
            pytrace=False,
        )
    return binary


def store_url(root: Path) -> str | None:
    """With TRELLIS_E2E_STORE_URL, the database of the gateway kept in `root`: made on the first start,
    found again (its URL is kept in <root>/store-url) when the gateway restarts. None: SQLite."""
    cluster = os.environ.get("TRELLIS_E2E_STORE_URL")
    if not cluster:
        return None
    kept = root / "store-url"
    if kept.exists():
        return kept.read_text().strip()
    url = usage_db.create_database(cluster, "e2e_" + secrets.token_hex(8))
    kept.write_text(url)
    return url


def start_gateway(
    root: Path,
    *,
    admin_key: str | None = None,
    extra_env: dict[str, str] | None = None,
    log_name: str = "trellis.log",
) -> Gateway:
    """Starts `trellis serve` on a free port with its data in <root>/data (kept across restarts: call
    again with the same root and admin key) and waits for GET /readyz. `extra_env` adds TRELLIS_*
    settings (the environment is otherwise clean of them)."""
    binary = gateway_binary()
    data_dir = root / "data"
    work_dir = root / "cwd"
    data_dir.mkdir(parents=True, exist_ok=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = root / log_name
    database = store_url(root)
    if database:
        extra_env = {"TRELLIS_STORE_URL": database, **(extra_env or {})}
    admin_key = admin_key or "op-" + secrets.token_urlsafe(24)
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    log_file = open(log_path, "wb")
    proc = subprocess.Popen(
        [str(binary), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)],
        env=_gateway_env(admin_key, extra_env),
        cwd=work_dir,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    log_file.close()  # the child has its own descriptor
    gw = Gateway(url=url, admin_key=admin_key, data_dir=data_dir, log_path=log_path, proc=proc, store_url=database)

    timeout = float(os.environ.get("TRELLIS_E2E_READY_TIMEOUT", "60"))
    started = time.monotonic()
    deadline = started + timeout
    last = "no answer"
    while True:
        if proc.poll() is not None:
            pytest.fail(
                f"trellis serve exited with {proc.returncode} before /readyz answered:\n{gw.log_tail()}",
                pytrace=False,
            )
        try:
            r = requests.get(url + "/readyz", timeout=2)
            if r.status_code == 200:
                break
            last = f"{r.status_code} {r.text[:200]}"
        except requests.RequestException as e:
            last = type(e).__name__
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(
                f"GET /readyz not 200 within {timeout:.0f}s (last: {last}):\n{gw.log_tail()}",
                pytrace=False,
            )
        time.sleep(0.1)
    print(f"\ngateway on port {port} ready in {time.monotonic() - started:.1f}s")
    if os.environ.get("TRELLIS_E2E_KEEP") == "1":
        print(f"gateway data dir: {data_dir}\ngateway log: {log_path}")
    if database:
        print(f"gateway store: {usage_db.without_password(database)}")
    return gw


def stop_gateway(gw: Gateway) -> int | None:
    """SIGTERM, then the exit status (None: still alive after 15 s, so it was killed)."""
    proc = gw.proc
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def assert_clean_exit(gw: Gateway, code: int | None) -> None:
    assert code == 0, (
        "trellis serve did not exit 0 within 15 s of SIGTERM "
        f"(exit {code}; None means it was killed):\n{gw.log_tail()}"
    )


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("gateway"))
    try:
        yield gw
    finally:
        assert_clean_exit(gw, stop_gateway(gw))


# --------------------------------------------------------------------------- admin API


class Admin:
    """Thin client for /admin/v1 with the operator key."""

    def __init__(self, gateway_url: str, key: str) -> None:
        self.base = gateway_url + "/admin/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, *, expect: tuple[int, ...], **kwargs: Any) -> requests.Response:
        r = self.session.request(method, self.base + path, timeout=30, **kwargs)
        assert r.status_code in expect, f"{method} /admin/v1{path} -> {r.status_code} (wanted {expect}): {r.text}"
        return r

    def post(self, path: str, body: dict, expect: tuple[int, ...] = (201,)) -> dict:
        r = self.call("POST", path, json=body, expect=expect)
        return r.json() if r.content else {}

    def get(self, path: str, expect: tuple[int, ...] = (200,)) -> Any:
        return self.call("GET", path, expect=expect).json()

    def delete(self, path: str, expect: tuple[int, ...] = (200, 204)) -> requests.Response:
        return self.call("DELETE", path, expect=expect)

    def create_key(self, tenant: str, name: str, scopes: list[str]) -> dict:
        """POST /tenants/{tenant}/keys → {"id","key","prefix",...}."""
        body = self.post(f"/tenants/{tenant}/keys", {"name": name, "scopes": scopes})
        assert body.get("key") and body.get("id") is not None, body
        return body


@dataclass
class World:
    gateway: Gateway
    admin: Admin
    model_base_url: str
    tenants: dict[str, dict] = field(default_factory=dict)  # name -> POST /tenants answer
    keys: dict[str, dict] = field(default_factory=dict)  # tenant -> POST /tenants/{t}/keys answer

    def key(self, tenant: str) -> str:
        return self.keys[tenant]["key"]

    def client(self, tenant: str | None = None, *, api_key: str | None = None) -> openai.OpenAI:
        return make_client(self.gateway, api_key if api_key is not None else self.key(tenant or "acme"))


def make_client(gateway: Gateway, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.api_url, api_key=api_key, max_retries=0, timeout=120)


@pytest.fixture(scope="session")
def world(gateway: Gateway, model_base_url: str) -> World:
    admin = Admin(gateway.url, gateway.admin_key)
    w = World(gateway=gateway, admin=admin, model_base_url=model_base_url)

    for name in ("acme", "globex"):
        t = admin.post("/tenants", {"name": name})
        assert t.get("name") == name and t.get("id") is not None, t
        w.tenants[name] = t

    admin.post(
        "/upstreams",
        {"name": "local", "base_url": model_base_url, "kind": "llamacpp", "labels": ["private"]},
    )

    created = admin.post(
        "/models",
        {"name": "assistant", "spec": {"upstream": "local", "model": UPSTREAM_CHAT_MODEL, "params": {"temperature": 0}}},
    )
    assert created.get("name") == "assistant" and created.get("version") == 1, created
    admin.post("/models", {"name": "embedder", "spec": {"upstream": "local", "model": UPSTREAM_EMBED_MODEL}})
    admin.post(
        "/models",
        {
            "name": "private-bot",
            "tenant": "acme",
            "description": "acme only",
            "spec": {
                "upstream": "local",
                "model": UPSTREAM_CHAT_MODEL,
                "params": {"temperature": 0, "max_tokens": MAX_TOKENS},
            },
        },
    )

    for name in ("acme", "globex"):
        w.keys[name] = admin.create_key(name, "e2e", ["inference"])
    return w


@pytest.fixture(scope="session")
def client(world: World) -> openai.OpenAI:
    """acme's inference key."""
    return world.client("acme")


@pytest.fixture(scope="session")
def globex_client(world: World) -> openai.OpenAI:
    return world.client("globex")
