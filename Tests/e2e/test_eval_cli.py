"""`trellis eval`, the binary against a gateway of its own and a mock upstream (no model server needed).

- Upload: JSON Lines with Chinese items, a JSON array file, a JSON object with "items" on standard input; a bad
  JSON Lines line is refused naming its line, and an item the gateway refuses is named by its line too.
- `eval run`: two versions of one model, version 1 on an upstream model that answers "不知道" (right on one item of
  four), version 2 on one that echoes the question (right on all): the results table, the paired comparison line,
  `--fail-under` exits 1 naming the version below it, a threshold both reach exits 0; `--no-wait` then
  `eval status`, `eval runs`, `eval cancel` of an ended run.
- Tables are aligned by display width: with Chinese in a column, every column starts at the same terminal column
  on every row (East Asian Wide and Fullwidth characters take 2 columns); `eval items` shows the Chinese answers."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from conftest import Admin, Gateway, gateway_binary, start_gateway, stop_gateway

WRONG_ANSWER = "不知道"

ITEMS_JSONL = [
    {"input": "请重复这句话：北京是中国的首都。", "expected": "北京是中国的首都"},
    {"input": "请重复：长城很长，有两万多公里", "expected": "长城很长"},
    {"input": "Repeat after me: hello world", "expected": "hello world"},
    {"input": "如果你不知道，就说“不知道”", "expected": WRONG_ANSWER},
]


class _Handler(BaseHTTPRequestHandler):
    """Upstream model `echo` answers the last user message; any other model answers 不知道."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(200, {"object": "list", "data": [{"id": "echo", "object": "model"}, {"id": "wrong", "object": "model"}]})

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if not self.path.endswith("/chat/completions"):
            self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        users = [m for m in request.get("messages", []) if m.get("role") == "user"]
        question = users[-1]["content"] if users else ""
        answer = question if request.get("model") == "echo" else WRONG_ANSWER
        self._send(200, {
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000, "model": request.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        })


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    gw: Gateway = start_gateway(tmp_path_factory.mktemp("eval-cli"))
    try:
        admin = Admin(gw.url, gw.admin_key)
        admin.post("/tenants", {"name": "acme"})
        admin.post("/upstreams", {"name": "mock", "base_url": f"http://127.0.0.1:{server.server_address[1]}/v1"})
        admin.post("/models", {"name": "assistant", "spec": {"upstream": "mock", "model": "wrong"}})
        admin.post("/models/assistant/versions", {"spec": {"upstream": "mock", "model": "echo"}})
        yield {"TRELLIS_URL": gw.url, "TRELLIS_ADMIN_KEY": gw.admin_key}
    finally:
        stop_gateway(gw)
        server.shutdown()
        server.server_close()


def trellis(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    environment.update(env)
    return subprocess.run(
        [str(gateway_binary()), "eval", *args], env=environment, input=stdin, capture_output=True, text=True, timeout=120)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def width(text: str) -> int:
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def assert_aligned(table: list[str]) -> None:
    """Every column after the first starts at the header's terminal column on every row, after two spaces."""
    header = table[0]
    starts = [i for i in range(1, len(header)) if header[i] != " " and header[i - 1] == " "]
    for row in table[1:]:
        columns_at = {}  # terminal column -> index in row
        at = 0
        for i, c in enumerate(row):
            columns_at[at] = i
            at += width(c)
        for start in starts:
            assert start in columns_at, f"no character starts at column {start}:\n" + "\n".join(table)
            i = columns_at[start]
            assert row[i] != " " and row[i - 2:i] == "  ", f"column at {start} misaligned in {row!r}:\n" + "\n".join(table)


def cells(table: list[str]) -> list[list[str]]:
    """The rows of an aligned table cut at the header's column starts (terminal columns), cells stripped."""
    header = table[0]
    starts = [0] + [i for i in range(1, len(header)) if header[i] != " " and header[i - 1] == " "]
    out = []
    for row in table[1:]:
        cut, at, current = [], 0, ""
        for c in row:
            if len(cut) + 1 < len(starts) and at == starts[len(cut) + 1]:
                cut.append(current.strip())
                current = ""
            current += c
            at += width(c)
        out.append(cut + [current.strip()])
    return out


def table_after(output: str, first_column: str) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first_column))
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


