"""Shared pieces of bench/rag/eval.py and bench/rag/load.py: a gateway started from the built binary (through the
end-to-end suite's helpers in Tests/e2e/conftest.py), the local model server (scripts/model-server.sh), an admin
client, and a Python copy of the gateway's search tokenizer (to measure how many words a question shares with its
passage).

Run the scripts with the venv's interpreter (.venv/bin/python), which has requests, openai and pytest.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests" / "e2e"))

import conftest  # noqa: E402  (the end-to-end helpers: start_gateway, stop_gateway, Admin, free_port)
import requests  # noqa: E402

MODEL_SERVER = REPO / "scripts" / "model-server.sh"


def log(*parts: Any) -> None:
    print("[bench]", *parts, file=sys.stderr, flush=True)


def default_binary(kind: str = "release") -> Path:
    """TRELLIS_BIN, else .build/<kind>/trellis, else the other build."""
    if os.environ.get("TRELLIS_BIN"):
        return Path(os.environ["TRELLIS_BIN"]).resolve()
    first = REPO / ".build" / kind / "trellis"
    other = REPO / ".build" / ("debug" if kind == "release" else "release") / "trellis"
    return first if first.exists() or not other.exists() else other


@contextlib.contextmanager
def model_server(existing: str | None = None) -> Iterator[str]:
    """The API root of a model server serving smollm2-embed: `existing`, or one started on a free port with
    scripts/model-server.sh (stopped afterwards)."""
    if existing:
        yield existing.rstrip("/")
        return
    port = conftest.free_port()
    state = Path(tempfile.mkdtemp(prefix="trellis-rag-model-"))
    env = dict(os.environ, TRELLIS_STATE_DIR=str(state))
    env.pop("TRELLIS_MODEL_PORT", None)
    started = time.monotonic()
    proc = subprocess.run([str(MODEL_SERVER), "--background", "--port", str(port)], env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"scripts/model-server.sh failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
    log(f"model server on port {port} ready in {time.monotonic() - started:.1f}s")
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        subprocess.run([str(MODEL_SERVER), "--stop", "--port", str(port)], env=env, capture_output=True, timeout=60)


@contextlib.contextmanager
def gateway(binary: Path, extra_env: dict[str, str] | None = None, keep: bool = False, root: Path | None = None) -> Iterator[conftest.Gateway]:
    """`trellis serve` on a free port (conftest.start_gateway) with a fresh data directory, or the one under `root`
    (kept), stopped with SIGTERM."""
    os.environ["TRELLIS_BIN"] = str(binary)
    if root is not None:
        keep = True
    root = root or Path(tempfile.mkdtemp(prefix="trellis-rag-gw-"))
    try:
        gw = conftest.start_gateway(root, extra_env=extra_env)
    except BaseException as e:  # pytest.fail raises an exception that is not an Exception subclass
        raise SystemExit(f"the gateway did not start: {e}") from None
    log(f"gateway {binary} on {gw.url} (data {gw.data_dir})")
    try:
        yield gw
    finally:
        code = conftest.stop_gateway(gw)
        if code != 0:
            log(f"warning: trellis serve exited with {code}")
        if keep:
            log(f"kept {root}")
        else:
            subprocess.run(["rm", "-rf", str(root)], check=False)


def admin(gw: conftest.Gateway) -> conftest.Admin:
    return conftest.Admin(gw.url, gw.admin_key)


def tenant_key(adm: conftest.Admin, tenant: str, scopes: list[str] | None = None) -> str:
    adm.post("/tenants", {"name": tenant})
    return adm.create_key(tenant, "bench", scopes or ["inference"])["key"]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        pass
    return f"{cpu}, {os.cpu_count()} vCPUs{mem}, {platform.system()} {platform.release()}"


# ------------------------------------------------------------------------------------------------ tokenizer

def is_cjk(ch: str) -> bool:
    v = ord(ch)
    return (
        0x3400 <= v <= 0x4DBF or 0x4E00 <= v <= 0x9FFF or 0xF900 <= v <= 0xFAFF or 0x20000 <= v <= 0x2FA1F
        or 0x3040 <= v <= 0x309F or 0x30A0 <= v <= 0x30FF or 0x31F0 <= v <= 0x31FF
        or 0xAC00 <= v <= 0xD7AF or 0x1100 <= v <= 0x11FF or 0x3130 <= v <= 0x318F
    )


def search_terms(text: str, for_query: bool) -> list[str]:
    """Mirrors SearchTokenizer (Sources/TrellisCore/Knowledge/SearchTokenizer.swift): NFKC, lower case, words of
    letters and digits, CJK runs as bigrams (and unigrams when indexing, or for a one-character query run)."""
    text = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    word: list[str] = []
    cjk: list[str] = []

    def flush_word() -> None:
        if word:
            out.append("".join(word))
            word.clear()

    def flush_cjk() -> None:
        if not cjk:
            return
        if len(cjk) == 1 or not for_query:
            out.extend(cjk)
        out.extend(cjk[i] + cjk[i + 1] for i in range(len(cjk) - 1))
        cjk.clear()

    for ch in text:
        if is_cjk(ch):
            flush_word()
            cjk.append(ch)
        elif ch.isalpha() or ch.isdigit() or unicodedata.numeric(ch, None) is not None:
            flush_cjk()
            if unicodedata.category(ch) == "Mn":
                continue
            word.append(ch)
        else:
            flush_word()
            flush_cjk()
    flush_word()
    flush_cjk()
    return out


STOPWORDS = set(
    "a an the and or of to in on at for by with from as is are was were be been it its this that these those i you "
    "my your we our us me he she they them what which who whom when where why how can could do does did will would "
    "shall should may might must if not no so than then there here into out up down about over under after before "
    "get got have has had any some all each per".split()
) | set("的 了 吗 呢 吧 啊 是 在 有 和 与 或 我 你 他 她 它 们 这 那 么 怎 么 什 么 能 会 要 就 都 也 还 把 被 给".split())


def content_terms(text: str, for_query: bool) -> set[str]:
    return {t for t in search_terms(text, for_query) if t not in STOPWORDS}
