"""Evaluation and router models against SmolLM2 on llama.cpp: two versions of one model that differ only in their
prompt, asked a golden set of Chinese and English items with the `contains` and `judge` scorers (the judge is the
same small model); the version built to be better scores higher. A router's cascade escalates an empty answer to
the real model. Another tenant's manage key sees none of it (404)."""

from __future__ import annotations

import time

import pytest
import requests

from conftest import MAX_TOKENS, UPSTREAM_CHAT_MODEL

MODEL = "e2e-eval-assistant"

# Version 2: answer briefly. Version 1: the same model told (with examples) to answer "OK" whatever is asked.
GOOD_PROMPT = {
    "messages": [
        {"role": "system", "content": "Answer the question with a short, correct answer."},
        {"role": "user", "content": "What is the capital of Peru?"},
        {"role": "assistant", "content": "Lima"},
    ]
}
BAD_PROMPT = {
    "messages": [
        {"role": "system", "content": "Whatever the question, reply only with: OK"},
        {"role": "user", "content": "What is the capital of Peru?"},
        {"role": "assistant", "content": "OK"},
        {"role": "user", "content": "一周有几天？"},
        {"role": "assistant", "content": "OK"},
    ]
}

ITEMS = [
    {"input": "What is the capital of France?", "expected": ["Paris"]},
    {"input": "What is the capital of Japan?", "expected": ["Tokyo"]},
    {"input": "What is the capital of Italy?", "expected": ["Rome"]},
    {"input": "What is the capital of Germany?", "expected": ["Berlin"]},
    {"input": "What is the capital of England?", "expected": ["London"]},
    {"input": "What is the capital of Spain?", "expected": ["Madrid"]},
    {"input": "What color is the clear sky on a sunny day?", "expected": ["blue"]},
    {"input": "How many days are in a week?", "expected": ["7", "seven"]},
    {"input": "What is 2 + 2?", "expected": ["4", "four"]},
    {"input": "Which animal says meow?", "expected": ["cat"]},
    {"input": "What is the largest planet in the solar system?", "expected": ["Jupiter"]},
    {"input": "What is the first month of the year?", "expected": ["January"]},
    {"input": "法国的首都是哪里？", "expected": ["巴黎", "Paris"]},
    {"input": "中国的首都是哪里？", "expected": ["北京", "Beijing"]},
    {"input": "日本的首都是哪里？", "expected": ["东京", "Tokyo"]},
    {"input": "一周有几天？", "expected": ["七", "7"]},
    {"input": "二加二等于几？", "expected": ["四", "4"]},
    {"input": "晴天的天空是什么颜色？", "expected": ["蓝", "blue"]},
    {"input": "一年有几个月？", "expected": ["十二", "12"]},
    {"input": "猫会发出什么声音？", "expected": ["喵", "meow"]},
    {"input": "What do bees make?", "expected": ["honey", "蜂蜜"]},
    {"input": "太阳从哪个方向升起？", "expected": ["东", "east"]},
]

PARAMS = {"temperature": 0, "max_tokens": MAX_TOKENS}


class Manage:
    """A tenant's manage key on /admin/v1."""

    def __init__(self, gateway_url: str, key: str) -> None:
        self.base = gateway_url + "/admin/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=60, **kwargs)


@pytest.fixture(scope="module")
def acme_manage(world) -> Manage:
    world.admin.post("/models", {"name": MODEL, "tenant": "acme", "spec": {"upstream": "local", "model": UPSTREAM_CHAT_MODEL,
                                                                         "params": PARAMS, "prompt": BAD_PROMPT}})
    world.admin.post(f"/models/{MODEL}/versions?tenant=acme",
                     {"spec": {"upstream": "local", "model": UPSTREAM_CHAT_MODEL, "params": PARAMS, "prompt": GOOD_PROMPT}})
    world.admin.post("/models", {"name": "e2e-grader", "tenant": "acme", "spec": {
        "upstream": "local", "model": UPSTREAM_CHAT_MODEL, "params": {"temperature": 0, "max_tokens": 48}}})
    key = world.admin.create_key("acme", "e2e-eval", ["manage", "inference"])["key"]
    return Manage(world.gateway.url, key)


@pytest.fixture(scope="module")
def globex_manage(world) -> Manage:
    return Manage(world.gateway.url, world.admin.create_key("globex", "e2e-eval", ["manage", "inference"])["key"])


