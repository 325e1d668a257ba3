"""`trellis health`, the container image's HEALTHCHECK, follows the settings `serve` reads.

The image sets its listener through the environment (TRELLIS_SERVER_HOST, TRELLIS_SERVER_PORT); the health check
runs in the same container with the same environment, so it must probe that address, not a fixed
http://127.0.0.1:8080. Here a gateway is configured through the environment alone (no flags) on a port that is
not 8080, and `trellis health` is run with that same environment."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import Gateway, _gateway_env, free_port, gateway_binary, stop_gateway, store_url


def _health(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(gateway_binary()), "health", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def _lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


@pytest.fixture
def env_gateway(tmp_path: Path):
    """`trellis serve` configured by TRELLIS_* variables only, on a free port that is not 8080; yields
    (gateway, the environment it was started with)."""
    port = free_port()
    while port == 8080:
        port = free_port()
    admin_key = "op-health-" + os.urandom(8).hex()
    env = _gateway_env(
        admin_key,
        {
            "TRELLIS_SERVER_HOST": "127.0.0.1",
            "TRELLIS_SERVER_PORT": str(port),
            "TRELLIS_DATA_DIR": str(tmp_path / "data"),
        },
    )
    database = store_url(tmp_path)  # None: SQLite in the data dir
    if database:
        env["TRELLIS_STORE_URL"] = database
    log_path = tmp_path / "trellis.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(gateway_binary()), "serve"],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    gw = Gateway(url=f"http://127.0.0.1:{port}", admin_key=admin_key, data_dir=tmp_path / "data", log_path=log_path, proc=proc)
    deadline = time.monotonic() + float(os.environ.get("TRELLIS_E2E_READY_TIMEOUT", "60"))
    while True:
        if proc.poll() is not None:
            pytest.fail(f"trellis serve exited with {proc.returncode}:\n{gw.log_tail()}", pytrace=False)
        try:
            if requests.get(gw.url + "/readyz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            stop_gateway(gw)
            pytest.fail(f"GET /readyz not 200 on port {port}:\n{gw.log_tail()}", pytrace=False)
        time.sleep(0.1)
    try:
        yield gw, env
    finally:
        stop_gateway(gw)


def test_health_follows_the_port_serve_was_given_by_the_environment(env_gateway) -> None:
    gw, env = env_gateway
    for args in ((), ("--ready",)):
        result = _health(env, *args)
        assert result.returncode == 0, f"trellis health {' '.join(args)} exited {result.returncode}: {_lines(result)}"
        lines = _lines(result)
        assert len(lines) == 1 and gw.url in lines[0], lines


def test_health_with_nothing_listening_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    port = free_port()  # closed again: nothing listens on it
    env = _gateway_env("op-unused-admin-key", {"TRELLIS_SERVER_PORT": str(port), "TRELLIS_DATA_DIR": str(tmp_path)})
    result = _health(env)
    assert result.returncode == 1, (result.returncode, _lines(result))
    lines = _lines(result)
    assert len(lines) == 1, lines
    assert f"127.0.0.1:{port}" in lines[0] and "refused" in lines[0], lines
