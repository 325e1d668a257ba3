"""How `trellis serve` ends when nobody asked it to stop, and what it says when it starts.

- The port already in use: one clear log line naming the cause, and a non-zero exit status (not the
  "shutdown ended early" of a shutdown that was asked for, with status 0).
- Serving HTTPS: the `listening` line says https://."""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from pathlib import Path

from conftest import _gateway_env, gateway_binary


def _serve(tmp_path: Path, port: int, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, Path, str]:
    (tmp_path / "data").mkdir(parents=True, exist_ok=True)
    (tmp_path / "cwd").mkdir(parents=True, exist_ok=True)
    log_path = tmp_path / "trellis.log"
    admin_key = "op-" + secrets.token_urlsafe(24)
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [str(gateway_binary()), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(tmp_path / "data")],
            env=_gateway_env(admin_key, extra_env),
            cwd=tmp_path / "cwd",
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return proc, log_path, admin_key


def test_port_in_use_exits_non_zero_with_one_clear_line(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc, log_path, admin_key = _serve(tmp_path, port)
        try:
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    log = log_path.read_text(errors="replace")
    assert code != 0, f"exit status {code} with the port in use:\n{log}"
    lines = [line for line in log.splitlines() if "the gateway stopped on an error" in line]
    assert len(lines) == 1, log
    assert "in use" in lines[0], lines[0]
    assert "shutdown ended early" not in log
    assert admin_key not in log


def test_listening_line_says_https_when_serving_tls(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True)
    proc, log_path, _ = _serve(tmp_path, 0, {
        "TRELLIS_SERVER_TLS_CERTIFICATE_FILE": str(cert), "TRELLIS_SERVER_TLS_KEY_FILE": str(key)})
    try:
        deadline = time.monotonic() + 60
        while "listening" not in log_path.read_text(errors="replace"):
            assert proc.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, "no listening line within 60 s"
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    log = log_path.read_text(errors="replace")
    listening = [line for line in log.splitlines() if line.endswith(" listening")]
    assert len(listening) == 1, log
    assert "address=https://127.0.0.1:" in listening[0], listening[0]