def wait_for_end(manage: Manage, run_id: str, timeout: float = 900) -> dict:
    """Polls the run (it works in the background) until it is no longer running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = manage.call("GET", f"/eval-runs/{run_id}")
        assert r.status_code == 200, r.text
        if r.json()["status"] != "running":
            return r.json()
        time.sleep(0.5)
    pytest.fail(f"run {run_id} still running after {timeout} s")


def poll_usage(world, path: str, holds, timeout: float = 30) -> dict:
    """The usage report at `path` once `holds(report)` (usage rows are written in batches, about once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        report = world.admin.get(path)
        if holds(report) or time.monotonic() > deadline:
            return report
        time.sleep(0.25)


def test_the_better_prompt_scores_higher_on_a_golden_set(acme_manage, world):
    assert len(ITEMS) >= 20
    created = acme_manage.call("POST", "/eval-sets", json={"name": "e2e-golden", "items": ITEMS})
    assert created.status_code == 201, created.text
    assert created.json()["items"] == len(ITEMS)
    started = acme_manage.call("POST", "/eval-runs", json={
        "set": "e2e-golden", "models": [f"{MODEL}@1", f"{MODEL}@2"], "concurrency": 2,
        "scorers": [{"type": "contains"},
                    {"type": "judge", "model": "e2e-grader", "rubric": "The answer must name the right thing; a bare 'OK' is wrong."}],
    })
    assert started.status_code == 202, started.text
    run = wait_for_end(acme_manage, started.json()["id"])
    assert run["status"] == "done", run
    assert run["progress"] == {"done": 2 * len(ITEMS), "total": 2 * len(ITEMS)}
    by_version = {r["version"]: r for r in run["results"]}
    assert by_version[2]["score"] > by_version[1]["score"], run["results"]
    assert by_version[1]["errors"] == 0 and by_version[2]["errors"] == 0
    assert by_version[2]["tokens"] > 0 and by_version[2]["p50_ms"] > 0

    items = acme_manage.call("GET", f"/eval-runs/{run['id']}/items").json()["data"]
    assert len(items) == 2 * len(ITEMS)

    def contains_passes(version: int) -> int:
        return sum(1 for i in items if i["version"] == version
                   for s in i["scores"] if s["scorer"] == "contains" and s["passed"])

    assert contains_passes(2) > contains_passes(1), [(i["version"], i["answer"]) for i in items]
    # Every answer was graded by the judge, with a score in [0, 1] and a reason.
    for item in items:
        judge = next(s for s in item["scores"] if s["scorer"] == "judge")
        assert 0 <= judge["score"] <= 1 and judge["reason"], item
    comparison = run["comparison"]
    assert comparison["a"] == f"{MODEL}@1" and comparison["b"] == f"{MODEL}@2"
    assert comparison["better"] > comparison["worse"] and comparison["mean_difference"] > 0, comparison
    assert comparison["ci_low"] <= comparison["mean_difference"] <= comparison["ci_high"]

    # Every call was metered as evaluation traffic.
    def eval_requests(report: dict) -> int:
        return sum(r["requests"] for r in report["data"] if r["source"] == "eval")

    usage = poll_usage(world, "/usage?group_by=source&tenant=acme", lambda r: eval_requests(r) >= 4 * len(ITEMS))
    assert eval_requests(usage) >= 4 * len(ITEMS), usage


def test_another_tenant_cannot_see_or_run_the_set(acme_manage, globex_manage):
    created = acme_manage.call("POST", "/eval-sets", json={"name": "e2e-private", "items": ITEMS[:2]})
    assert created.status_code == 201
    started = acme_manage.call("POST", "/eval-runs", json={"set": "e2e-private", "models": [f"{MODEL}@2"],
                                                           "scorers": [{"type": "contains"}]})
    run_id = started.json()["id"]
    assert globex_manage.call("GET", "/eval-sets/e2e-private").status_code == 404
    assert globex_manage.call("GET", f"/eval-runs/{run_id}").status_code == 404
    assert globex_manage.call("GET", f"/eval-runs/{run_id}/items").status_code == 404
    assert globex_manage.call("DELETE", f"/eval-runs/{run_id}").status_code == 404
    foreign = globex_manage.call("POST", "/eval-runs", json={"set": "e2e-private", "models": ["assistant"],
                                                             "scorers": [{"type": "contains"}]})
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "not_found"
    assert all(r["name"] != "e2e-private" for r in globex_manage.call("GET", "/eval-sets").json()["data"])
    assert wait_for_end(acme_manage, run_id)["status"] == "done"


def test_a_cascade_escalates_an_empty_answer_to_the_real_model(world, client):
    # The small child: SmolLM2 made to end its answer before its first word (its end-of-turn token favoured).
    world.admin.post("/models", {"name": "e2e-silent", "tenant": "acme", "spec": {
        "upstream": "local", "model": UPSTREAM_CHAT_MODEL, "params": {"temperature": 0, "logit_bias": {"2": 100}}}})
    world.admin.post("/models", {"name": "e2e-frugal", "tenant": "acme", "spec": {"router": {
        "routes": [{"when": {"max_prompt_tokens": 200}, "model": "e2e-silent"}],
        "default": "private-bot",
        "cascade": {"escalate_to": "private-bot", "when": ["empty", "refusal"]},
    }}})
    raw = client.chat.completions.with_raw_response.create(
        model="e2e-frugal", messages=[{"role": "user", "content": "Name a color."}], max_tokens=MAX_TOKENS)
    assert raw.headers["x-trellis-routed-to"] == "private-bot@1"
    answer = raw.parse()
    assert answer.model == "e2e-frugal"
    assert answer.choices[0].message.content.strip(), "the real model answered"
    # A stream is not cascaded: the first child's (empty) stream is the answer.
    with client.chat.completions.with_streaming_response.create(
            model="e2e-frugal", messages=[{"role": "user", "content": "Name a color."}], max_tokens=MAX_TOKENS, stream=True) as stream:
        assert stream.headers["x-trellis-routed-to"] == "e2e-silent@1"
        list(stream.iter_lines())

    def routed_of(report: dict) -> dict:
        return {r["routed_to"]: r["requests"] for r in report["data"]}

    # One row per client request, naming the child that answered: the escalated request is private-bot's (its row
    # carries the empty first answer's tokens too), the stream e2e-silent's.
    usage = poll_usage(world, "/usage?group_by=model,routed_to&tenant=acme&model=e2e-frugal",
                       lambda r: routed_of(r).get("e2e-silent@1", 0) >= 1 and routed_of(r).get("private-bot@1", 0) >= 1)
    assert routed_of(usage) == {"e2e-silent@1": 1, "private-bot@1": 1}, usage