@pytest.fixture(scope="module")
def uploaded(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("eval-files")
    jsonl = folder / "zh.jsonl"
    jsonl.write_text("\n".join(json.dumps(item, ensure_ascii=False) for item in ITEMS_JSONL[:2]) + "\n\n"
                     + "\n".join(json.dumps(item, ensure_ascii=False) for item in ITEMS_JSONL[2:]) + "\n")
    out = ok(trellis(env, "upload", "zh-faq", str(jsonl)))
    assert out.splitlines()[0].split() == ["NAME", "TENANT", "VERSION", "ITEMS"], out
    assert out.splitlines()[1].split() == ["zh-faq", "-", "1", "4"], out

    array = folder / "en.json"
    array.write_text(json.dumps([{"input": "Say yes", "expected": "yes"}, {"input": "Say no", "expected": ["no", "nope"]}]))
    out = ok(trellis(env, "upload", "en-faq", str(array)))
    assert out.splitlines()[1].split() == ["en-faq", "-", "1", "2"], out
    return "zh-faq"


def test_upload_reads_json_lines_json_and_stdin(env, uploaded):
    out = ok(trellis(env, "upload", "en-faq", "-", stdin=json.dumps({"items": [{"input": "Say ok", "expected": "ok"}]})))
    assert out.splitlines()[1].split() == ["en-faq", "-", "2", "1"], out

    listing = ok(trellis(env, "sets")).splitlines()
    assert listing[0].split() == ["NAME", "TENANT", "VERSION", "ITEMS"]
    rows = {line.split()[0]: line.split() for line in listing[1:]}
    assert rows["zh-faq"] == ["zh-faq", "-", "1", "4"] and rows["en-faq"] == ["en-faq", "-", "2", "1"], listing

    shown = ok(trellis(env, "show-set", "zh-faq"))
    items = table_after(shown, "ITEM")
    assert items[0].split() == ["ITEM", "INPUT", "EXPECTED"]
    assert "北京是中国的首都" in shown and "不知道" in shown
    assert_aligned(items)
    assert ok(trellis(env, "show-set", "en-faq", "--version", "1")).count("Say ") == 2


def test_a_bad_json_lines_line_is_named(env, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "一", "expected": "一"}\n\n{"input": "二", expected: "二"}\n')
    result = trellis(env, "upload", "broken", str(bad))
    assert result.returncode != 0 and "line 3" in result.stderr and "not valid JSON" in result.stderr, result.stderr

    not_item = tmp_path / "array-line.jsonl"
    not_item.write_text('{"input": "一"}\n["二"]\n')
    result = trellis(env, "upload", "broken", str(not_item))
    assert result.returncode != 0 and "line 2" in result.stderr and "object" in result.stderr, result.stderr

    refused = tmp_path / "refused.jsonl"
    refused.write_text('{"input": "一"}\n\n\n{"expected": "没有问题"}\n')
    result = trellis(env, "upload", "broken", str(refused))
    assert result.returncode != 0 and "line 4" in result.stderr and "items[1]" in result.stderr, result.stderr
    assert "broken" not in ok(trellis(env, "sets"))


def test_run_prints_results_comparison_and_fails_under_a_threshold(env, uploaded):
    failing = trellis(env, "run", uploaded, "--models", "assistant@1,assistant@2", "--tenant", "acme", "--fail-under", "0.5")
    assert failing.returncode == 1, f"exit {failing.returncode}\n{failing.stdout}\n{failing.stderr}"
    assert "4/8" in failing.stderr or "8/8" in failing.stderr, failing.stderr
    assert "Ctrl-C" in failing.stderr
    last = failing.stderr.strip().splitlines()[-1]
    assert "below 0.5" in last and "assistant@1 (0.25)" in last and "assistant@2" not in last, failing.stderr

    results = table_after(failing.stdout, "MODEL")
    assert results[0].split() == ["MODEL", "VERSION", "SCORE", "PASSED", "FAILED", "ERRORS", "P50_MS", "TOKENS", "COST"]
    rows = [line.split() for line in results[1:]]
    assert [r[:6] for r in rows] == [["assistant", "1", "0.25", "1", "3", "0"], ["assistant", "2", "1", "4", "0", "0"]], results
    assert_aligned(results)
    assert ("assistant@2 vs assistant@1: better 3, worse 0, same 1, mean difference +0.75 (95% CI ") in failing.stdout, failing.stdout
    run_id = failing.stdout.split()[1]
    assert run_id.startswith("evr_"), failing.stdout

    passing = trellis(env, "run", uploaded, "--models", "assistant@1", "--models", "assistant@2", "--tenant", "acme",
                      "--scorer", "contains", "--fail-under", "0.2")
    assert passing.returncode == 0, f"exit {passing.returncode}\n{passing.stdout}\n{passing.stderr}"
    assert ": done, 8/8" in passing.stdout.splitlines()[0], passing.stdout

    items = ok(trellis(env, "items", run_id, "--model", "assistant@2"))
    table = items.splitlines()
    assert table[0].split() == ["ITEM", "MODEL", "VERSION", "PASSED", "SCORE", "ANSWER"]
    assert len(table) == 5 and "请重复这句话：北京是中国的首都。" in items, items
    assert_aligned(table)
    failed = ok(trellis(env, "items", run_id, "--failed")).splitlines()
    assert len(failed) == 4 and all(WRONG_ANSWER in line and " assistant " in line for line in failed[1:]), failed
    narrow = ok(trellis(env, "items", run_id, "--model", "assistant@2", "--width", "10")).splitlines()
    answers = [row[-1] for row in cells(narrow)]
    assert all(width(a) <= 10 for a in answers) and any(a.endswith("…") for a in answers), narrow
    assert_aligned(narrow)

    status = ok(trellis(env, "status", run_id))
    assert status.splitlines()[0] == f"run {run_id} (set zh-faq v1): done, 8/8", status
    runs = ok(trellis(env, "runs")).splitlines()
    assert runs[0].split() == ["ID", "SET", "STATUS", "DONE", "TOTAL", "CREATED"]
    assert any(line.split()[:5] == [run_id, "zh-faq", "done", "8", "8"] for line in runs[1:]), runs
    cancelled = trellis(env, "cancel", run_id)
    assert cancelled.returncode != 0 and "already ended" in cancelled.stdout + cancelled.stderr, cancelled


def test_no_wait_returns_the_run_and_status_follows_it(env, uploaded):
    started = trellis(env, "run", uploaded, "--models", "assistant@2", "--tenant", "acme", "--no-wait", "--json")
    run = json.loads(ok(started))
    assert run["status"] in ("running", "done") and run["progress"]["total"] == 4, run
    status = {}
    for _ in range(60):
        status = json.loads(ok(trellis(env, "status", run["id"], "--json")))
        if status["status"] != "running":
            break
        threading.Event().wait(0.5)
    assert status["status"] == "done" and status["results"][0]["score"] == 1, status


def test_run_refusals_exit_2_and_bad_scorers_are_usage_errors(env, uploaded):
    missing = trellis(env, "run", "no-such-set", "--models", "assistant@2", "--tenant", "acme")
    assert missing.returncode == 2 and "no-such-set" in missing.stderr, missing
    for scorer in ("judge", "similarity:", "fuzzy", "contains:x"):
        bad = trellis(env, "run", uploaded, "--models", "assistant@2", "--scorer", scorer)
        assert bad.returncode not in (0, 1, 2) and "scorer" in bad.stderr, (scorer, bad)
    no_judge = trellis(env, "run", uploaded, "--models", "assistant@2", "--rubric", "准确")
    assert no_judge.returncode not in (0, 1, 2) and "--rubric" in no_judge.stderr, no_judge


def test_tables_align_wide_and_combining_text_and_keep_each_row_on_one_line(env, tmp_path):
    inputs = ["한국어 질문", "カタカナとひらがな", "ＦＵＬＬ　ＷＩＤＴＨ！", "cafe\u0301 ol\u0301e", "两行\n第二行\t制表", "plain", "\x1b[31mred\x1b[0m 红"]
    items = tmp_path / "mixed.jsonl"
    items.write_text("\n".join(json.dumps({"input": text, "expected": "答案"}, ensure_ascii=False) for text in inputs) + "\n")
    ok(trellis(env, "upload", "mixed", str(items)))
    shown = ok(trellis(env, "show-set", "mixed"))
    table = table_after(shown, "ITEM")
    assert len(table) == 1 + len(inputs), shown
    assert "两行 第二行 制表" in shown and "\x1b" not in shown and "[31mred[0m 红" in shown, shown
    assert_aligned(table)
    narrow = table_after(ok(trellis(env, "show-set", "mixed", "--width", "7")), "ITEM")
    assert narrow[0].split() == ["ITEM", "INPUT", "EXPECTED"], narrow
    shortened = [row[1] for row in cells(narrow)]
    assert all(width(text) <= 7 for text in shortened) and "한국어…" in shortened and "两行 …" in shortened and "plain" in shortened, narrow
    assert_aligned(narrow)
