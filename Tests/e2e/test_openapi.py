"""Contract test: docs/openapi.yaml against the live gateway.

1. The document is a valid OpenAPI 3.1 description, every 4xx/5xx answer uses the shared error schema, and every
   response declares `x-request-id` (chat and embeddings successes also `x-trellis-model-version`).
2. A representative call of every operation, successes and error cases alike (401, 403, 404, 400, 409, 413,
   415, 429, ...), is sent to the gateway; the status must be documented for that operation, the documented
   headers present, and the body valid against the documented schema (streams: every event; JSON Lines: every
   line).
3. Route coverage both ways: every documented path answers its documented methods (401 without a key proves
   the route is there) and 405 with `Allow` = exactly the documented methods for the others; a list of
   undocumented paths (including routes api.md plans but the server does not have yet) answers 404.

Schemas are checked with jsonschema's Draft 2020-12 validator (OpenAPI 3.1's dialect), `$ref`s resolved inside
the document. This module makes its own tenants (`oa-one`, `oa-two`, and `oa-quota` with a spent monthly quota),
knowledge bases and keys (some with limits), so the rest of the suite is unaffected.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator, FormatChecker

from conftest import REPO, UPSTREAM_CHAT_MODEL, UPSTREAM_EMBED_MODEL, World

SPEC_PATH = REPO / "docs" / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
# Methods probed for 405 on every documented path (TRACE is left out: proxies and clients treat it specially).
PROBED_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "HEAD")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
RUN = secrets.token_hex(3)  # makes created names unique per run
MESSAGES = [{"role": "user", "content": "Say hi."}]


# --------------------------------------------------------------------------- the spec


def load_spec() -> dict:
    with open(SPEC_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not RFC3339.match(value):
            raise ValueError(f"not RFC 3339: {value!r}")
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True

    return checker


class Contract:
    """The loaded spec, with lookups and response checks."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.formats = _format_checker()

    def resolve(self, obj: Any) -> Any:
        seen = 0
        while isinstance(obj, dict) and "$ref" in obj:
            ref = obj["$ref"]
            assert ref.startswith("#/"), f"only local $refs are expected: {ref}"
            target: Any = self.spec
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            obj = target
            seen += 1
            assert seen < 20, f"$ref loop at {ref}"
        return obj

    def operations(self) -> list[tuple[str, str, dict]]:
        out = []
        for template, item in self.spec["paths"].items():
            for method in HTTP_METHODS:
                if method in item:
                    out.append((method.upper(), template, item[method]))
        return out

    def operation(self, method: str, template: str) -> dict:
        item = self.spec["paths"].get(template)
        assert item is not None, f"path {template} is not in docs/openapi.yaml"
        op = item.get(method.lower())
        assert op is not None, f"{method} {template} is not in docs/openapi.yaml"
        return op

    def validate(self, schema: dict, instance: Any, what: str) -> None:
        root = dict(schema)
        root["components"] = self.spec["components"]
        validator = Draft202012Validator(root, format_checker=self.formats)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            detail = "\n".join(
                f"  at {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}" for e in errors[:8]
            )
            raise AssertionError(f"{what} does not match the spec:\n{detail}\nbody: {json.dumps(instance)[:1500]}")

    def check_response(self, response_obj: dict, r: requests.Response, what: str) -> None:
        """Headers and body of `r` against one (resolved) OpenAPI response object."""
        for name, header in (response_obj.get("headers") or {}).items():
            header = self.resolve(header)
            value = r.headers.get(name)
            if value is None:
                assert not header.get("required"), f"{what}: documented header {name} is missing: {dict(r.headers)}"
                continue
            self.validate(header.get("schema", {}), value, f"{what}: header {name}")

        content = response_obj.get("content") or {}
        if r.request.method == "HEAD":
            return
        if not content:
            assert r.content == b"", f"{what}: a body where none is documented: {r.text[:300]}"
            return
        ctype = (r.headers.get("content-type") or "").split(";")[0].strip().lower()
        assert ctype in content, f"{what}: content type {ctype!r} is not documented (documented: {sorted(content)})"
        media = content[ctype]
        if ctype == "application/json" or ctype.endswith("+json"):
            try:
                body = r.json()
            except ValueError as e:
                raise AssertionError(f"{what}: body is not JSON ({e}): {r.text[:500]}") from None
            self.validate(media.get("schema", {}), body, what)
        elif ctype == "text/event-stream":
            self.check_event_stream(media, r.text, what)
        else:
            self.validate(media.get("schema", {}), r.text, what)
            if "x-ndjson-line-schema" in media:
                self.check_json_lines(media["x-ndjson-line-schema"], r.text, what)

    def check_json_lines(self, schema: dict, text: str, what: str) -> None:
        assert text == "" or text.endswith("\n"), f"{what}: JSON Lines must end with a newline: {text[-200:]!r}"
        for i, line in enumerate(text.splitlines()):
            try:
                value = json.loads(line)
            except ValueError:
                raise AssertionError(f"{what}: line {i} is not JSON: {line[:300]}") from None
            self.validate(schema, value, f"{what}: line {i}")

    def check_event_stream(self, media: dict, text: str, what: str) -> None:
        events: list[str] = []
        data: list[str] = []
        for line in text.replace("\r\n", "\n").split("\n"):
            if line == "":
                if data:
                    events.append("\n".join(data))
                    data = []
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        if data:
            events.append("\n".join(data))
        # A chat stream ends with data: [DONE]; a stream documented with `x-sse-done: false` (the Responses API's)
        # has none.
        if media.get("x-sse-done", True):
            assert events and events[-1] == "[DONE]", f"{what}: a stream must end with data: [DONE]: {text[-500:]}"
            events = events[:-1]
        assert events, f"{what}: an empty stream"
        assert "[DONE]" not in events, f"{what}: [DONE] where none belongs: {text[:1000]}"
        schema = media.get("x-sse-data-schema")
        assert schema, f"{what}: text/event-stream without x-sse-data-schema"
        for i, event in enumerate(events):
            try:
                value = json.loads(event)
            except ValueError:
                raise AssertionError(f"{what}: event {i} is not JSON: {event[:300]}") from None
            self.validate(schema, value, f"{what}: event {i}")

    def check(self, method: str, template: str, r: requests.Response) -> dict:
        """`r` is a documented answer of the operation: its status, headers and body. Returns the response object."""
        op = self.operation(method, template)
        status = str(r.status_code)
        documented = sorted(op["responses"])
        assert status in op["responses"], (
            f"{method} {template} answered {status}, which is not documented for it (documented: {documented}): "
            f"{r.text[:500]}"
        )
        response_obj = self.resolve(op["responses"][status])
        self.check_response(response_obj, r, f"{method} {template} -> {status}")
        return response_obj


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(load_spec())


# --------------------------------------------------------------------------- static checks


def test_spec_is_valid_openapi_3_1():
    from openapi_spec_validator import validate

    spec = load_spec()
    assert str(spec.get("openapi", "")).startswith("3.1."), spec.get("openapi")
    validate(spec)


def _schema_uses_error(contract: Contract, schema: dict) -> bool:
    target = "#/components/schemas/ErrorResponse"
    if schema.get("$ref") == target:
        return True
    return any(part.get("$ref") == target for part in schema.get("allOf", []))


# Error answers that are deliberately not OpenAI-shaped: readiness answers load balancers and probes.
# /readyz's 503 is its status document; /mcp's protocol errors are JSON-RPC errors, as MCP clients read them (its
# HTTP-level refusals, 401/403/413/415, are the shared shape).
NOT_OPENAI_SHAPED = {("GET", "/readyz", "503")} | {(m, "/mcp", s) for m in ("POST", "DELETE") for s in ("400", "404")}


def test_every_error_and_header_is_documented_the_same_way(contract: Contract):
    problems = []
    for method, template, op in contract.operations():
        assert op.get("operationId"), f"{method} {template} has no operationId"
        for status, response in op["responses"].items():
            response = contract.resolve(response)
            headers = response.get("headers") or {}
            if "x-request-id" not in headers:
                problems.append(f"{method} {template} {status}: no x-request-id header")
            if int(status) >= 400 and (method, template, status) not in NOT_OPENAI_SHAPED:
                schema = (response.get("content") or {}).get("application/json", {}).get("schema", {})
                if not _schema_uses_error(contract, schema):
                    problems.append(f"{method} {template} {status}: not the shared ErrorResponse schema")
            elif template in ("/v1/chat/completions", "/v1/embeddings"):
                if "x-trellis-model-version" not in headers:
                    problems.append(f"{method} {template} {status}: no x-trellis-model-version header")
    for name in ("MethodNotAllowed", "RouteNotFound"):
        response = contract.spec["components"]["responses"][name]
        assert "x-request-id" in response["headers"], name
        assert _schema_uses_error(contract, response["content"]["application/json"]["schema"]), name
    assert not problems, "\n".join(problems)


def test_security_is_declared_per_operation(contract: Contract):
    schemes = set(contract.spec["components"]["securitySchemes"])
    assert {"operatorKey", "tenantKey"} <= schemes
    for method, template, op in contract.operations():
        declared = {name for req in op.get("security", contract.spec.get("security", [])) for name in req}
        if template.startswith("/v1/") or template == "/mcp":
            assert declared == {"tenantKey"}, (method, template, declared)
        elif template.startswith("/admin/v1/"):
            assert "operatorKey" in declared and declared <= {"operatorKey", "tenantKey"}, (method, template, declared)
        else:
            assert op.get("security") == [], (method, template, "operations routes take no key")


# --------------------------------------------------------------------------- the live gateway


@dataclass
class OAWorld:
    world: World
    keys: dict[str, str] = field(default_factory=dict)  # role -> bearer token
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.world.gateway.url

    def send(
        self,
        method: str,
        path: str,
        auth: str | None = None,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        h = dict(headers or {})
        if auth is not None:
            h["Authorization"] = f"Bearer {self.keys.get(auth, auth)}"
        if json_body is not None:
            data = json.dumps(json_body).encode()
            h.setdefault("Content-Type", "application/json")
        return requests.request(method, self.url + path, data=data, headers=h, params=params, timeout=120)


@pytest.fixture(scope="module")
def oa(world: World) -> OAWorld:
    """Two tenants of this module's own, keys for each role, and their models."""
    admin = world.admin
    w = OAWorld(world=world)
    w.keys["op"] = world.gateway.admin_key
    w.keys["bad"] = "trk-" + "A" * 43
    for name in ("oa-one", "oa-two"):
        admin.post("/tenants", {"name": name})
    w.keys["infer"] = admin.create_key("oa-one", "oa-infer", ["inference"])["key"]
    w.keys["manage"] = admin.create_key("oa-one", "oa-manage", ["manage"])["key"]
    w.keys["manage2"] = admin.create_key("oa-two", "oa-manage", ["manage"])["key"]
    w.ids["revoke"] = admin.create_key("oa-one", "oa-to-revoke", ["inference"])["id"]
    spec = {"upstream": "local", "model": UPSTREAM_CHAT_MODEL, "params": PARAMS}
    admin.post("/models", {"name": "oa-bot", "tenant": "oa-one", "spec": spec})
    for tenant in ("oa-one", "oa-two"):
        admin.post("/models", {"name": "oa-dup", "tenant": tenant, "spec": spec})
    # The library: prompts and adapters of each kind of namespace (oa-one's, both tenants', shared).
    admin.post("/upstreams", {"name": "oa-vllm", "base_url": "http://127.0.0.1:9/v1", "kind": "vllm"})
    admin.post("/prompts", {"name": "oa-greet", "tenant": "oa-one", **GREET, "labels": ["production"]})
    admin.post("/prompts", {"name": "oa-shared-p", **PLAIN_PROMPT})
    admin.post("/adapters", {"name": "oa-lora", "tenant": "oa-one", **ADAPTER})
    admin.post("/adapters", {"name": "oa-shared-a", **ADAPTER})
    for tenant in ("oa-one", "oa-two"):
        admin.post("/prompts", {"name": "oa-dup-p", "tenant": tenant, **PLAIN_PROMPT})
        admin.post("/adapters", {"name": "oa-dup-a", "tenant": tenant, **ADAPTER})
    # Models that use them: a library prompt followed by label, an inline prompt, an adapter with a pinned prompt.
    admin.post("/models", {"name": "oa-prompted", "tenant": "oa-one",
                           "spec": {**spec, "prompt": {"name": "oa-greet", "label": "production"}}})
    admin.post("/models", {"name": "oa-inline", "tenant": "oa-one", "spec": {**spec, "prompt": INLINE_PROMPT}})
    admin.post("/models", {"name": "oa-adapted", "tenant": "oa-one",
                           "spec": {"adapter": "oa-lora", "prompt": {"name": "oa-greet", "version": 1}, "params": PARAMS}})
    # Governance: keys of other scopes and with limits, and a tenant whose monthly quota cannot fit a request.
    w.keys["infer2"] = admin.create_key("oa-two", "oa-infer", ["inference"])["key"]
    w.keys["usage"] = admin.create_key("oa-one", "oa-usage", ["usage"])["key"]
    w.keys["limited"] = admin.post("/tenants/oa-one/keys", {"name": "oa-limited", "tpm": 1})["key"]
    w.keys["metered"] = admin.post("/tenants/oa-one/keys", {"name": "oa-metered", "rpm": 100000, "tpm": 100000000})["key"]
    admin.post("/tenants", {"name": "oa-quota", "monthly_token_quota": 1})
    w.keys["quota"] = admin.create_key("oa-quota", "oa-quota", ["inference"])["key"]
    # Stored responses: two of oa-one's (one for a case to delete) and one of oa-two's.
    for role, name in (("infer", "resp"), ("infer", "resp-del"), ("infer2", "resp2")):
        r = w.send("POST", "/v1/responses", role, json_body=RESPONSE)
        assert r.status_code == 200, r.text
        w.ids[name] = r.json()["id"]
    # MCP sessions of oa-one's inference key: one to use, one for a case to close.
    for name in ("mcp", "mcp-del"):
        r = w.send("POST", "/mcp", "infer", json_body=MCP_INIT)
        assert r.status_code == 200, r.text
        w.ids[name] = r.headers["mcp-session-id"]
    # Answers to rate: one of each tenant's.
    for role, name in (("infer", "req"), ("infer2", "req2")):
        r = w.send("POST", "/v1/chat/completions", role, json_body=CHAT)
        assert r.status_code == 200, r.text
        w.ids[name] = r.headers["x-request-id"]
    # Knowledge bases: oa-one's keyword-only `oa-kb` and embedded `oa-kb-vec`, and oa-two's own `oa-kb`.
    admin.post("/knowledge-bases", {"name": "oa-kb", "tenant": "oa-one"})
    admin.post("/knowledge-bases", {"name": "oa-kb", "tenant": "oa-two"})
    admin.post("/knowledge-bases", {"name": "oa-kb-vec", "tenant": "oa-one",
                                    "embedding": {"upstream": "local", "model": UPSTREAM_EMBED_MODEL}})
    w.ids["doc"] = admin.post("/knowledge-bases/oa-kb/documents?tenant=oa-one", GRACE_DOC)["id"]
    w.ids["doc-del"] = admin.post("/knowledge-bases/oa-kb/documents?tenant=oa-one",
                                  {"title": "Scratch", "text": "A document that a case deletes."})["id"]
    admin.post("/knowledge-bases/oa-kb/documents?tenant=oa-two", {"title": "Other", "text": "oa-two's own text."})
    w.ids["doc-vec"] = admin.post("/knowledge-bases/oa-kb-vec/documents", GRACE_DOC)["id"]
    admin.post("/models", {"name": "oa-rag", "tenant": "oa-one",
                           "spec": {**spec, "knowledge": {"bases": ["oa-kb"], "top_k": 2, "mode": "keyword"}}})
    # A router model over oa-bot, and a model that captures its interactions: one answer of it rated and corrected.
    admin.post("/models", {"name": "oa-router", "tenant": "oa-one", "spec": {"router": ROUTER}})
    admin.post("/models", {"name": "oa-captured", "tenant": "oa-one", "spec": {**spec, "capture": {"enabled": True}}})
    r = w.send("POST", "/v1/chat/completions", "infer", json_body={**CHAT, "model": "oa-captured"})
    assert r.status_code == 200, r.text
    r = w.send("POST", "/v1/feedback", "infer", json_body={"request_id": r.headers["x-request-id"], "rating": 1, "correction": "Hello!"})
    assert r.status_code == 201, r.text
    # Evaluation: oa-one's set and a run on it; a shared set; and a run for oa-quota, whose spent quota keeps it
    # waiting out 429s (30 s at a time, six times per question) so that it is still running when a case cancels it.
    admin.post("/eval-sets", {"name": "oa-golden", "tenant": "oa-one", "items": EVAL_ITEMS})
    admin.post("/eval-sets", {"name": "oa-shared-golden", "items": EVAL_ITEMS * 4})
    admin.post("/eval-sets", {"name": "oa-shared-tiny", "items": EVAL_ITEMS[:1]})
    w.ids["run"] = admin.post("/eval-runs", {"set": "oa-golden", "tenant": "oa-one", "models": ["oa-bot@1"],
                                             "scorers": [{"type": "contains"}]}, expect=(202,))["id"]
    w.ids["run-slow"] = admin.post("/eval-runs", {"set": "oa-shared-golden", "tenant": "oa-quota", "models": ["assistant"],
                                                  "scorers": [{"type": "exact"}], "concurrency": 1}, expect=(202,))["id"]
    return w


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    template: str
    expect: int | tuple[int, ...]
    auth: str | None = None  # a role of OAWorld.keys, or None for no Authorization header
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] | None = None
    body: Any = None
    raw: bytes | None = None
    content_type: str | None = None
    code: str | None = None  # the error code expected, when it matters
    headers: dict[str, str] = field(default_factory=dict)  # request headers; values `<name>` are filled like params


SPEC_OK = {"upstream": "local", "model": UPSTREAM_CHAT_MODEL}
PARAMS = {"max_tokens": 4, "temperature": 0}
CHAT = {"model": "assistant", "messages": MESSAGES, "max_tokens": 4}
# oa-greet's version 1: a declared variable with a default, one without, and the {{input}} template.
GREET = {
    "messages": [
        {"role": "system", "content": "You greet {{who}} in {{ lang }}."},
        {"role": "user", "content": "Reply briefly to: {{input}}"},
    ],
    "variables": {"who": {}, "lang": {"default": "English"}},
}
PLAIN_PROMPT = {"messages": [{"role": "system", "content": "Be brief."}]}
INLINE_PROMPT = {"messages": [{"role": "system", "content": "Answer in {{lang}}."}],
                 "variables": {"lang": {"description": "a language"}}}
ADAPTER = {"upstream": "local", "base_model": UPSTREAM_CHAT_MODEL, "served_model": UPSTREAM_CHAT_MODEL}
BIG_PROMPT = json.dumps({"name": "oa-x", "messages": [{"role": "system", "content": "a" * (1 << 20)}]}).encode()
BIG_V1 = b" " * ((8 << 20) + 1)  # over the default server.max_body_bytes
BIG_ADMIN = json.dumps({"name": "a" * 70_000}).encode()  # over the administration limit (64 KiB)
BIG_DOC = b"a" * ((16 << 20) + 1)  # over the default knowledge.max_document_bytes
GRACE_DOC = {
    "title": "Premium due dates and grace period",
    "text": "# Premium due dates\n\n## Grace period\nIf a premium is not paid by the due date, you have a grace period "
    "of 30 days during which your cover continues.\n\n## Lapse\nIf the premium is still unpaid, the policy lapses.",
    "content_type": "text/markdown",
    "metadata": {"source": "handbook"},
}
RESPONSE = {"model": "assistant", "input": "Say hi.", "max_output_tokens": 4}
MCP_INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "oa", "version": "1"}}}
MCP_META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
RAG_CHAT = {"model": "oa-rag", "messages": [{"role": "user", "content": "How long is the grace period?"}], "max_tokens": 4}
ROUTER = {"routes": [{"when": {"match": "(?i)contract|合同"}, "model": "oa-bot@1"}, {"when": {"max_prompt_tokens": 2000}, "model": "oa-bot"}],
          "default": "oa-bot", "cascade": {"escalate_to": "assistant", "when": ["empty"]}}
ROUTER_CHAT = {"model": "oa-router", "messages": MESSAGES, "max_tokens": 4}
EVAL_ITEMS = [{"input": "Say hi.", "expected": "hi"}, {"messages": MESSAGES, "expected": ["hello", "hi"], "metadata": {"k": "v"}}]

CASES = [
    # operations
    Case("healthz", "GET", "/healthz", 200),
    Case("readyz", "GET", "/readyz", 200),
    Case("metrics", "GET", "/metrics", 200),
    # /v1/models
    Case("models-list", "GET", "/v1/models", 200, "infer"),
    Case("models-list-no-key", "GET", "/v1/models", 401, code="invalid_api_key"),
    Case("models-list-unknown-key", "GET", "/v1/models", 401, "bad", code="invalid_api_key"),
    Case("models-list-operator", "GET", "/v1/models", 403, "op", code="permission_denied"),
    Case("models-list-no-inference-scope", "GET", "/v1/models", 403, "manage"),
    Case("model-shared", "GET", "/v1/models/{model}", 200, "infer", {"model": "assistant"}),
    Case("model-own", "GET", "/v1/models/{model}", 200, "infer", {"model": "oa-bot"}),
    Case("model-missing", "GET", "/v1/models/{model}", 404, "infer", {"model": "no-such-model"}, code="model_not_found"),
    Case("model-foreign", "GET", "/v1/models/{model}", 404, "infer", {"model": "private-bot"}, code="model_not_found"),
    Case("model-no-key", "GET", "/v1/models/{model}", 401, None, {"model": "assistant"}),
    Case("model-operator", "GET", "/v1/models/{model}", 403, "op", {"model": "assistant"}),
    # /v1/chat/completions
    Case("chat", "POST", "/v1/chat/completions", 200, "infer", body=CHAT),
    Case("chat-own-model-pinned", "POST", "/v1/chat/completions", 200, "infer",
         body={"model": "oa-bot@1", "messages": MESSAGES, "user": "u1", "variables": None}),
    Case("chat-prompted", "POST", "/v1/chat/completions", 200, "infer",
         body={"model": "oa-prompted", "messages": MESSAGES, "variables": {"who": "Ada"}}),
    Case("chat-prompted-stream", "POST", "/v1/chat/completions", 200, "infer",
         body={"model": "oa-prompted", "messages": MESSAGES, "variables": {"who": "Ada", "lang": "French"}, "stream": True}),
    Case("chat-inline-prompt", "POST", "/v1/chat/completions", 200, "infer",
         body={"model": "oa-inline", "messages": MESSAGES, "variables": {"lang": "French"}}),
    Case("chat-adapter", "POST", "/v1/chat/completions", 200, "infer",
         body={"model": "oa-adapted", "messages": MESSAGES, "variables": {"who": "Ada"}}),
    Case("chat-missing-variable", "POST", "/v1/chat/completions", 400, "infer",
         body={"model": "oa-prompted", "messages": MESSAGES}, code="missing_variable"),
    Case("chat-inline-missing-variable", "POST", "/v1/chat/completions", 400, "infer",
         body={"model": "oa-inline", "messages": MESSAGES, "variables": {}}, code="missing_variable"),
    Case("chat-unknown-variable", "POST", "/v1/chat/completions", 400, "infer",
         body={"model": "oa-inline", "messages": MESSAGES, "variables": {"lang": "French", "mood": "calm"}},
         code="unknown_variable"),
    Case("chat-variables-without-prompt", "POST", "/v1/chat/completions", 400, "infer",
         body={"model": "oa-bot", "messages": MESSAGES, "variables": {"x": "y"}}, code="unknown_variable"),
    Case("chat-prompt-without-user-turn", "POST", "/v1/chat/completions", 400, "infer",
         body={"model": "oa-prompted", "messages": [{"role": "system", "content": "Hi."}], "variables": {"who": "Ada"}}),
    Case("chat-stream", "POST", "/v1/chat/completions", 200, "infer",
         body={**CHAT, "stream": True, "stream_options": {"include_usage": True}}),
    Case("chat-stream-no-usage", "POST", "/v1/chat/completions", 200, "infer", body={**CHAT, "stream": True}),
    Case("chat-missing-messages", "POST", "/v1/chat/completions", 400, "infer", body={"model": "assistant"},
         code="missing_required_parameter"),
    Case("chat-empty-messages", "POST", "/v1/chat/completions", 400, "infer", body={"model": "assistant", "messages": []},
         code="invalid_value"),
    Case("chat-bad-role", "POST", "/v1/chat/completions", 400, "infer",
         body={"model": "assistant", "messages": [{"role": "robot", "content": "x"}]}, code="invalid_value"),
    Case("chat-bad-stream", "POST", "/v1/chat/completions", 400, "infer", body={**CHAT, "stream": "yes"}),
    Case("chat-bad-variables", "POST", "/v1/chat/completions", 400, "infer", body={**CHAT, "variables": {"a": 1}}),
    Case("chat-not-json", "POST", "/v1/chat/completions", 400, "infer", raw=b"{", content_type="application/json",
         code="invalid_json"),
    Case("chat-empty-body", "POST", "/v1/chat/completions", 400, "infer", raw=b"", content_type="application/json"),
    Case("chat-array-body", "POST", "/v1/chat/completions", 400, "infer", body=[1]),
    Case("chat-missing-model", "POST", "/v1/chat/completions", 404, "infer", body={**CHAT, "model": "no-such-model"},
         code="model_not_found"),
    Case("chat-missing-version", "POST", "/v1/chat/completions", 404, "infer", body={**CHAT, "model": "assistant@99"}),
    Case("chat-foreign-model", "POST", "/v1/chat/completions", 404, "infer", body={**CHAT, "model": "private-bot"}),
    Case("chat-no-key", "POST", "/v1/chat/completions", 401, body=CHAT),
    Case("chat-operator", "POST", "/v1/chat/completions", 403, "op", body=CHAT),
    Case("chat-too-large", "POST", "/v1/chat/completions", 413, "infer", raw=BIG_V1, content_type="application/json",
         code="request_too_large"),
    Case("chat-form-body", "POST", "/v1/chat/completions", 415, "infer", raw=b"a=b",
         content_type="application/x-www-form-urlencoded", code="unsupported_media_type"),
    Case("chat-rag", "POST", "/v1/chat/completions", 200, "infer", body=RAG_CHAT),
    Case("chat-rag-stream", "POST", "/v1/chat/completions", 200, "infer", body={**RAG_CHAT, "stream": True}),
    Case("chat-metered", "POST", "/v1/chat/completions", 200, "metered", body=CHAT),
    Case("chat-over-tpm", "POST", "/v1/chat/completions", 429, "limited", body=CHAT, code="rate_limit_exceeded"),
    Case("chat-over-quota", "POST", "/v1/chat/completions", 429, "quota", body=CHAT, code="insufficient_quota"),
    Case("chat-router", "POST", "/v1/chat/completions", 200, "infer", body=ROUTER_CHAT),
    Case("chat-router-match", "POST", "/v1/chat/completions", 200, "infer",
         body={**ROUTER_CHAT, "messages": [{"role": "user", "content": "Read this CONTRACT."}]}),
    Case("chat-router-stream", "POST", "/v1/chat/completions", 200, "infer", body={**ROUTER_CHAT, "stream": True}),
    # /v1/embeddings
    Case("embeddings", "POST", "/v1/embeddings", 200, "infer", body={"model": "embedder", "input": "hello"}),
    Case("embeddings-list", "POST", "/v1/embeddings", 200, "infer", body={"model": "embedder", "input": ["a", "b"]}),
    Case("embeddings-missing-input", "POST", "/v1/embeddings", 400, "infer", body={"model": "embedder"},
         code="missing_required_parameter"),
    Case("embeddings-empty-input", "POST", "/v1/embeddings", 400, "infer", body={"model": "embedder", "input": []}),
    Case("embeddings-missing-model", "POST", "/v1/embeddings", 404, "infer", body={"model": "nope", "input": "x"}),
    Case("embeddings-no-key", "POST", "/v1/embeddings", 401, body={"model": "embedder", "input": "x"}),
    Case("embeddings-operator", "POST", "/v1/embeddings", 403, "op", body={"model": "embedder", "input": "x"}),
    Case("embeddings-form-body", "POST", "/v1/embeddings", 415, "infer", raw=b"a=b",
         content_type="application/x-www-form-urlencoded"),
    # A chat-only model asked for embeddings: llama.cpp answers 500, relayed as 502 (400 if it ever says 4xx).
    Case("embeddings-chat-model", "POST", "/v1/embeddings", (400, 502), "infer", body={"model": "assistant", "input": "x"}),
    Case("embeddings-metered", "POST", "/v1/embeddings", 200, "metered", body={"model": "embedder", "input": "hello"}),
    Case("embeddings-router", "POST", "/v1/embeddings", 400, "infer", body={"model": "oa-router", "input": "x"}, code="invalid_value"),
    Case("embeddings-over-tpm", "POST", "/v1/embeddings", 429, "limited",
         body={"model": "embedder", "input": "a sentence of several tokens"}, code="rate_limit_exceeded"),
    Case("embeddings-over-quota", "POST", "/v1/embeddings", 429, "quota",
         body={"model": "embedder", "input": "a sentence of several tokens"}, code="insufficient_quota"),
    # /v1/responses
    Case("response", "POST", "/v1/responses", 200, "infer", body={**RESPONSE, "instructions": "Be brief.", "metadata": {"k": "v"}}),
    Case("response-stream", "POST", "/v1/responses", 200, "infer", body={**RESPONSE, "stream": True}),
    Case("response-rag", "POST", "/v1/responses", 200, "infer", body={"model": "oa-rag", "input": "How long is the grace period?",
                                                                       "max_output_tokens": 4}),
    Case("response-pinned", "POST", "/v1/responses", 200, "infer", body={**RESPONSE, "model": "oa-bot@1"}),
    Case("response-router", "POST", "/v1/responses", 200, "infer", body={**RESPONSE, "model": "oa-router"}),
    Case("response-prompted", "POST", "/v1/responses", 200, "infer",
         body={**RESPONSE, "model": "oa-prompted", "variables": {"who": "Ada"}}),
    Case("response-adapter", "POST", "/v1/responses", 200, "infer", body={**RESPONSE, "model": "oa-adapted", "variables": {"who": "Ada"}}),
    Case("response-continued", "POST", "/v1/responses", 200, "infer", body={**RESPONSE, "previous_response_id": "<resp>"}),
    Case("response-previous-foreign", "POST", "/v1/responses", 404, "infer", body={**RESPONSE, "previous_response_id": "<resp2>"},
         code="previous_response_not_found"),
    Case("response-builtin-tool", "POST", "/v1/responses", 400, "infer", body={**RESPONSE, "tools": [{"type": "web_search"}]},
         code="unsupported_parameter"),
    Case("response-unknown-field", "POST", "/v1/responses", 400, "infer", body={**RESPONSE, "modle": "x"}, code="unknown_parameter"),
    Case("response-missing-input", "POST", "/v1/responses", 400, "infer", body={"model": "assistant"},
         code="missing_required_parameter"),
    Case("response-missing-model", "POST", "/v1/responses", 404, "infer", body={**RESPONSE, "model": "no-such-model"},
         code="model_not_found"),
    Case("response-no-key", "POST", "/v1/responses", 401, body=RESPONSE),
    Case("response-operator", "POST", "/v1/responses", 403, "op", body=RESPONSE),
    Case("response-get", "GET", "/v1/responses/{id}", 200, "infer", {"id": "<resp>"}),
    Case("response-get-foreign", "GET", "/v1/responses/{id}", 404, "infer", {"id": "<resp2>"}, code="not_found"),
    Case("response-get-no-key", "GET", "/v1/responses/{id}", 401, None, {"id": "<resp>"}),
    Case("response-get-manage-key", "GET", "/v1/responses/{id}", 403, "manage", {"id": "<resp>"}),
    Case("response-delete", "DELETE", "/v1/responses/{id}", 200, "infer", {"id": "<resp-del>"}),
    Case("response-delete-foreign", "DELETE", "/v1/responses/{id}", 404, "infer", {"id": "<resp2>"}),
    Case("response-delete-missing", "DELETE", "/v1/responses/{id}", 404, "infer", {"id": "resp_000000000000000000000000"}),
    # /mcp
    Case("mcp-initialize", "POST", "/mcp", 200, "infer", body=MCP_INIT),
    Case("mcp-tools", "POST", "/mcp", 200, "infer", body={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
         headers={"Mcp-Session-Id": "<mcp>", "MCP-Protocol-Version": "2025-11-25"}),
    Case("mcp-call", "POST", "/mcp", 200, "infer",
         body={"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": "knowledge_search", "arguments": {"knowledge_base": "oa-kb", "query": "grace"}}},
         headers={"Mcp-Session-Id": "<mcp>"}),
    Case("mcp-notification", "POST", "/mcp", 202, "infer", body={"jsonrpc": "2.0", "method": "notifications/initialized"},
         headers={"Mcp-Session-Id": "<mcp>"}),
    Case("mcp-discover", "POST", "/mcp", 200, "infer",
         body={"jsonrpc": "2.0", "id": 4, "method": "server/discover", "params": {"_meta": MCP_META}},
         headers={"MCP-Protocol-Version": "2026-07-28"}),
    Case("mcp-unknown-method", "POST", "/mcp", 404, "infer",
         body={"jsonrpc": "2.0", "id": 5, "method": "no/such", "params": {"_meta": MCP_META}},
         headers={"MCP-Protocol-Version": "2026-07-28"}),
    Case("mcp-no-session", "POST", "/mcp", 400, "infer", body={"jsonrpc": "2.0", "id": 6, "method": "ping"}),
    Case("mcp-unknown-session", "POST", "/mcp", 404, "infer", body={"jsonrpc": "2.0", "id": 7, "method": "ping"},
         headers={"Mcp-Session-Id": "mcp-0000"}),
    Case("mcp-not-json", "POST", "/mcp", 400, "infer", raw=b"{", content_type="application/json"),
    Case("mcp-no-key", "POST", "/mcp", 401, body=MCP_INIT, code="invalid_api_key"),
    Case("mcp-operator", "POST", "/mcp", 403, "op", body=MCP_INIT),
    Case("mcp-manage-key", "POST", "/mcp", 403, "manage", body=MCP_INIT),
    Case("mcp-close", "DELETE", "/mcp", 204, "infer", headers={"Mcp-Session-Id": "<mcp-del>"}),
    Case("mcp-close-unknown", "DELETE", "/mcp", 404, "infer", headers={"Mcp-Session-Id": "mcp-0000"}),
    Case("mcp-close-no-session", "DELETE", "/mcp", 400, "infer"),
    # /v1/feedback
    Case("feedback", "POST", "/v1/feedback", 201, "infer", body={"request_id": "<req>", "rating": 1, "comment": "good"}),
    Case("feedback-correction", "POST", "/v1/feedback", 201, "usage",
         body={"request_id": "<req>", "rating": -1, "comment": None, "correction": "Hi!"}),
    Case("feedback-zero", "POST", "/v1/feedback", 400, "infer", body={"request_id": "<req>", "rating": 0}, code="invalid_value"),
    Case("feedback-bad-rating", "POST", "/v1/feedback", 400, "infer", body={"request_id": "<req>", "rating": 5}),
    Case("feedback-missing-request", "POST", "/v1/feedback", 400, "infer", body={"rating": 1},
         code="missing_required_parameter"),
    Case("feedback-missing-rating", "POST", "/v1/feedback", 400, "infer", body={"request_id": "<req>"},
         code="missing_required_parameter"),
    Case("feedback-unknown-field", "POST", "/v1/feedback", 400, "infer", body={"request_id": "<req>", "rating": 1, "stars": 5},
         code="unknown_parameter"),
    Case("feedback-unknown-request", "POST", "/v1/feedback", 404, "infer",
         body={"request_id": "req_000000000000000000000000", "rating": 1}, code="not_found"),
    Case("feedback-foreign-request", "POST", "/v1/feedback", 404, "infer", body={"request_id": "<req2>", "rating": 1},
         code="not_found"),
    Case("feedback-no-key", "POST", "/v1/feedback", 401, body={"request_id": "<req>", "rating": 1}),
    Case("feedback-operator", "POST", "/v1/feedback", 403, "op", body={"request_id": "<req>", "rating": 1},
         code="permission_denied"),
    Case("feedback-manage-key", "POST", "/v1/feedback", 403, "manage", body={"request_id": "<req>", "rating": 1}),
    Case("feedback-too-large", "POST", "/v1/feedback", 413, "infer", raw=BIG_PROMPT, content_type="application/json"),
    Case("feedback-form", "POST", "/v1/feedback", 415, "infer", raw=b"rating=1",
         content_type="application/x-www-form-urlencoded"),
    # /v1/knowledge-bases/{kb}/search
    Case("search", "POST", "/v1/knowledge-bases/{kb}/search", 200, "infer", {"kb": "oa-kb"}, body={"query": "grace period"}),
    Case("search-manage", "POST", "/v1/knowledge-bases/{kb}/search", 200, "manage", {"kb": "oa-kb"},
         body={"query": "lapse", "top_k": 1, "mode": "keyword"}),
    Case("search-keyword-only-kb", "POST", "/v1/knowledge-bases/{kb}/search", 200, "infer", {"kb": "oa-kb"},
         body={"query": "grace", "mode": "hybrid"}),
    Case("search-vector", "POST", "/v1/knowledge-bases/{kb}/search", 200, "infer", {"kb": "oa-kb-vec"},
         body={"query": "unpaid premium", "mode": "vector", "top_k": 2}),
    Case("search-hybrid", "POST", "/v1/knowledge-bases/{kb}/search", 200, "infer", {"kb": "oa-kb-vec"},
         body={"query": "grace period"}),
    Case("search-vector-without-embedding", "POST", "/v1/knowledge-bases/{kb}/search", 400, "infer", {"kb": "oa-kb"},
         body={"query": "grace", "mode": "vector"}, code="invalid_value"),
    Case("search-bad-mode", "POST", "/v1/knowledge-bases/{kb}/search", 400, "infer", {"kb": "oa-kb"},
         body={"query": "grace", "mode": "semantic"}, code="invalid_value"),
    Case("search-bad-top-k", "POST", "/v1/knowledge-bases/{kb}/search", 400, "infer", {"kb": "oa-kb"},
         body={"query": "grace", "top_k": 51}, code="invalid_value"),
    Case("search-missing-query", "POST", "/v1/knowledge-bases/{kb}/search", 400, "infer", {"kb": "oa-kb"}, body={},
         code="missing_required_parameter"),
    Case("search-unknown-field", "POST", "/v1/knowledge-bases/{kb}/search", 400, "infer", {"kb": "oa-kb"},
         body={"query": "grace", "k": 1}, code="unknown_parameter"),
    Case("search-foreign", "POST", "/v1/knowledge-bases/{kb}/search", 404, "infer2", {"kb": "oa-kb-vec"},
         body={"query": "grace"}, code="not_found"),
    Case("search-missing", "POST", "/v1/knowledge-bases/{kb}/search", 404, "infer", {"kb": "no-such"}, body={"query": "x"}),
    Case("search-no-key", "POST", "/v1/knowledge-bases/{kb}/search", 401, None, {"kb": "oa-kb"}, body={"query": "x"}),
    Case("search-operator", "POST", "/v1/knowledge-bases/{kb}/search", 403, "op", {"kb": "oa-kb"}, body={"query": "x"}),
    Case("search-usage-key", "POST", "/v1/knowledge-bases/{kb}/search", 403, "usage", {"kb": "oa-kb"}, body={"query": "x"},
         code="permission_denied"),
    Case("search-too-large", "POST", "/v1/knowledge-bases/{kb}/search", 413, "infer", {"kb": "oa-kb"}, raw=BIG_ADMIN,
         content_type="application/json"),
    Case("search-form", "POST", "/v1/knowledge-bases/{kb}/search", 415, "infer", {"kb": "oa-kb"}, raw=b"query=x",
         content_type="application/x-www-form-urlencoded"),
    # /admin/v1/tenants
    Case("tenant-create", "POST", "/admin/v1/tenants", 201, "op", body={"name": f"oa-new-{RUN}"}),
    Case("tenant-create-taken", "POST", "/admin/v1/tenants", 409, "op", body={"name": "oa-one"}, code="conflict"),
    Case("tenant-create-bad-name", "POST", "/admin/v1/tenants", 400, "op", body={"name": "Not_Valid"}, code="invalid_value"),
    Case("tenant-create-unknown-field", "POST", "/admin/v1/tenants", 400, "op", body={"name": "oa-x", "limits": {}},
         code="unknown_parameter"),
    Case("tenant-create-missing-name", "POST", "/admin/v1/tenants", 400, "op", body={},
         code="missing_required_parameter"),
    Case("tenant-create-not-json", "POST", "/admin/v1/tenants", 400, "op", raw=b"nope", content_type="application/json"),
    Case("tenant-create-too-large", "POST", "/admin/v1/tenants", 413, "op", raw=BIG_ADMIN, content_type="application/json"),
    Case("tenant-create-form", "POST", "/admin/v1/tenants", 415, "op", raw=b"name=x",
         content_type="application/x-www-form-urlencoded"),
    Case("tenant-create-manage-key", "POST", "/admin/v1/tenants", 403, "manage", body={"name": "oa-x"}),
    Case("tenant-create-no-key", "POST", "/admin/v1/tenants", 401, body={"name": "oa-x"}),
    Case("tenants-list", "GET", "/admin/v1/tenants", 200, "op"),
    Case("tenants-list-manage", "GET", "/admin/v1/tenants", 200, "manage"),
    Case("tenants-list-inference-key", "GET", "/admin/v1/tenants", 403, "infer"),
    Case("tenants-list-unknown-key", "GET", "/admin/v1/tenants", 401, "bad"),
    Case("tenant-get", "GET", "/admin/v1/tenants/{tenant}", 200, "op", {"tenant": "oa-one"}),
    Case("tenant-get-own", "GET", "/admin/v1/tenants/{tenant}", 200, "manage", {"tenant": "oa-one"}),
    Case("tenant-get-foreign", "GET", "/admin/v1/tenants/{tenant}", 404, "manage2", {"tenant": "oa-one"}, code="not_found"),
    Case("tenant-get-missing", "GET", "/admin/v1/tenants/{tenant}", 404, "op", {"tenant": "no-such-tenant"}),
    Case("tenant-get-inference-key", "GET", "/admin/v1/tenants/{tenant}", 403, "infer", {"tenant": "oa-one"}),
    Case("tenant-create-with-settings", "POST", "/admin/v1/tenants", 201, "op",
         body={"name": f"oa-lim-{RUN}", "rpm": 600, "tpm": None, "concurrency": 8, "monthly_token_quota": 1000000,
               "capture": {"enabled": True}}),
    Case("tenant-create-bad-setting", "POST", "/admin/v1/tenants", 400, "op", body={"name": "oa-x", "rpm": 0},
         code="invalid_value"),
    Case("tenant-patch", "PATCH", "/admin/v1/tenants/{tenant}", 200, "op", {"tenant": "oa-two"},
         body={"rpm": 100000, "tpm": None, "concurrency": 64, "monthly_token_quota": None,
               "capture": {"enabled": True, "retention_days": 7}}),
    Case("tenant-patch-nothing", "PATCH", "/admin/v1/tenants/{tenant}", 200, "op", {"tenant": "oa-one"}, body={}),
    Case("tenant-patch-clear", "PATCH", "/admin/v1/tenants/{tenant}", 200, "op", {"tenant": "oa-one"},
         body={"rpm": None, "capture": None}),
    Case("tenant-patch-bad-limit", "PATCH", "/admin/v1/tenants/{tenant}", 400, "op", {"tenant": "oa-one"},
         body={"tpm": 0}, code="invalid_value"),
    Case("tenant-patch-bad-capture", "PATCH", "/admin/v1/tenants/{tenant}", 400, "op", {"tenant": "oa-one"},
         body={"capture": {"enabled": "yes"}}, code="invalid_value"),
    Case("tenant-patch-capture-field", "PATCH", "/admin/v1/tenants/{tenant}", 400, "op", {"tenant": "oa-one"},
         body={"capture": {"enabled": True, "days": 3}}, code="unknown_parameter"),
    Case("tenant-patch-name", "PATCH", "/admin/v1/tenants/{tenant}", 400, "op", {"tenant": "oa-one"},
         body={"name": "oa-renamed"}, code="unknown_parameter"),
    Case("tenant-patch-not-json", "PATCH", "/admin/v1/tenants/{tenant}", 400, "op", {"tenant": "oa-one"}, raw=b"{",
         content_type="application/json", code="invalid_json"),
    Case("tenant-patch-missing", "PATCH", "/admin/v1/tenants/{tenant}", 404, "op", {"tenant": "no-such"}, body={}),
    Case("tenant-patch-manage-key", "PATCH", "/admin/v1/tenants/{tenant}", 403, "manage", {"tenant": "oa-one"},
         body={"rpm": 1}, code="permission_denied"),
    Case("tenant-patch-no-key", "PATCH", "/admin/v1/tenants/{tenant}", 401, None, {"tenant": "oa-one"}, body={}),
    Case("tenant-patch-too-large", "PATCH", "/admin/v1/tenants/{tenant}", 413, "op", {"tenant": "oa-one"}, raw=BIG_ADMIN,
         content_type="application/json"),
    Case("tenant-patch-form", "PATCH", "/admin/v1/tenants/{tenant}", 415, "op", {"tenant": "oa-one"}, raw=b"rpm=1",
         content_type="application/x-www-form-urlencoded"),
    # keys
    Case("key-create", "POST", "/admin/v1/tenants/{tenant}/keys", 201, "op", {"tenant": "oa-one"},
         body={"name": "k", "scopes": ["inference", "usage"], "models": ["oa-*"], "rpm": 60, "tpm": 1000,
               "expires_at": "2099-01-01T00:00:00Z"}),
    Case("key-create-defaults", "POST", "/admin/v1/tenants/{tenant}/keys", 201, "manage", {"tenant": "oa-one"}, body={}),
    Case("key-create-concurrency", "POST", "/admin/v1/tenants/{tenant}/keys", 201, "op", {"tenant": "oa-two"},
         body={"name": "k", "concurrency": 4}),
    Case("key-create-bad-concurrency", "POST", "/admin/v1/tenants/{tenant}/keys", 400, "op", {"tenant": "oa-one"},
         body={"concurrency": 0}, code="invalid_value"),
    Case("key-create-foreign", "POST", "/admin/v1/tenants/{tenant}/keys", 404, "manage2", {"tenant": "oa-one"}, body={}),
    Case("key-create-missing-tenant", "POST", "/admin/v1/tenants/{tenant}/keys", 404, "op", {"tenant": "no-such"}, body={}),
    Case("key-create-bad-scope", "POST", "/admin/v1/tenants/{tenant}/keys", 400, "op", {"tenant": "oa-one"},
         body={"scopes": ["root"]}, code="invalid_value"),
    Case("key-create-past-expiry", "POST", "/admin/v1/tenants/{tenant}/keys", 400, "op", {"tenant": "oa-one"},
         body={"expires_at": "2000-01-01T00:00:00Z"}),
    Case("key-create-unknown-field", "POST", "/admin/v1/tenants/{tenant}/keys", 400, "op", {"tenant": "oa-one"},
         body={"key": "trk-mine"}, code="unknown_parameter"),
    Case("key-create-inference-key", "POST", "/admin/v1/tenants/{tenant}/keys", 403, "infer", {"tenant": "oa-one"}, body={}),
    Case("key-create-form", "POST", "/admin/v1/tenants/{tenant}/keys", 415, "op", {"tenant": "oa-one"}, raw=b"x",
         content_type="text/html"),
    Case("keys-list", "GET", "/admin/v1/tenants/{tenant}/keys", 200, "op", {"tenant": "oa-one"}),
    Case("keys-list-own", "GET", "/admin/v1/tenants/{tenant}/keys", 200, "manage", {"tenant": "oa-one"}),
    Case("keys-list-foreign", "GET", "/admin/v1/tenants/{tenant}/keys", 404, "manage2", {"tenant": "oa-one"}),
    Case("keys-list-inference-key", "GET", "/admin/v1/tenants/{tenant}/keys", 403, "infer", {"tenant": "oa-one"}),
    Case("key-revoke", "DELETE", "/admin/v1/keys/{id}", 200, "op", {"id": "<revoke>"}),
    Case("key-revoke-foreign", "DELETE", "/admin/v1/keys/{id}", 404, "manage2", {"id": "<revoke>"}),
    Case("key-revoke-missing", "DELETE", "/admin/v1/keys/{id}", 404, "op", {"id": "key_0000000000000000"}),
    Case("key-revoke-inference-key", "DELETE", "/admin/v1/keys/{id}", 403, "infer", {"id": "<revoke>"}),
    Case("key-revoke-no-key", "DELETE", "/admin/v1/keys/{id}", 401, None, {"id": "<revoke>"}),
    # upstreams
    Case("upstream-create", "POST", "/admin/v1/upstreams", 201, "op",
         body={"name": f"oa-up-{RUN}", "base_url": "https://10.255.255.1/v1", "kind": "openai", "labels": ["external"],
               "api_key_env": "OA_NOT_SET", "timeouts": {"connect_ms": 1000}}),
    # The default egress policy allows private ranges only: an outside host must be listed in egress.allow.
    Case("upstream-create-egress-denied", "POST", "/admin/v1/upstreams", 400, "op",
         body={"name": "oa-u", "base_url": "https://models.invalid/v1"}, code="egress_denied"),
    Case("upstream-create-priced", "POST", "/admin/v1/upstreams", 201, "op",
         body={"name": f"oa-up-p-{RUN}", "base_url": "http://127.0.0.1:9/v1", "kind": "vllm",
               "pricing": {"models": {"*": {"input_per_1k": 0.5, "output_per_1k": 1.5}}}}),
    Case("upstream-create-gpu-priced", "POST", "/admin/v1/upstreams", 201, "op",
         body={"name": f"oa-up-g-{RUN}", "base_url": "http://127.0.0.1:9/v1", "pricing": {"gpu_hour": 2.5, "tokens_per_gpu_hour": 1e6}}),
    Case("upstream-create-half-gpu-price", "POST", "/admin/v1/upstreams", 400, "op",
         body={"name": "oa-u", "base_url": "http://x", "pricing": {"gpu_hour": 2.5}}, code="invalid_value"),
    Case("upstream-create-bad-pricing", "POST", "/admin/v1/upstreams", 400, "op",
         body={"name": "oa-u", "base_url": "http://x", "pricing": {"per_token": 1}}, code="unknown_parameter"),
    Case("upstream-create-taken", "POST", "/admin/v1/upstreams", 409, "op",
         body={"name": "local", "base_url": "http://127.0.0.1:9/v1"}),
    Case("upstream-create-bad-url", "POST", "/admin/v1/upstreams", 400, "op", body={"name": "oa-u", "base_url": "ftp://x"}),
    Case("upstream-create-bad-timeouts", "POST", "/admin/v1/upstreams", 400, "op",
         body={"name": "oa-u", "base_url": "http://x", "timeouts": {"read_ms": 1}}, code="unknown_parameter"),
    Case("upstream-create-manage-key", "POST", "/admin/v1/upstreams", 403, "manage",
         body={"name": "oa-u", "base_url": "http://x"}),
    Case("upstreams-list", "GET", "/admin/v1/upstreams", 200, "op"),
    Case("upstreams-list-manage-key", "GET", "/admin/v1/upstreams", 403, "manage"),
    Case("upstream-get", "GET", "/admin/v1/upstreams/{name}", 200, "op", {"name": "local"}),
    Case("upstream-get-missing", "GET", "/admin/v1/upstreams/{name}", 404, "op", {"name": "no-such"}),
    Case("upstream-get-manage-key", "GET", "/admin/v1/upstreams/{name}", 403, "manage", {"name": "local"}),
    # models
    Case("model-create", "POST", "/admin/v1/models", 201, "op",
         body={"name": f"oa-m-{RUN}", "tenant": "oa-two", "description": "d",
               "spec": {"deployments": [{"upstream": "local", "model": UPSTREAM_CHAT_MODEL, "weight": 2}],
                        "fallbacks": [{"upstream": "local", "model": UPSTREAM_CHAT_MODEL}],
                        "params": {"temperature": 0.5}}}),
    Case("model-create-own", "POST", "/admin/v1/models", 201, "manage", body={"name": f"oa-own-{RUN}", "spec": SPEC_OK}),
    Case("model-create-shared-name", "POST", "/admin/v1/models", 409, "op",
         body={"name": "assistant", "tenant": "oa-one", "spec": SPEC_OK}, code="conflict"),
    Case("model-create-taken", "POST", "/admin/v1/models", 409, "manage", body={"name": "oa-bot", "spec": SPEC_OK}),
    Case("model-create-unknown-upstream", "POST", "/admin/v1/models", 400, "op",
         body={"name": "oa-x", "tenant": "oa-one", "spec": {"upstream": "nope", "model": "m"}}),
    Case("model-create-bad-spec", "POST", "/admin/v1/models", 400, "op",
         body={"name": "oa-x", "tenant": "oa-one", "spec": {**SPEC_OK, "adapter": "a"}}),
    Case("model-create-missing-spec", "POST", "/admin/v1/models", 400, "op", body={"name": "oa-x"},
         code="missing_required_parameter"),
    Case("model-create-rag", "POST", "/admin/v1/models", 201, "manage",
         body={"name": f"oa-mr-{RUN}", "spec": {**SPEC_OK, "knowledge": {"bases": ["oa-kb", "oa-kb-vec"], "top_k": 3, "mode": "hybrid",
                                                                           "min_score": 0, "template": "Use:\n{{context}}"},
                                                 "capture": {"enabled": True, "retention_days": 30}}}),
    Case("model-create-rag-shared", "POST", "/admin/v1/models", 400, "op",
         body={"name": "oa-x", "spec": {**SPEC_OK, "knowledge": {"bases": ["oa-kb"]}}}, code="invalid_value"),
    Case("model-create-rag-foreign-kb", "POST", "/admin/v1/models", 400, "manage2",
         body={"name": "oa-x", "spec": {**SPEC_OK, "knowledge": {"bases": ["oa-kb-vec"]}}}, code="invalid_value"),
    Case("model-create-rag-bad-template", "POST", "/admin/v1/models", 400, "manage",
         body={"name": "oa-x", "spec": {**SPEC_OK, "knowledge": {"bases": ["oa-kb"], "template": "no placeholder"}}},
         code="invalid_value"),
    Case("model-create-inline-prompt", "POST", "/admin/v1/models", 201, "op",
         body={"name": f"oa-mi-{RUN}", "tenant": "oa-two", "spec": {**SPEC_OK, "prompt": INLINE_PROMPT}}),
    Case("model-create-shared-prompt", "POST", "/admin/v1/models", 201, "manage2",
         body={"name": f"oa-ms-{RUN}", "spec": {**SPEC_OK, "prompt": {"name": "oa-shared-p"}}}),
    Case("model-create-adapter", "POST", "/admin/v1/models", 201, "manage",
         body={"name": f"oa-ma-{RUN}", "spec": {"adapter": "oa-lora", "prompt": {"name": "oa-greet", "label": "production"},
                                                 "fallbacks": [{"upstream": "local", "model": UPSTREAM_CHAT_MODEL}]}}),
    Case("model-create-unknown-adapter", "POST", "/admin/v1/models", 400, "op",
         body={"name": "oa-x", "tenant": "oa-one", "spec": {"adapter": "no-such"}}, code="invalid_value"),
    Case("model-create-foreign-adapter", "POST", "/admin/v1/models", 400, "manage2",
         body={"name": "oa-x", "spec": {"adapter": "oa-lora"}}, code="invalid_value"),
    Case("model-create-unknown-prompt", "POST", "/admin/v1/models", 400, "op",
         body={"name": "oa-x", "tenant": "oa-one", "spec": {**SPEC_OK, "prompt": {"name": "no-such"}}}, code="invalid_value"),
    Case("model-create-missing-prompt-version", "POST", "/admin/v1/models", 400, "op",
         body={"name": "oa-x", "tenant": "oa-one", "spec": {**SPEC_OK, "prompt": {"name": "oa-greet", "version": 99}}}),
    Case("model-create-missing-prompt-label", "POST", "/admin/v1/models", 400, "op",
         body={"name": "oa-x", "tenant": "oa-one", "spec": {**SPEC_OK, "prompt": {"name": "oa-greet", "label": "nope"}}}),
    Case("model-create-prompt-version-and-label", "POST", "/admin/v1/models", 400, "op",
         body={"name": "oa-x", "tenant": "oa-one",
               "spec": {**SPEC_OK, "prompt": {"name": "oa-greet", "version": 1, "label": "production"}}}),
    Case("model-create-prompt-unknown-field", "POST", "/admin/v1/models", 400, "op",
         body={"name": "oa-x", "tenant": "oa-one", "spec": {**SPEC_OK, "prompt": {"name": "oa-greet", "tag": "x"}}},
         code="unknown_parameter"),
    Case("model-create-inline-undeclared", "POST", "/admin/v1/models", 400, "op",
         body={"name": "oa-x", "tenant": "oa-one",
               "spec": {**SPEC_OK, "prompt": {"messages": [{"role": "system", "content": "Hi {{who}}."}]}}},
         code="undeclared_variable"),
    Case("model-create-adapter-and-model", "POST", "/admin/v1/models", 400, "op",
         body={"name": "oa-x", "tenant": "oa-one", "spec": {"adapter": "oa-lora", "model": UPSTREAM_CHAT_MODEL}}),
    Case("model-create-foreign-tenant", "POST", "/admin/v1/models", 404, "manage2",
         body={"name": "oa-x", "tenant": "oa-one", "spec": SPEC_OK}),
    Case("model-create-inference-key", "POST", "/admin/v1/models", 403, "infer", body={"name": "oa-x", "spec": SPEC_OK}),
    Case("model-create-router", "POST", "/admin/v1/models", 201, "manage",
         body={"name": f"oa-mrt-{RUN}", "spec": {"router": {**ROUTER, "routes": [
             {"when": {"min_prompt_tokens": 0, "max_prompt_tokens": None, "has_tools": True, "has_images": False}, "model": "oa-bot"},
             {"when": {}, "model": "oa-bot@1"}], "cascade": {"escalate_to": "assistant"}}, "capture": {"enabled": True}}}),
    Case("model-create-router-nested", "POST", "/admin/v1/models", 400, "manage",
         body={"name": "oa-x", "spec": {"router": {"default": "oa-router"}}}, code="invalid_value"),
    Case("model-create-router-missing-child", "POST", "/admin/v1/models", 400, "manage",
         body={"name": "oa-x", "spec": {"router": {"default": "oa-bot@99"}}}, code="invalid_value"),
    Case("model-create-router-foreign-child", "POST", "/admin/v1/models", 400, "manage2",
         body={"name": "oa-x", "spec": {"router": {"default": "oa-bot"}}}, code="invalid_value"),
    Case("model-create-router-and-upstream", "POST", "/admin/v1/models", 400, "manage",
         body={"name": "oa-x", "spec": {"router": {"default": "oa-bot"}, **SPEC_OK}}, code="invalid_value"),
    Case("model-create-router-bad-pattern", "POST", "/admin/v1/models", 400, "manage",
         body={"name": "oa-x", "spec": {"router": {"routes": [{"when": {"match": "(unclosed"}, "model": "oa-bot"}], "default": "oa-bot"}}},
         code="invalid_value"),
    Case("model-create-router-unknown-condition", "POST", "/admin/v1/models", 400, "manage",
         body={"name": "oa-x", "spec": {"router": {"routes": [{"when": {"max_tokens": 3}, "model": "oa-bot"}], "default": "oa-bot"}}},
         code="unknown_parameter"),
    Case("models-list-admin", "GET", "/admin/v1/models", 200, "op"),
    Case("models-list-admin-tenant", "GET", "/admin/v1/models", 200, "op", query={"tenant": "oa-one"}),
    Case("models-list-admin-missing-tenant", "GET", "/admin/v1/models", 404, "op", query={"tenant": "no-such"}),
    Case("models-list-admin-manage", "GET", "/admin/v1/models", 200, "manage"),
    Case("models-list-admin-inference-key", "GET", "/admin/v1/models", 403, "infer"),
    Case("admin-model-get", "GET", "/admin/v1/models/{name}", 200, "op", {"name": "oa-bot"}),
    Case("admin-model-get-ambiguous", "GET", "/admin/v1/models/{name}", 409, "op", {"name": "oa-dup"}, code="conflict"),
    Case("admin-model-get-with-tenant", "GET", "/admin/v1/models/{name}", 200, "op", {"name": "oa-dup"},
         query={"tenant": "oa-two"}),
    Case("admin-model-get-shared-by-manage", "GET", "/admin/v1/models/{name}", 200, "manage", {"name": "assistant"}),
    Case("admin-model-get-router", "GET", "/admin/v1/models/{name}", 200, "manage", {"name": "oa-router"}),
    Case("admin-model-get-foreign", "GET", "/admin/v1/models/{name}", 404, "manage2", {"name": "oa-bot"}),
    Case("admin-model-get-inference-key", "GET", "/admin/v1/models/{name}", 403, "infer", {"name": "oa-bot"}),
    Case("version-create", "POST", "/admin/v1/models/{name}/versions", 201, "op", {"name": "oa-bot"},
         body={"spec": {**SPEC_OK, "params": {"max_tokens": 2}}}),
    Case("version-create-own", "POST", "/admin/v1/models/{name}/versions", 201, "manage", {"name": "oa-bot"},
         body={"spec": SPEC_OK}),
    Case("version-create-library", "POST", "/admin/v1/models/{name}/versions", 201, "manage", {"name": "oa-prompted"},
         body={"spec": {"adapter": "oa-lora", "prompt": {"name": "oa-greet"}}}),
    Case("version-create-shared-by-manage", "POST", "/admin/v1/models/{name}/versions", 403, "manage",
         {"name": "assistant"}, body={"spec": SPEC_OK}),
    Case("version-create-foreign", "POST", "/admin/v1/models/{name}/versions", 404, "manage2", {"name": "oa-bot"},
         body={"spec": SPEC_OK}),
    Case("version-create-ambiguous", "POST", "/admin/v1/models/{name}/versions", 409, "op", {"name": "oa-dup"},
         body={"spec": SPEC_OK}),
    Case("version-create-both-targets", "POST", "/admin/v1/models/{name}/versions", 400, "op", {"name": "oa-bot"},
         body={"spec": {**SPEC_OK, "deployments": [{"upstream": "local"}]}}),
    Case("version-create-unknown-field", "POST", "/admin/v1/models/{name}/versions", 400, "op", {"name": "oa-bot"},
         body={"spec": SPEC_OK, "traffic": 10}, code="unknown_parameter"),
    Case("traffic-set", "PUT", "/admin/v1/models/{name}/traffic", 200, "op", {"name": "oa-bot"}, body={"1": 100}),
    Case("traffic-set-own", "PUT", "/admin/v1/models/{name}/traffic", 200, "manage", {"name": "oa-bot"}, body={"1": 1}),
    Case("traffic-set-missing-version", "PUT", "/admin/v1/models/{name}/traffic", 400, "op", {"name": "oa-bot"},
         body={"99": 1}),
    Case("traffic-set-empty", "PUT", "/admin/v1/models/{name}/traffic", 400, "op", {"name": "oa-bot"}, body={}),
    Case("traffic-set-shared-by-manage", "PUT", "/admin/v1/models/{name}/traffic", 403, "manage", {"name": "assistant"},
         body={"1": 1}),
    Case("traffic-set-foreign", "PUT", "/admin/v1/models/{name}/traffic", 404, "manage2", {"name": "oa-bot"},
         body={"1": 1}),
    Case("traffic-set-ambiguous", "PUT", "/admin/v1/models/{name}/traffic", 409, "op", {"name": "oa-dup"}, body={"1": 1}),
    Case("traffic-set-form", "PUT", "/admin/v1/models/{name}/traffic", 415, "op", {"name": "oa-bot"}, raw=b"1=1",
         content_type="application/x-www-form-urlencoded"),
    # prompts
    Case("prompt-create", "POST", "/admin/v1/prompts", 201, "op",
         body={"name": f"oa-p-{RUN}", "tenant": "oa-two", "description": "d", **GREET, "labels": ["production", "v1.0"]}),
    Case("prompt-create-own", "POST", "/admin/v1/prompts", 201, "manage", body={"name": f"oa-own-p-{RUN}", **PLAIN_PROMPT}),
    Case("prompt-create-unchanged", "POST", "/admin/v1/prompts", 200, "op", body={"name": "oa-greet", "tenant": "oa-one", **GREET}),
    Case("prompt-create-unchanged-own", "POST", "/admin/v1/prompts", 200, "manage2", body={"name": "oa-dup-p", **PLAIN_PROMPT}),
    Case("prompt-create-undeclared", "POST", "/admin/v1/prompts", 400, "op",
         body={"name": "oa-x", "messages": [{"role": "system", "content": "Hi {{who}}."}]}, code="undeclared_variable"),
    Case("prompt-create-input-not-last", "POST", "/admin/v1/prompts", 400, "op",
         body={"name": "oa-x", "messages": [{"role": "system", "content": "{{input}}"}, {"role": "user", "content": "x"}]}),
    Case("prompt-create-declares-input", "POST", "/admin/v1/prompts", 400, "op",
         body={"name": "oa-x", **PLAIN_PROMPT, "variables": {"input": {}}}, code="invalid_value"),
    Case("prompt-create-bad-role", "POST", "/admin/v1/prompts", 400, "op",
         body={"name": "oa-x", "messages": [{"role": "tool", "content": "x"}]}, code="invalid_value"),
    Case("prompt-create-bad-label", "POST", "/admin/v1/prompts", 400, "op",
         body={"name": "oa-x", **PLAIN_PROMPT, "labels": ["7"]}, code="invalid_value"),
    Case("prompt-create-missing-messages", "POST", "/admin/v1/prompts", 400, "op", body={"name": "oa-x"},
         code="missing_required_parameter"),
    Case("prompt-create-unknown-field", "POST", "/admin/v1/prompts", 400, "op",
         body={"name": "oa-x", **PLAIN_PROMPT, "version": 2}, code="unknown_parameter"),
    Case("prompt-create-shared-name", "POST", "/admin/v1/prompts", 409, "manage",
         body={"name": "oa-shared-p", **PLAIN_PROMPT}, code="conflict"),
    Case("prompt-create-foreign-tenant", "POST", "/admin/v1/prompts", 404, "manage2",
         body={"name": "oa-x", "tenant": "oa-one", **PLAIN_PROMPT}),
    Case("prompt-create-missing-tenant", "POST", "/admin/v1/prompts", 404, "op",
         body={"name": "oa-x", "tenant": "no-such", **PLAIN_PROMPT}),
    Case("prompt-create-inference-key", "POST", "/admin/v1/prompts", 403, "infer", body={"name": "oa-x", **PLAIN_PROMPT}),
    Case("prompt-create-no-key", "POST", "/admin/v1/prompts", 401, body={"name": "oa-x", **PLAIN_PROMPT}),
    Case("prompt-create-too-large", "POST", "/admin/v1/prompts", 413, "op", raw=BIG_PROMPT, content_type="application/json"),
    Case("prompt-create-form", "POST", "/admin/v1/prompts", 415, "op", raw=b"name=x",
         content_type="application/x-www-form-urlencoded"),
    Case("prompts-list", "GET", "/admin/v1/prompts", 200, "op"),
    Case("prompts-list-manage", "GET", "/admin/v1/prompts", 200, "manage"),
    Case("prompts-list-inference-key", "GET", "/admin/v1/prompts", 403, "infer"),
    Case("prompts-list-no-key", "GET", "/admin/v1/prompts", 401),
    Case("prompt-get", "GET", "/admin/v1/prompts/{name}", 200, "op", {"name": "oa-greet"}),
    Case("prompt-get-own", "GET", "/admin/v1/prompts/{name}", 200, "manage", {"name": "oa-dup-p"}),
    Case("prompt-get-shared-by-manage", "GET", "/admin/v1/prompts/{name}", 200, "manage", {"name": "oa-shared-p"}),
    Case("prompt-get-ambiguous", "GET", "/admin/v1/prompts/{name}", 409, "op", {"name": "oa-dup-p"}, code="conflict"),
    Case("prompt-get-with-tenant", "GET", "/admin/v1/prompts/{name}", 200, "op", {"name": "oa-dup-p"},
         query={"tenant": "oa-two"}),
    Case("prompt-get-foreign", "GET", "/admin/v1/prompts/{name}", 404, "manage2", {"name": "oa-greet"}, code="not_found"),
    Case("prompt-get-missing", "GET", "/admin/v1/prompts/{name}", 404, "op", {"name": "no-such"}),
    Case("prompt-get-inference-key", "GET", "/admin/v1/prompts/{name}", 403, "infer", {"name": "oa-greet"}),
    Case("prompt-labels-set", "PUT", "/admin/v1/prompts/{name}/labels", 200, "op", {"name": "oa-greet"},
         query={"tenant": "oa-one"}, body={"staging": 1, "canary": 1}),
    Case("prompt-labels-remove", "PUT", "/admin/v1/prompts/{name}/labels", 200, "manage", {"name": "oa-greet"},
         body={"staging": None}),
    Case("prompt-labels-missing-version", "PUT", "/admin/v1/prompts/{name}/labels", 400, "op", {"name": "oa-greet"},
         body={"production": 99}, code="invalid_value"),
    Case("prompt-labels-bad-label", "PUT", "/admin/v1/prompts/{name}/labels", 400, "op", {"name": "oa-greet"},
         body={"12": 1}, code="invalid_value"),
    Case("prompt-labels-empty", "PUT", "/admin/v1/prompts/{name}/labels", 400, "op", {"name": "oa-greet"}, body={}),
    Case("prompt-labels-followed", "PUT", "/admin/v1/prompts/{name}/labels", 409, "op", {"name": "oa-greet"},
         body={"production": None}, code="conflict"),
    Case("prompt-labels-shared-by-manage", "PUT", "/admin/v1/prompts/{name}/labels", 403, "manage",
         {"name": "oa-shared-p"}, body={"x": 1}),
    Case("prompt-labels-foreign", "PUT", "/admin/v1/prompts/{name}/labels", 404, "manage2", {"name": "oa-greet"},
         body={"x": 1}),
    Case("prompt-labels-ambiguous", "PUT", "/admin/v1/prompts/{name}/labels", 409, "op", {"name": "oa-dup-p"},
         body={"x": 1}),
    Case("prompt-labels-inference-key", "PUT", "/admin/v1/prompts/{name}/labels", 403, "infer", {"name": "oa-greet"},
         body={"x": 1}),
    Case("prompt-labels-form", "PUT", "/admin/v1/prompts/{name}/labels", 415, "op", {"name": "oa-greet"}, raw=b"x=1",
         content_type="application/x-www-form-urlencoded"),
    # adapters
    Case("adapter-create", "POST", "/admin/v1/adapters", 201, "op",
         body={"name": f"oa-a-{RUN}", "tenant": "oa-two", **ADAPTER, "method": "qlora", "dataset": "claims-2025",
               "evaluation": "accuracy 0.9", "description": "d"}),
    Case("adapter-create-lora-id", "POST", "/admin/v1/adapters", 201, "manage",
         body={"name": f"oa-al-{RUN}", "upstream": "local", "base_model": UPSTREAM_CHAT_MODEL, "lora_id": 0, "lora_scale": 0.5}),
    Case("adapter-create-path", "POST", "/admin/v1/adapters", 201, "op",
         body={"name": f"oa-ap-{RUN}", "tenant": "oa-one", "upstream": "oa-vllm", "base_model": "base", "path": "/adapters/x"}),
    Case("adapter-create-path-wrong-kind", "POST", "/admin/v1/adapters", 400, "op",
         body={"name": "oa-x", "upstream": "local", "base_model": UPSTREAM_CHAT_MODEL, "path": "/adapters/x"}),
    Case("adapter-create-lora-id-wrong-kind", "POST", "/admin/v1/adapters", 400, "op",
         body={"name": "oa-x", "upstream": "oa-vllm", "base_model": "base", "lora_id": 1}),
    Case("adapter-create-two-modes", "POST", "/admin/v1/adapters", 400, "op",
         body={"name": "oa-x", **ADAPTER, "lora_id": 0}),
    Case("adapter-create-no-mode", "POST", "/admin/v1/adapters", 400, "op",
         body={"name": "oa-x", "upstream": "local", "base_model": UPSTREAM_CHAT_MODEL}),
    Case("adapter-create-scale-without-lora-id", "POST", "/admin/v1/adapters", 400, "op",
         body={"name": "oa-x", **ADAPTER, "lora_scale": 1}),
    Case("adapter-create-unknown-upstream", "POST", "/admin/v1/adapters", 400, "op",
         body={"name": "oa-x", **ADAPTER, "upstream": "no-such"}, code="invalid_value"),
    Case("adapter-create-bad-method", "POST", "/admin/v1/adapters", 400, "op",
         body={"name": "oa-x", **ADAPTER, "method": "magic"}, code="invalid_value"),
    Case("adapter-create-missing-base", "POST", "/admin/v1/adapters", 400, "op",
         body={"name": "oa-x", "upstream": "local", "served_model": "m"}, code="missing_required_parameter"),
    Case("adapter-create-unknown-field", "POST", "/admin/v1/adapters", 400, "op",
         body={"name": "oa-x", **ADAPTER, "rank": 8}, code="unknown_parameter"),
    Case("adapter-create-taken", "POST", "/admin/v1/adapters", 409, "op",
         body={"name": "oa-lora", "tenant": "oa-one", **ADAPTER}, code="conflict"),
    Case("adapter-create-shared-name", "POST", "/admin/v1/adapters", 409, "manage", body={"name": "oa-shared-a", **ADAPTER}),
    Case("adapter-create-foreign-tenant", "POST", "/admin/v1/adapters", 404, "manage2",
         body={"name": "oa-x", "tenant": "oa-one", **ADAPTER}),
    Case("adapter-create-inference-key", "POST", "/admin/v1/adapters", 403, "infer", body={"name": "oa-x", **ADAPTER}),
    Case("adapter-create-no-key", "POST", "/admin/v1/adapters", 401, body={"name": "oa-x", **ADAPTER}),
    Case("adapter-create-too-large", "POST", "/admin/v1/adapters", 413, "op", raw=BIG_ADMIN, content_type="application/json"),
    Case("adapter-create-form", "POST", "/admin/v1/adapters", 415, "op", raw=b"name=x",
         content_type="application/x-www-form-urlencoded"),
    Case("adapters-list", "GET", "/admin/v1/adapters", 200, "op"),
    Case("adapters-list-manage", "GET", "/admin/v1/adapters", 200, "manage"),
    Case("adapters-list-inference-key", "GET", "/admin/v1/adapters", 403, "infer"),
    Case("adapter-get", "GET", "/admin/v1/adapters/{name}", 200, "op", {"name": "oa-lora"}),
    Case("adapter-get-shared-by-manage", "GET", "/admin/v1/adapters/{name}", 200, "manage", {"name": "oa-shared-a"}),
    Case("adapter-get-ambiguous", "GET", "/admin/v1/adapters/{name}", 409, "op", {"name": "oa-dup-a"}, code="conflict"),
    Case("adapter-get-with-tenant", "GET", "/admin/v1/adapters/{name}", 200, "op", {"name": "oa-dup-a"},
         query={"tenant": "oa-one"}),
    Case("adapter-get-foreign", "GET", "/admin/v1/adapters/{name}", 404, "manage2", {"name": "oa-lora"}),
    Case("adapter-get-missing", "GET", "/admin/v1/adapters/{name}", 404, "op", {"name": "no-such"}),
    Case("adapter-get-inference-key", "GET", "/admin/v1/adapters/{name}", 403, "infer", {"name": "oa-lora"}),
    # knowledge bases
    Case("kb-create", "POST", "/admin/v1/knowledge-bases", 201, "op",
         body={"name": f"oa-kb-{RUN}", "tenant": "oa-two", "description": "d", "chunk_size": 128, "chunk_overlap": 16}),
    Case("kb-create-own", "POST", "/admin/v1/knowledge-bases", 201, "manage", body={"name": f"oa-kb-own-{RUN}"}),
    Case("kb-create-embedded", "POST", "/admin/v1/knowledge-bases", 201, "manage2",
         body={"name": f"oa-kb-e-{RUN}", "embedding": {"upstream": "local", "model": UPSTREAM_EMBED_MODEL}}),
    Case("kb-create-no-tenant", "POST", "/admin/v1/knowledge-bases", 400, "op", body={"name": "oa-x"},
         code="missing_required_parameter"),
    Case("kb-create-unknown-upstream", "POST", "/admin/v1/knowledge-bases", 400, "op",
         body={"name": "oa-x", "tenant": "oa-one", "embedding": {"upstream": "no-such", "model": "m"}}, code="invalid_value"),
    Case("kb-create-half-embedding", "POST", "/admin/v1/knowledge-bases", 400, "op",
         body={"name": "oa-x", "tenant": "oa-one", "embedding": {"upstream": "local"}}, code="missing_required_parameter"),
    Case("kb-create-big-overlap", "POST", "/admin/v1/knowledge-bases", 400, "op",
         body={"name": "oa-x", "tenant": "oa-one", "chunk_size": 64, "chunk_overlap": 40}, code="invalid_value"),
    Case("kb-create-small-chunks", "POST", "/admin/v1/knowledge-bases", 400, "op",
         body={"name": "oa-x", "tenant": "oa-one", "chunk_size": 16}, code="invalid_value"),
    Case("kb-create-bad-name", "POST", "/admin/v1/knowledge-bases", 400, "op", body={"name": "-x", "tenant": "oa-one"},
         code="invalid_value"),
    Case("kb-create-unknown-field", "POST", "/admin/v1/knowledge-bases", 400, "op",
         body={"name": "oa-x", "tenant": "oa-one", "model": "m"}, code="unknown_parameter"),
    Case("kb-create-taken", "POST", "/admin/v1/knowledge-bases", 409, "op", body={"name": "oa-kb", "tenant": "oa-one"},
         code="conflict"),
    Case("kb-create-taken-own", "POST", "/admin/v1/knowledge-bases", 409, "manage2", body={"name": "oa-kb"}),
    Case("kb-create-foreign-tenant", "POST", "/admin/v1/knowledge-bases", 404, "manage2",
         body={"name": "oa-x", "tenant": "oa-one"}, code="not_found"),
    Case("kb-create-missing-tenant", "POST", "/admin/v1/knowledge-bases", 404, "op", body={"name": "oa-x", "tenant": "no-such"}),
    Case("kb-create-inference-key", "POST", "/admin/v1/knowledge-bases", 403, "infer", body={"name": "oa-x"}),
    Case("kb-create-no-key", "POST", "/admin/v1/knowledge-bases", 401, body={"name": "oa-x"}),
    Case("kb-create-too-large", "POST", "/admin/v1/knowledge-bases", 413, "op", raw=BIG_ADMIN, content_type="application/json"),
    Case("kb-create-form", "POST", "/admin/v1/knowledge-bases", 415, "op", raw=b"name=x",
         content_type="application/x-www-form-urlencoded"),
    Case("kbs-list", "GET", "/admin/v1/knowledge-bases", 200, "op"),
    Case("kbs-list-tenant", "GET", "/admin/v1/knowledge-bases", 200, "op", query={"tenant": "oa-one"}),
    Case("kbs-list-manage", "GET", "/admin/v1/knowledge-bases", 200, "manage"),
    Case("kbs-list-missing-tenant", "GET", "/admin/v1/knowledge-bases", 404, "op", query={"tenant": "no-such"}),
    Case("kbs-list-inference-key", "GET", "/admin/v1/knowledge-bases", 403, "infer"),
    Case("kbs-list-no-key", "GET", "/admin/v1/knowledge-bases", 401),
    Case("kb-get", "GET", "/admin/v1/knowledge-bases/{kb}", 200, "op", {"kb": "oa-kb-vec"}),
    Case("kb-get-with-tenant", "GET", "/admin/v1/knowledge-bases/{kb}", 200, "op", {"kb": "oa-kb"}, query={"tenant": "oa-two"}),
    Case("kb-get-own", "GET", "/admin/v1/knowledge-bases/{kb}", 200, "manage", {"kb": "oa-kb"}),
    Case("kb-get-ambiguous", "GET", "/admin/v1/knowledge-bases/{kb}", 409, "op", {"kb": "oa-kb"}, code="conflict"),
    Case("kb-get-foreign", "GET", "/admin/v1/knowledge-bases/{kb}", 404, "manage2", {"kb": "oa-kb-vec"}, code="not_found"),
    Case("kb-get-missing", "GET", "/admin/v1/knowledge-bases/{kb}", 404, "op", {"kb": "no-such"}),
    Case("kb-get-missing-in-tenant", "GET", "/admin/v1/knowledge-bases/{kb}", 404, "op", {"kb": "oa-kb-vec"},
         query={"tenant": "oa-two"}),
    Case("kb-get-inference-key", "GET", "/admin/v1/knowledge-bases/{kb}", 403, "infer", {"kb": "oa-kb"}),
    Case("kb-get-no-key", "GET", "/admin/v1/knowledge-bases/{kb}", 401, None, {"kb": "oa-kb"}),
    # documents
    Case("doc-upload", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 201, "op", {"kb": "oa-kb"},
         query={"tenant": "oa-one"},
         body={"title": f"Claims {RUN}", "text": f"# Claims\n\nReport a claim within 14 days ({RUN}).",
               "content_type": "text/markdown", "metadata": {"run": RUN}}),
    Case("doc-upload-same-bytes", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 200, "manage", {"kb": "oa-kb"},
         body={"title": "Another title", "text": GRACE_DOC["text"]}),
    Case("doc-upload-html", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 201, "manage", {"kb": "oa-kb"},
         body={"title": f"Html {RUN}", "text": f"<html><body><h1>Pets</h1><p>Cats and dogs {RUN}.</p></body></html>",
               "content_type": "text/html"}),
    Case("doc-upload-embedded", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 201, "manage", {"kb": "oa-kb-vec"},
         body={"title": f"Rental {RUN}", "text": f"A rental car is paid for up to 30 days ({RUN})."}),
    Case("doc-upload-raw-text", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 201, "manage", {"kb": "oa-kb"},
         query={"title": "Plain"}, raw=f"Plain text upload {RUN}.".encode(), content_type="text/plain; charset=utf-8"),
    Case("doc-upload-raw-markdown", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 201, "op", {"kb": "oa-kb"},
         query={"tenant": "oa-one", "title": "Markdown"}, raw=f"# Heading\n\nMarkdown {RUN}.".encode(),
         content_type="text/x-markdown"),
    Case("doc-upload-raw-html", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 201, "manage", {"kb": "oa-kb"},
         query={"title": "Page"}, raw=f"<p>An HTML page {RUN}.</p>".encode(), content_type="application/xhtml+xml"),
    Case("doc-upload-raw-no-title", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 400, "manage", {"kb": "oa-kb"},
         raw=b"Some text.", content_type="text/plain", code="missing_required_parameter"),
    Case("doc-upload-not-utf8", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 400, "manage", {"kb": "oa-kb"},
         query={"title": "Bytes"}, raw=b"\xff\xfe\x00a", content_type="text/plain", code="invalid_encoding"),
    Case("doc-upload-blank", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 400, "manage", {"kb": "oa-kb"},
         body={"title": "Blank", "text": " \n "}, code="empty_document"),
    Case("doc-upload-missing-text", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 400, "manage", {"kb": "oa-kb"},
         body={"title": "No text"}, code="missing_required_parameter"),
    Case("doc-upload-bad-content-type", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 400, "manage", {"kb": "oa-kb"},
         body={"title": "T", "text": "x", "content_type": "application/pdf"}, code="invalid_value"),
    Case("doc-upload-bad-metadata", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 400, "manage", {"kb": "oa-kb"},
         body={"title": "T", "text": "x", "metadata": "m"}, code="invalid_value"),
    Case("doc-upload-unknown-field", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 400, "manage", {"kb": "oa-kb"},
         body={"title": "T", "text": "x", "author": "a"}, code="unknown_parameter"),
    Case("doc-upload-not-json", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 400, "manage", {"kb": "oa-kb"},
         raw=b"{", content_type="application/json", code="invalid_json"),
    Case("doc-upload-ambiguous", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 409, "op", {"kb": "oa-kb"},
         body={"title": "T", "text": "x"}, code="conflict"),
    Case("doc-upload-foreign", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 404, "manage2", {"kb": "oa-kb-vec"},
         body={"title": "T", "text": "x"}, code="not_found"),
    Case("doc-upload-missing-kb", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 404, "op", {"kb": "no-such"},
         body={"title": "T", "text": "x"}),
    Case("doc-upload-inference-key", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 403, "infer", {"kb": "oa-kb"},
         body={"title": "T", "text": "x"}),
    Case("doc-upload-no-key", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 401, None, {"kb": "oa-kb"},
         body={"title": "T", "text": "x"}),
    Case("doc-upload-too-large", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 413, "manage", {"kb": "oa-kb"},
         query={"title": "Big"}, raw=BIG_DOC, content_type="text/plain", code="request_too_large"),
    # Without poppler's pdftotext on the gateway's machine a PDF is 415; with it, this one cannot be read (400).
    Case("doc-upload-pdf", "POST", "/admin/v1/knowledge-bases/{kb}/documents", (400, 415), "manage", {"kb": "oa-kb"},
         query={"title": "Scan"}, raw=b"%PDF-1.4\n%not really\n", content_type="application/pdf"),
    Case("doc-upload-multipart-unknown-kind", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 415, "manage", {"kb": "oa-kb"},
         raw=b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--b--\r\n",
         content_type="multipart/form-data; boundary=b", code="unsupported_media_type"),
    Case("doc-upload-multipart", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 201, "manage", {"kb": "oa-kb"},
         raw=("--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nForm upload " + RUN + "\r\n"
              "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"form.md\"\r\n"
              "Content-Type: application/octet-stream\r\n\r\n# Form upload\n\nUploaded as a form, run " + RUN + ".\r\n--b--\r\n").encode(),
         content_type="multipart/form-data; boundary=b"),
    Case("doc-upload-multipart-no-boundary", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 400, "manage", {"kb": "oa-kb"},
         raw=b"x", content_type="multipart/form-data", code="invalid_multipart"),
    Case("doc-upload-multipart-no-file", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 400, "manage", {"kb": "oa-kb"},
         raw=b"--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nx\r\n--b--\r\n",
         content_type="multipart/form-data; boundary=b", code="missing_required_parameter"),
    Case("doc-upload-plus-json", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 201, "manage", {"kb": "oa-kb"},
         raw=json.dumps({"title": "Plus JSON " + RUN, "text": "Sent as application/vnd.example+json, run " + RUN + "."}).encode(),
         content_type="application/vnd.example+json"),
    Case("doc-upload-form", "POST", "/admin/v1/knowledge-bases/{kb}/documents", 415, "manage", {"kb": "oa-kb"},
         raw=b"title=x", content_type="application/x-www-form-urlencoded"),
    Case("docs-list", "GET", "/admin/v1/knowledge-bases/{kb}/documents", 200, "op", {"kb": "oa-kb-vec"}),
    Case("docs-list-page", "GET", "/admin/v1/knowledge-bases/{kb}/documents", 200, "manage", {"kb": "oa-kb"},
         query={"limit": "1", "after": "doc_0000000000000000"}),
    Case("docs-list-with-tenant", "GET", "/admin/v1/knowledge-bases/{kb}/documents", 200, "op", {"kb": "oa-kb"},
         query={"tenant": "oa-two"}),
    Case("docs-list-bad-limit", "GET", "/admin/v1/knowledge-bases/{kb}/documents", 400, "manage", {"kb": "oa-kb"},
         query={"limit": "0"}, code="invalid_value"),
    Case("docs-list-ambiguous", "GET", "/admin/v1/knowledge-bases/{kb}/documents", 409, "op", {"kb": "oa-kb"}),
    Case("docs-list-foreign", "GET", "/admin/v1/knowledge-bases/{kb}/documents", 404, "manage2", {"kb": "oa-kb-vec"}),
    Case("docs-list-inference-key", "GET", "/admin/v1/knowledge-bases/{kb}/documents", 403, "infer", {"kb": "oa-kb"}),
    Case("docs-list-no-key", "GET", "/admin/v1/knowledge-bases/{kb}/documents", 401, None, {"kb": "oa-kb"}),
    Case("doc-delete", "DELETE", "/admin/v1/knowledge-bases/{kb}/documents/{id}", 200, "manage",
         {"kb": "oa-kb", "id": "<doc-del>"}),
    Case("doc-delete-again", "DELETE", "/admin/v1/knowledge-bases/{kb}/documents/{id}", 404, "manage",
         {"kb": "oa-kb", "id": "<doc-del>"}, code="not_found"),
    Case("doc-delete-other-kb", "DELETE", "/admin/v1/knowledge-bases/{kb}/documents/{id}", 404, "manage",
         {"kb": "oa-kb-vec", "id": "<doc>"}),
    Case("doc-delete-foreign", "DELETE", "/admin/v1/knowledge-bases/{kb}/documents/{id}", 404, "manage2",
         {"kb": "oa-kb-vec", "id": "<doc-vec>"}),
    Case("doc-delete-ambiguous", "DELETE", "/admin/v1/knowledge-bases/{kb}/documents/{id}", 409, "op",
         {"kb": "oa-kb", "id": "<doc>"}),
    Case("doc-delete-inference-key", "DELETE", "/admin/v1/knowledge-bases/{kb}/documents/{id}", 403, "infer",
         {"kb": "oa-kb", "id": "<doc>"}),
    Case("doc-delete-no-key", "DELETE", "/admin/v1/knowledge-bases/{kb}/documents/{id}", 401, None,
         {"kb": "oa-kb", "id": "<doc>"}),
    # audit
    Case("audit", "GET", "/admin/v1/audit", 200, "op"),
    Case("audit-filtered", "GET", "/admin/v1/audit", 200, "op",
         query={"action": "tenant.*", "actor": "operator", "target": "tenant:oa-one", "from": "2000-01-01T00:00:00Z",
                "to": "2100-01-01T00:00:00.5Z"}),
    Case("audit-bad-limit", "GET", "/admin/v1/audit", 400, "op", query={"limit": "0"}, code="invalid_value"),
    Case("audit-bad-before", "GET", "/admin/v1/audit", 400, "op", query={"before": "x"}, code="invalid_value"),
    Case("audit-bad-from", "GET", "/admin/v1/audit", 400, "manage", query={"from": "yesterday"}, code="invalid_value"),
    Case("audit-page", "GET", "/admin/v1/audit", 200, "op", query={"limit": "2", "before": "1000000"}),
    Case("audit-tenant", "GET", "/admin/v1/audit", 200, "op", query={"tenant": "oa-one"}),
    Case("audit-missing-tenant", "GET", "/admin/v1/audit", 404, "op", query={"tenant": "no-such"}),
    Case("audit-manage", "GET", "/admin/v1/audit", 200, "manage"),
    Case("audit-inference-key", "GET", "/admin/v1/audit", 403, "infer"),
    Case("audit-no-key", "GET", "/admin/v1/audit", 401),
    # usage
    Case("usage", "GET", "/admin/v1/usage", 200, "op"),
    Case("usage-grouped", "GET", "/admin/v1/usage", 200, "op",
         query={"group_by": "tenant,model,version,key,day", "from": "2020-01-01", "to": "2100-12-31T23:00:00Z"}),
    Case("usage-by-user", "GET", "/admin/v1/usage", 200, "op", query={"group_by": "end_user,model", "tenant": "oa-one"}),
    Case("usage-model", "GET", "/admin/v1/usage", 200, "manage", query={"model": "assistant", "group_by": "day"}),
    Case("usage-usage-key", "GET", "/admin/v1/usage", 200, "usage", query={"tenant": "oa-one", "group_by": "model"}),
    Case("usage-bad-group", "GET", "/admin/v1/usage", 400, "op", query={"group_by": "model,colour"}, code="invalid_value"),
    Case("usage-bad-from", "GET", "/admin/v1/usage", 400, "op", query={"from": "last week"}, code="invalid_value"),
    Case("usage-from-after-to", "GET", "/admin/v1/usage", 400, "op", query={"from": "2026-02-01", "to": "2026-01-31"},
         code="invalid_value"),
    Case("usage-missing-tenant", "GET", "/admin/v1/usage", 404, "op", query={"tenant": "no-such"}, code="not_found"),
    Case("usage-foreign-tenant", "GET", "/admin/v1/usage", 404, "usage", query={"tenant": "oa-two"}),
    Case("usage-inference-key", "GET", "/admin/v1/usage", 403, "infer", code="permission_denied"),
    Case("usage-no-key", "GET", "/admin/v1/usage", 401),
    Case("usage-routed-to", "GET", "/admin/v1/usage", 200, "op", query={"group_by": "model,routed_to", "tenant": "oa-one"}),
    Case("usage-source", "GET", "/admin/v1/usage", 200, "manage", query={"group_by": "source,version", "from": "2026-01-01",
                                                                          "to": "2026-04-02"}),
    Case("usage-routed-to-too-long", "GET", "/admin/v1/usage", 400, "op",
         query={"group_by": "routed_to", "from": "2026-01-01", "to": "2026-04-03"}, code="invalid_value"),
    # usage overview
    Case("overview", "GET", "/admin/v1/usage/overview", 200, "op"),
    Case("overview-tenant", "GET", "/admin/v1/usage/overview", 200, "op", query={"tenant": "oa-one", "from": "2020-01-01",
                                                                                   "to": "2020-04-01T12:00:00Z"}),
    Case("overview-manage", "GET", "/admin/v1/usage/overview", 200, "manage"),
    Case("overview-usage-key", "GET", "/admin/v1/usage/overview", 200, "usage", query={"tenant": "oa-one"}),
    Case("overview-too-long", "GET", "/admin/v1/usage/overview", 400, "op", query={"from": "2020-01-01", "to": "2020-04-02"},
         code="invalid_value"),
    Case("overview-from-after-to", "GET", "/admin/v1/usage/overview", 400, "op", query={"from": "2026-02-01", "to": "2026-01-31"}),
    Case("overview-bad-day", "GET", "/admin/v1/usage/overview", 400, "op", query={"to": "tomorrow"}),
    Case("overview-missing-tenant", "GET", "/admin/v1/usage/overview", 404, "op", query={"tenant": "no-such"}),
    Case("overview-foreign-tenant", "GET", "/admin/v1/usage/overview", 404, "usage", query={"tenant": "oa-two"}),
    Case("overview-inference-key", "GET", "/admin/v1/usage/overview", 403, "infer", code="permission_denied"),
    Case("overview-no-key", "GET", "/admin/v1/usage/overview", 401),
    # dataset export
    Case("export", "GET", "/admin/v1/datasets/export", 200, "op"),
    Case("export-dpo", "GET", "/admin/v1/datasets/export", 200, "manage2", query={"format": "openai-dpo"}),
    Case("export-model", "GET", "/admin/v1/datasets/export", 200, "usage", query={"model": "assistant", "format": "openai-sft"}),
    Case("export-bad-format", "GET", "/admin/v1/datasets/export", 400, "op", query={"format": "csv"}, code="invalid_value"),
    Case("export-missing-tenant", "GET", "/admin/v1/datasets/export", 404, "op", query={"tenant": "no-such"}),
    Case("export-foreign-tenant", "GET", "/admin/v1/datasets/export", 404, "manage", query={"tenant": "oa-two"}),
    Case("export-inference-key", "GET", "/admin/v1/datasets/export", 403, "infer"),
    Case("export-no-key", "GET", "/admin/v1/datasets/export", 401),
    # evaluation sets
    Case("eval-set-create", "POST", "/admin/v1/eval-sets", 201, "op",
         body={"name": f"oa-es-{RUN}", "tenant": "oa-two", "items": [{"input": "2+2?", "expected": "4", "variables": None}]}),
    Case("eval-set-create-own", "POST", "/admin/v1/eval-sets", 201, "manage",
         body={"name": "oa-golden", "items": EVAL_ITEMS + [{"messages": [{"role": "system", "content": "Be brief."}, *MESSAGES],
                                                            "variables": {"who": "Ada"}, "metadata": {"source": "handbook"}}]}),
    Case("eval-set-create-shared", "POST", "/admin/v1/eval-sets", 201, "op", body={"name": f"oa-es-shared-{RUN}", "items": EVAL_ITEMS}),
    Case("eval-set-create-input-and-messages", "POST", "/admin/v1/eval-sets", 400, "manage",
         body={"name": "oa-x", "items": [{"input": "q", "messages": MESSAGES}]}),
    Case("eval-set-create-no-question", "POST", "/admin/v1/eval-sets", 400, "manage", body={"name": "oa-x", "items": [{"expected": "a"}]},
         code="missing_required_parameter"),
    Case("eval-set-create-bad-expected", "POST", "/admin/v1/eval-sets", 400, "manage",
         body={"name": "oa-x", "items": [{"input": "q", "expected": {"a": 1}}]}, code="invalid_value"),
    Case("eval-set-create-unknown-item-field", "POST", "/admin/v1/eval-sets", 400, "manage",
         body={"name": "oa-x", "items": [{"input": "q", "answer": "a"}]}, code="unknown_parameter"),
    Case("eval-set-create-no-items", "POST", "/admin/v1/eval-sets", 400, "manage", body={"name": "oa-x", "items": []}, code="invalid_value"),
    Case("eval-set-create-bad-name", "POST", "/admin/v1/eval-sets", 400, "manage", body={"name": "-x", "items": EVAL_ITEMS},
         code="invalid_value"),
    Case("eval-set-create-unknown-field", "POST", "/admin/v1/eval-sets", 400, "manage",
         body={"name": "oa-x", "items": EVAL_ITEMS, "version": 2}, code="unknown_parameter"),
    Case("eval-set-create-foreign-tenant", "POST", "/admin/v1/eval-sets", 404, "manage2",
         body={"name": "oa-x", "tenant": "oa-one", "items": EVAL_ITEMS}, code="not_found"),
    Case("eval-set-create-missing-tenant", "POST", "/admin/v1/eval-sets", 404, "op", body={"name": "oa-x", "tenant": "no-such", "items": EVAL_ITEMS}),
    Case("eval-set-create-inference-key", "POST", "/admin/v1/eval-sets", 403, "infer", body={"name": "oa-x", "items": EVAL_ITEMS}),
    Case("eval-set-create-no-key", "POST", "/admin/v1/eval-sets", 401, body={"name": "oa-x", "items": EVAL_ITEMS}),
    Case("eval-set-create-too-large", "POST", "/admin/v1/eval-sets", 413, "manage", raw=BIG_DOC, content_type="application/json"),
    Case("eval-set-create-form", "POST", "/admin/v1/eval-sets", 415, "manage", raw=b"name=x", content_type="application/x-www-form-urlencoded"),
    Case("eval-sets-list", "GET", "/admin/v1/eval-sets", 200, "op"),
    Case("eval-sets-list-tenant", "GET", "/admin/v1/eval-sets", 200, "op", query={"tenant": "oa-one"}),
    Case("eval-sets-list-manage", "GET", "/admin/v1/eval-sets", 200, "manage", query={"tenant": "oa-one"}),
    Case("eval-sets-list-missing-tenant", "GET", "/admin/v1/eval-sets", 404, "op", query={"tenant": "no-such"}),
    Case("eval-sets-list-foreign-tenant", "GET", "/admin/v1/eval-sets", 404, "manage", query={"tenant": "oa-two"}),
    Case("eval-sets-list-inference-key", "GET", "/admin/v1/eval-sets", 403, "infer", code="permission_denied"),
    Case("eval-sets-list-no-key", "GET", "/admin/v1/eval-sets", 401),
    Case("eval-set-get", "GET", "/admin/v1/eval-sets/{name}", 200, "manage", {"name": "oa-golden"}),
    Case("eval-set-get-version", "GET", "/admin/v1/eval-sets/{name}", 200, "op", {"name": "oa-golden"},
         query={"tenant": "oa-one", "version": "1"}),
    Case("eval-set-get-shared", "GET", "/admin/v1/eval-sets/{name}", 200, "op", {"name": "oa-shared-golden"}),
    Case("eval-set-get-shared-by-manage", "GET", "/admin/v1/eval-sets/{name}", 200, "manage2", {"name": "oa-shared-golden"}),
    Case("eval-set-get-tenants-without-tenant", "GET", "/admin/v1/eval-sets/{name}", 404, "op", {"name": "oa-golden"}, code="not_found"),
    Case("eval-set-get-missing-version", "GET", "/admin/v1/eval-sets/{name}", 404, "manage", {"name": "oa-golden"}, query={"version": "99"}),
    Case("eval-set-get-bad-version", "GET", "/admin/v1/eval-sets/{name}", 400, "manage", {"name": "oa-golden"}, query={"version": "0"},
         code="invalid_value"),
    Case("eval-set-get-foreign", "GET", "/admin/v1/eval-sets/{name}", 404, "manage2", {"name": "oa-golden"}),
    Case("eval-set-get-inference-key", "GET", "/admin/v1/eval-sets/{name}", 403, "infer", {"name": "oa-golden"}),
    Case("eval-set-get-no-key", "GET", "/admin/v1/eval-sets/{name}", 401, None, {"name": "oa-golden"}),
    Case("eval-set-from-feedback", "POST", "/admin/v1/eval-sets/{name}/from-feedback", 201, "manage", {"name": f"oa-fb-{RUN}"},
         body={"model": "oa-captured", "since": "2020-01-01"}),
    Case("eval-set-from-feedback-op", "POST", "/admin/v1/eval-sets/{name}/from-feedback", 201, "op", {"name": f"oa-fb-op-{RUN}"},
         body={"model": "oa-captured", "tenant": "oa-one", "since": None}),
    Case("eval-set-from-feedback-nothing", "POST", "/admin/v1/eval-sets/{name}/from-feedback", 400, "manage", {"name": f"oa-fb-{RUN}"},
         body={"model": "oa-captured"}, code="nothing_to_add"),
    Case("eval-set-from-feedback-no-tenant", "POST", "/admin/v1/eval-sets/{name}/from-feedback", 400, "op", {"name": "oa-x"},
         body={"model": "oa-captured"}, code="missing_required_parameter"),
    Case("eval-set-from-feedback-bad-since", "POST", "/admin/v1/eval-sets/{name}/from-feedback", 400, "manage", {"name": "oa-x"},
         body={"model": "oa-captured", "since": "last week"}, code="invalid_value"),
    Case("eval-set-from-feedback-unknown-field", "POST", "/admin/v1/eval-sets/{name}/from-feedback", 400, "manage", {"name": "oa-x"},
         body={"model": "oa-captured", "limit": 5}, code="unknown_parameter"),
    Case("eval-set-from-feedback-missing-model", "POST", "/admin/v1/eval-sets/{name}/from-feedback", 404, "manage", {"name": "oa-x"},
         body={"model": "no-such"}, code="not_found"),
    Case("eval-set-from-feedback-foreign-tenant", "POST", "/admin/v1/eval-sets/{name}/from-feedback", 404, "manage2", {"name": "oa-x"},
         body={"model": "oa-captured", "tenant": "oa-one"}),
    Case("eval-set-from-feedback-inference-key", "POST", "/admin/v1/eval-sets/{name}/from-feedback", 403, "infer", {"name": "oa-x"},
         body={"model": "oa-captured"}),
    Case("eval-set-from-feedback-no-key", "POST", "/admin/v1/eval-sets/{name}/from-feedback", 401, None, {"name": "oa-x"},
         body={"model": "oa-captured"}),
    Case("eval-set-from-feedback-form", "POST", "/admin/v1/eval-sets/{name}/from-feedback", 415, "manage", {"name": "oa-x"}, raw=b"model=x",
         content_type="application/x-www-form-urlencoded"),
    Case("eval-set-from-feedback-too-large", "POST", "/admin/v1/eval-sets/{name}/from-feedback", 413, "manage", {"name": "oa-x"},
         raw=BIG_ADMIN, content_type="application/json"),
    # evaluation runs (a tenant may have 2 running: oa-one's error cases come before its run is started)
    Case("eval-run-create-op", "POST", "/admin/v1/eval-runs", 202, "op",
         body={"set": "oa-shared-tiny", "set_version": 1, "shared": True, "tenant": "oa-two", "models": ["assistant", "oa-dup@1"],
               "concurrency": 2,
               "scorers": [{"type": "exact"}, {"type": "regex", "pattern": "(?i)h(i|ello)"},
                           {"type": "judge", "model": "assistant", "rubric": "A greeting.", "threshold": 0.5}]}),
    # oa-quota's runs wait out its spent quota: with run-slow, a second one fills the tenant's two places.
    Case("eval-run-create-second-waiting", "POST", "/admin/v1/eval-runs", 202, "op",
         body={"set": "oa-shared-tiny", "tenant": "oa-quota", "models": ["assistant"], "scorers": [{"type": "exact"}]}),
    Case("eval-run-create-over-cap", "POST", "/admin/v1/eval-runs", 429, "op",
         body={"set": "oa-shared-tiny", "tenant": "oa-quota", "models": ["assistant"], "scorers": [{"type": "exact"}]},
         code="too_many_evaluation_runs"),
    Case("eval-run-create-no-tenant", "POST", "/admin/v1/eval-runs", 400, "op",
         body={"set": "oa-shared-golden", "models": ["assistant"], "scorers": [{"type": "exact"}]}, code="missing_required_parameter"),
    Case("eval-run-create-missing-set", "POST", "/admin/v1/eval-runs", 404, "manage",
         body={"set": "no-such", "models": ["oa-bot"], "scorers": [{"type": "exact"}]}, code="not_found"),
    Case("eval-run-create-foreign-model", "POST", "/admin/v1/eval-runs", 404, "manage",
         body={"set": "oa-golden", "models": ["private-bot"], "scorers": [{"type": "exact"}]}, code="model_not_found"),
    Case("eval-run-create-missing-version", "POST", "/admin/v1/eval-runs", 404, "manage",
         body={"set": "oa-golden", "models": ["oa-bot@99"], "scorers": [{"type": "exact"}]}, code="model_not_found"),
    Case("eval-run-create-missing-judge", "POST", "/admin/v1/eval-runs", 404, "manage",
         body={"set": "oa-golden", "models": ["oa-bot"], "scorers": [{"type": "judge", "model": "no-such"}]}, code="model_not_found"),
    Case("eval-run-create-twice", "POST", "/admin/v1/eval-runs", 400, "manage",
         body={"set": "oa-golden", "models": ["oa-bot@1", "oa-bot@1"], "scorers": [{"type": "exact"}]}, code="invalid_value"),
    Case("eval-run-create-no-models", "POST", "/admin/v1/eval-runs", 400, "manage",
         body={"set": "oa-golden", "models": [], "scorers": [{"type": "exact"}]}, code="invalid_value"),
    Case("eval-run-create-no-scorers", "POST", "/admin/v1/eval-runs", 400, "manage", body={"set": "oa-golden", "models": ["oa-bot"]},
         code="missing_required_parameter"),
    Case("eval-run-create-repeated-scorer", "POST", "/admin/v1/eval-runs", 400, "manage",
         body={"set": "oa-golden", "models": ["oa-bot"], "scorers": [{"type": "exact"}, {"type": "exact"}]}, code="invalid_value"),
    Case("eval-run-create-misplaced-threshold", "POST", "/admin/v1/eval-runs", 400, "manage",
         body={"set": "oa-golden", "models": ["oa-bot"], "scorers": [{"type": "exact", "threshold": 0.5}]}, code="invalid_value"),
    Case("eval-run-create-bad-pattern", "POST", "/admin/v1/eval-runs", 400, "manage",
         body={"set": "oa-golden", "models": ["oa-bot"], "scorers": [{"type": "regex", "pattern": "("}]}, code="invalid_value"),
    Case("eval-run-create-judge-without-model", "POST", "/admin/v1/eval-runs", 400, "manage",
         body={"set": "oa-golden", "models": ["oa-bot"], "scorers": [{"type": "judge"}]}, code="missing_required_parameter"),
    Case("eval-run-create-bad-shared", "POST", "/admin/v1/eval-runs", 400, "manage",
         body={"set": "oa-golden", "models": ["oa-bot"], "scorers": [{"type": "exact"}], "shared": "yes"}, code="invalid_value"),
    Case("eval-run-create-bad-concurrency", "POST", "/admin/v1/eval-runs", 400, "manage",
         body={"set": "oa-golden", "models": ["oa-bot"], "scorers": [{"type": "exact"}], "concurrency": 9}, code="invalid_value"),
    Case("eval-run-create-unknown-field", "POST", "/admin/v1/eval-runs", 400, "manage",
         body={"set": "oa-golden", "models": ["oa-bot"], "scorers": [{"type": "exact"}], "items": 2}, code="unknown_parameter"),
    Case("eval-run-create-foreign-tenant", "POST", "/admin/v1/eval-runs", 404, "manage2",
         body={"set": "oa-golden", "tenant": "oa-one", "models": ["oa-bot"], "scorers": [{"type": "exact"}]}),
    Case("eval-run-create-inference-key", "POST", "/admin/v1/eval-runs", 403, "infer",
         body={"set": "oa-golden", "models": ["oa-bot"], "scorers": [{"type": "exact"}]}),
    Case("eval-run-create-no-key", "POST", "/admin/v1/eval-runs", 401, body={"set": "oa-golden", "models": ["oa-bot"], "scorers": [{"type": "exact"}]}),
    Case("eval-run-create-form", "POST", "/admin/v1/eval-runs", 415, "manage", raw=b"set=x", content_type="application/x-www-form-urlencoded"),
    Case("eval-run-create", "POST", "/admin/v1/eval-runs", 202, "manage",
         body={"set": "oa-golden", "set_version": 1, "models": ["oa-bot@1"], "scorers": [{"type": "contains"}]}),
    Case("eval-runs-list", "GET", "/admin/v1/eval-runs", 200, "op"),
    Case("eval-runs-list-tenant", "GET", "/admin/v1/eval-runs", 200, "op", query={"tenant": "oa-one", "limit": "2"}),
    Case("eval-runs-list-manage", "GET", "/admin/v1/eval-runs", 200, "manage"),
    Case("eval-runs-list-bad-limit", "GET", "/admin/v1/eval-runs", 400, "manage", query={"limit": "501"}, code="invalid_value"),
    Case("eval-runs-list-missing-tenant", "GET", "/admin/v1/eval-runs", 404, "op", query={"tenant": "no-such"}),
    Case("eval-runs-list-foreign-tenant", "GET", "/admin/v1/eval-runs", 404, "manage2", query={"tenant": "oa-one"}),
    Case("eval-runs-list-inference-key", "GET", "/admin/v1/eval-runs", 403, "infer"),
    Case("eval-run-get", "GET", "/admin/v1/eval-runs/{id}", 200, "manage", {"id": "<run>"}),
    Case("eval-run-get-op", "GET", "/admin/v1/eval-runs/{id}", 200, "op", {"id": "<run-slow>"}),
    Case("eval-run-get-foreign", "GET", "/admin/v1/eval-runs/{id}", 404, "manage2", {"id": "<run>"}, code="not_found"),
    Case("eval-run-get-missing", "GET", "/admin/v1/eval-runs/{id}", 404, "op", {"id": "evr_0000000000000000"}),
    Case("eval-run-get-inference-key", "GET", "/admin/v1/eval-runs/{id}", 403, "infer", {"id": "<run>"}),
    Case("eval-run-get-no-key", "GET", "/admin/v1/eval-runs/{id}", 401, None, {"id": "<run>"}),
    Case("eval-run-items", "GET", "/admin/v1/eval-runs/{id}/items", 200, "manage", {"id": "<run>"}),
    Case("eval-run-items-filtered", "GET", "/admin/v1/eval-runs/{id}/items", 200, "op", {"id": "<run>"},
         query={"model": "oa-bot", "failed": "true", "offset": "1", "limit": "1"}),
    Case("eval-run-items-bad-limit", "GET", "/admin/v1/eval-runs/{id}/items", 400, "manage", {"id": "<run>"}, query={"limit": "0"},
         code="invalid_value"),
    Case("eval-run-items-bad-offset", "GET", "/admin/v1/eval-runs/{id}/items", 400, "manage", {"id": "<run>"}, query={"offset": "-1"}),
    Case("eval-run-items-foreign", "GET", "/admin/v1/eval-runs/{id}/items", 404, "manage2", {"id": "<run>"}),
    Case("eval-run-items-no-key", "GET", "/admin/v1/eval-runs/{id}/items", 401, None, {"id": "<run>"}),
    Case("eval-run-cancel-foreign", "DELETE", "/admin/v1/eval-runs/{id}", 404, "manage", {"id": "<run-slow>"}),
    Case("eval-run-cancel", "DELETE", "/admin/v1/eval-runs/{id}", 200, "op", {"id": "<run-slow>"}),
    Case("eval-run-cancel-again", "DELETE", "/admin/v1/eval-runs/{id}", 409, "op", {"id": "<run-slow>"}, code="conflict"),
    Case("eval-run-cancel-missing", "DELETE", "/admin/v1/eval-runs/{id}", 404, "op", {"id": "evr_0000000000000000"}),
    Case("eval-run-cancel-inference-key", "DELETE", "/admin/v1/eval-runs/{id}", 403, "infer", {"id": "<run>"}),
    Case("eval-run-cancel-no-key", "DELETE", "/admin/v1/eval-runs/{id}", 401, None, {"id": "<run>"}),
]


def _fill(oa: OAWorld, value: Any) -> Any:
    """`<name>` stands for oa.ids[name] (an id made by the fixture), in path parameters, the query and the body's
    top-level string values."""
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        return oa.ids.get(value[1:-1], value)
    return value


def _send_case(oa: OAWorld, case: Case) -> requests.Response:
    params = {k: _fill(oa, v) for k, v in case.params.items()}
    path = case.template.format(**params)
    query = {k: _fill(oa, v) for k, v in case.query.items()} if case.query is not None else None
    body = {k: _fill(oa, v) for k, v in case.body.items()} if isinstance(case.body, dict) else case.body
    headers = {k: _fill(oa, v) for k, v in case.headers.items()}
    if case.content_type:
        headers["Content-Type"] = case.content_type
    return oa.send(case.method, path, case.auth, json_body=body, data=case.raw, headers=headers or None, params=query)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_operation_answers_as_documented(oa: OAWorld, contract: Contract, case: Case):
    r = _send_case(oa, case)
    expected = case.expect if isinstance(case.expect, tuple) else (case.expect,)
    assert r.status_code in expected, (
        f"{case.method} {case.template} ({case.id}) -> {r.status_code}, wanted {expected}: {r.text[:500]}"
    )
    contract.check(case.method, case.template, r)
    if case.code is not None:
        assert r.json()["error"]["code"] == case.code, r.text
    if r.status_code >= 400:
        assert r.headers.get("content-type", "").startswith("application/json"), r.headers


def test_every_operation_has_a_case(contract: Contract):
    """The cases above cover every documented operation, and each operation's success status."""
    covered = {(c.method, c.template) for c in CASES}
    missing = [f"{m} {t}" for m, t, _ in contract.operations() if (m, t) not in covered]
    assert not missing, f"operations without a case in CASES: {missing}"
    for method, template, op in contract.operations():
        successes = {s for s in op["responses"] if s.startswith("2")}
        tried = {
            str(e)
            for c in CASES
            if (c.method, c.template) == (method, template)
            for e in (c.expect if isinstance(c.expect, tuple) else (c.expect,))
        }
        assert successes <= tried, f"{method} {template}: no case expects {sorted(successes - tried)}"


def _request_schema(contract: Contract, method: str, template: str) -> dict:
    body = contract.resolve(contract.operation(method, template)["requestBody"])
    return body["content"]["application/json"]["schema"]


def test_accepted_bodies_match_the_request_schemas(contract: Contract):
    """Every body that a case expects to succeed is valid against the operation's documented request schema."""
    for case in CASES:
        expected = case.expect if isinstance(case.expect, tuple) else (case.expect,)
        if case.body is None or not all(200 <= e < 300 for e in expected):
            continue
        contract.validate(
            _request_schema(contract, case.method, case.template), case.body, f"{case.id}: request body"
        )


# Bodies the server refuses (400) for reasons the request schemas can express: the schemas must refuse them too.
REFUSED_BODIES = [
    ("POST", "/admin/v1/models", {"name": "m", "spec": {"adapter": "a", "model": "m"}}),
    ("POST", "/admin/v1/models", {"name": "m", "spec": {"adapter": "a", "deployments": [{"upstream": "u", "model": "m"}]}}),
    ("POST", "/admin/v1/models", {"name": "m", "spec": {**SPEC_OK, "prompt": {"name": "p", "version": 1, "label": "x"}}}),
    ("POST", "/admin/v1/models", {"name": "m", "spec": {**SPEC_OK, "prompt": {"name": "p", "tag": "x"}}}),
    ("POST", "/admin/v1/models", {"name": "m", "spec": {**SPEC_OK, "prompt": {**PLAIN_PROMPT, "name": "p"}}}),
    ("POST", "/admin/v1/models", {"name": "m", "spec": {**SPEC_OK, "prompt": {"messages": []}}}),
    ("POST", "/admin/v1/prompts", {"name": "p", **PLAIN_PROMPT, "variables": {"input": {}}}),
    ("POST", "/admin/v1/prompts", {"name": "p", **PLAIN_PROMPT, "variables": {"1x": {}}}),
    ("POST", "/admin/v1/prompts", {"name": "p", **PLAIN_PROMPT, "variables": {"x": {"dflt": "a"}}}),
    ("POST", "/admin/v1/prompts", {"name": "p", "messages": [{"role": "tool", "content": "x"}]}),
    ("POST", "/admin/v1/prompts", {"name": "p", "messages": [{"role": "user", "content": "x", "weight": 1}]}),
    ("POST", "/admin/v1/prompts", {"name": "p", **PLAIN_PROMPT, "labels": ["7"]}),
    ("POST", "/admin/v1/prompts", {"name": "p", **PLAIN_PROMPT, "version": 2}),
    ("PUT", "/admin/v1/prompts/{name}/labels", {}),
    ("PUT", "/admin/v1/prompts/{name}/labels", {"12": 1}),
    ("PUT", "/admin/v1/prompts/{name}/labels", {"x": 0}),
    ("POST", "/admin/v1/adapters", {"name": "a", **ADAPTER, "lora_id": 0}),
    ("POST", "/admin/v1/adapters", {"name": "a", "upstream": "u", "base_model": "b"}),
    ("POST", "/admin/v1/adapters", {"name": "a", **ADAPTER, "lora_scale": 1}),
    ("POST", "/admin/v1/adapters", {"name": "a", **ADAPTER, "method": "magic"}),
    ("POST", "/admin/v1/adapters", {"name": "a", **ADAPTER, "rank": 8}),
    ("POST", "/admin/v1/models", {"name": "m", "spec": {**SPEC_OK, "knowledge": {"bases": []}}}),
    ("POST", "/admin/v1/models", {"name": "m", "spec": {**SPEC_OK, "knowledge": {"bases": ["k"], "template": "x"}}}),
    ("POST", "/admin/v1/models", {"name": "m", "spec": {**SPEC_OK, "knowledge": {"bases": ["k"], "depth": 2}}}),
    ("POST", "/admin/v1/models", {"name": "m", "spec": {**SPEC_OK, "capture": {"retention_days": 3}}}),
    ("POST", "/admin/v1/tenants", {"name": "t", "rpm": 0}),
    ("POST", "/admin/v1/tenants/{tenant}/keys", {"concurrency": 0}),
    ("PATCH", "/admin/v1/tenants/{tenant}", {"tpm": 0}),
    ("PATCH", "/admin/v1/tenants/{tenant}", {"capture": {"enabled": "yes"}}),
    ("PATCH", "/admin/v1/tenants/{tenant}", {"capture": {"enabled": True, "days": 3}}),
    ("PATCH", "/admin/v1/tenants/{tenant}", {"name": "t"}),
    ("POST", "/admin/v1/upstreams", {"name": "u", "base_url": "http://x", "pricing": {"gpu_hour": 2.5}}),
    ("POST", "/admin/v1/upstreams", {"name": "u", "base_url": "http://x", "pricing": {"per_token": 1}}),
    ("POST", "/v1/feedback", {"request_id": "r", "rating": 0}),
    ("POST", "/v1/feedback", {"request_id": "r", "rating": 5}),
    ("POST", "/v1/feedback", {"rating": 1}),
    ("POST", "/v1/responses", {"model": "m"}),
    ("POST", "/v1/responses", {"model": "m", "input": "x", "modle": "y"}),
    ("POST", "/v1/responses", {"model": "m", "input": "x", "background": True}),
    ("POST", "/v1/responses", {"model": "m", "input": "x", "include": ["message.output_text.logprobs"]}),
    ("POST", "/v1/responses", {"model": "m", "input": []}),
    ("POST", "/v1/feedback", {"request_id": "r", "rating": 1, "stars": 5}),
    ("POST", "/v1/knowledge-bases/{kb}/search", {}),
    ("POST", "/v1/knowledge-bases/{kb}/search", {"query": "q", "mode": "semantic"}),
    ("POST", "/v1/knowledge-bases/{kb}/search", {"query": "q", "top_k": 51}),
    ("POST", "/v1/knowledge-bases/{kb}/search", {"query": "q", "k": 1}),
    ("POST", "/admin/v1/knowledge-bases", {"name": "k", "tenant": "t", "embedding": {"upstream": "u"}}),
    ("POST", "/admin/v1/knowledge-bases", {"name": "k", "tenant": "t", "chunk_size": 16}),
    ("POST", "/admin/v1/knowledge-bases", {"name": "-k", "tenant": "t"}),
    ("POST", "/admin/v1/knowledge-bases", {"name": "k", "tenant": "t", "model": "m"}),
    ("POST", "/admin/v1/knowledge-bases/{kb}/documents", {"title": "t"}),
    ("POST", "/admin/v1/knowledge-bases/{kb}/documents", {"title": "t", "text": "x", "content_type": "application/pdf"}),
    ("POST", "/admin/v1/knowledge-bases/{kb}/documents", {"title": "t", "text": "x", "metadata": "m"}),
    ("POST", "/admin/v1/knowledge-bases/{kb}/documents", {"title": "t", "text": "x", "author": "a"}),
    ("POST", "/admin/v1/models", {"name": "m", "spec": {"router": {"default": "a"}, **SPEC_OK}}),
    ("POST", "/admin/v1/models", {"name": "m", "spec": {"router": {"default": "a"}, "params": {}}}),
    ("POST", "/admin/v1/models", {"name": "m", "spec": {"router": {"routes": [{"model": "a"}], "default": "a"}}}),
    ("POST", "/admin/v1/models", {"name": "m", "spec": {"router": {"routes": [{"when": {"max_tokens": 3}, "model": "a"}], "default": "a"}}}),
    ("POST", "/admin/v1/models", {"name": "m", "spec": {"router": {"default": "a", "cascade": {"escalate_to": "b", "when": ["slow"]}}}}),
    ("POST", "/admin/v1/models", {"name": "m", "spec": {"router": {"default": "a", "cascade": {"when": ["empty"]}}}}),
    ("POST", "/admin/v1/eval-sets", {"name": "s", "items": []}),
    ("POST", "/admin/v1/eval-sets", {"name": "s", "items": [{"input": "q", "messages": MESSAGES}]}),
    ("POST", "/admin/v1/eval-sets", {"name": "s", "items": [{"expected": "a"}]}),
    ("POST", "/admin/v1/eval-sets", {"name": "s", "items": [{"input": "q", "answer": "a"}]}),
    ("POST", "/admin/v1/eval-sets", {"name": "s", "items": [{"input": "q", "expected": {"a": 1}}]}),
    ("POST", "/admin/v1/eval-sets/{name}/from-feedback", {"model": "m", "limit": 5}),
    ("POST", "/admin/v1/eval-runs", {"set": "s", "models": ["m"]}),
    ("POST", "/admin/v1/eval-runs", {"set": "s", "models": [], "scorers": [{"type": "exact"}]}),
    ("POST", "/admin/v1/eval-runs", {"set": "s", "models": ["m"], "scorers": [{"type": "exact", "threshold": 0.5}]}),
    ("POST", "/admin/v1/eval-runs", {"set": "s", "models": ["m"], "scorers": [{"type": "judge"}]}),
    ("POST", "/admin/v1/eval-runs", {"set": "s", "models": ["m"], "scorers": [{"type": "contains", "pattern": "x"}]}),
    ("POST", "/admin/v1/eval-runs", {"set": "s", "models": ["m"], "scorers": [{"type": "regex", "rubric": "x"}]}),
    ("POST", "/admin/v1/eval-runs", {"set": "s", "models": ["m"], "scorers": [{"type": "exact"}], "concurrency": 9}),
    ("POST", "/admin/v1/eval-runs", {"set": "s", "models": ["m"], "scorers": [{"type": "exact"}], "shared": "yes"}),
]


@pytest.mark.parametrize("method,template,body", REFUSED_BODIES, ids=[f"{m} {t} #{i}" for i, (m, t, _) in enumerate(REFUSED_BODIES)])
def test_refused_bodies_do_not_match_the_request_schemas(contract: Contract, method: str, template: str, body: Any):
    schema = _request_schema(contract, method, template)
    with pytest.raises(AssertionError):
        contract.validate(schema, body, "request body")


def test_tenant_scoped_answers(oa: OAWorld, contract: Contract):
    """What a manage key sees is its own tenant only, and a created key shows its secret once."""
    r = oa.send("GET", "/admin/v1/tenants", "manage")
    contract.check("GET", "/admin/v1/tenants", r)
    assert [t["name"] for t in r.json()["data"]] == ["oa-one"], r.text

    r = oa.send("GET", "/admin/v1/tenants/oa-one/keys", "op")
    contract.check("GET", "/admin/v1/tenants/{tenant}/keys", r)
    assert r.json()["data"] and all("key" not in k for k in r.json()["data"]), r.text

    r = oa.send("GET", "/admin/v1/audit", "op", params={"limit": "1"})
    contract.check("GET", "/admin/v1/audit", r)
    assert len(r.json()["data"]) == 1 and r.json()["has_more"] is True, r.text


def test_prompt_repost_adds_a_version_only_when_it_changed(oa: OAWorld, contract: Contract):
    """201 with a new version when the definition changed; 200 `created: false` with the latest when it did not
    (labels in the body still move); a label can then be pointed at an older version."""
    name = f"oa-rp-{RUN}"
    body = {"name": name, "tenant": "oa-two", **GREET}

    def post(b: dict) -> dict:
        r = oa.send("POST", "/admin/v1/prompts", "op", json_body=b)
        contract.check("POST", "/admin/v1/prompts", r)
        return {"status": r.status_code, **r.json()}

    first = post(body)
    assert (first["status"], first["created"], first["version"], first["tenant"]) == (201, True, 1, "oa-two"), first
    again = post(body)
    assert (again["status"], again["created"], again["version"], again["latest_version"]) == (200, False, 1, 1), again
    assert again["id"] == first["id"] and len(again["versions"]) == 1, again
    changed = post({**body, "messages": GREET["messages"][:1], "labels": ["production"]})
    assert (changed["status"], changed["created"], changed["version"], changed["latest_version"]) == (201, True, 2, 2), changed
    assert changed["labels"] == {"production": 2}, changed
    assert [v["version"] for v in changed["versions"]] == [1, 2], changed
    relabelled = post({**body, "messages": GREET["messages"][:1], "labels": ["stable"]})
    assert (relabelled["status"], relabelled["created"], relabelled["version"]) == (200, False, 2), relabelled
    assert relabelled["labels"] == {"production": 2, "stable": 2}, relabelled

    r = oa.send("PUT", f"/admin/v1/prompts/{name}/labels", "op", json_body={"production": 1, "stable": None})
    contract.check("PUT", "/admin/v1/prompts/{name}/labels", r)
    assert r.status_code == 200 and r.json()["labels"] == {"production": 1}, r.text
    r = oa.send("GET", f"/admin/v1/prompts/{name}", "manage2")
    contract.check("GET", "/admin/v1/prompts/{name}", r)
    assert r.status_code == 200 and r.json()["labels"] == {"production": 1}, r.text
    assert r.json()["versions"][0]["variables"] == GREET["variables"], r.text


def test_manage_keys_see_their_tenants_library_only(oa: OAWorld, contract: Contract):
    for path, names in (("/admin/v1/prompts", {"oa-greet", "oa-shared-p", "oa-dup-p"}),
                        ("/admin/v1/adapters", {"oa-lora", "oa-shared-a", "oa-dup-a"})):
        r = oa.send("GET", path, "manage")
        contract.check("GET", path, r)
        data = r.json()["data"]
        seen = {o["name"] for o in data}
        assert names <= seen, (path, seen)
        assert all(o["tenant"] in ("oa-one", None) for o in data), (path, data)
        r = oa.send("GET", path, "manage2")
        contract.check("GET", path, r)
        assert "oa-greet" not in {o["name"] for o in r.json()["data"]}, r.text
        assert "oa-lora" not in {o["name"] for o in r.json()["data"]}, r.text


def test_model_versions_show_what_they_resolve_to(oa: OAWorld, contract: Contract):
    def resolved(model: str, version: int = 1) -> dict:
        r = oa.send("GET", f"/admin/v1/models/{model}", "op", params={"tenant": "oa-one"})
        contract.check("GET", "/admin/v1/models/{name}", r)
        assert r.status_code == 200, r.text
        return next(v for v in r.json()["versions"] if v["version"] == version)["resolved"]

    base_target = [{"upstream": "local", "model": UPSTREAM_CHAT_MODEL, "weight": 1}]
    assert resolved("oa-bot") == {"targets": base_target, "prompt": None, "params": PARAMS}
    assert resolved("oa-prompted") == {
        "targets": base_target, "prompt": {"name": "oa-greet", "version": 1, "label": "production"}, "params": PARAMS}
    assert resolved("oa-inline") == {"targets": base_target, "prompt": {"inline": True}, "params": PARAMS}
    assert resolved("oa-adapted") == {
        "adapter": {"name": "oa-lora", "base_model": UPSTREAM_CHAT_MODEL, "method": "lora"},
        "targets": [{"upstream": "local", "model": UPSTREAM_CHAT_MODEL}],
        "prompt": {"name": "oa-greet", "version": 1},
        "params": PARAMS,
    }

    # A version that follows the latest prompt version, with fallbacks.
    r = oa.send("POST", "/admin/v1/models/oa-adapted/versions", "op", params={"tenant": "oa-one"},
                json_body={"spec": {"adapter": "oa-lora", "prompt": {"name": "oa-greet"},
                                    "fallbacks": [{"upstream": "local", "model": UPSTREAM_CHAT_MODEL}]}})
    contract.check("POST", "/admin/v1/models/{name}/versions", r)
    assert r.status_code == 201, r.text
    latest = resolved("oa-adapted", r.json()["version"])
    assert latest["prompt"] == {"name": "oa-greet", "version": 1, "follows": "latest"}, latest
    assert latest["fallbacks"] == [{"upstream": "local", "model": UPSTREAM_CHAT_MODEL}], latest


def test_streamed_chat_usage_chunk(oa: OAWorld, contract: Contract):
    r = oa.send("POST", "/v1/chat/completions", "infer",
                json_body={**CHAT, "stream": True, "stream_options": {"include_usage": True}})
    contract.check("POST", "/v1/chat/completions", r)
    assert r.headers["content-type"].startswith("text/event-stream"), r.headers
    chunks = [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:") and "[DONE]" not in line]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0, chunks[-1]
    assert all(c["model"] == "assistant" for c in chunks), chunks


def test_revoked_key_is_refused_at_once(oa: OAWorld, contract: Contract):
    created = oa.send("POST", "/admin/v1/tenants/oa-one/keys", "op", json_body={"name": "oa-short-lived"})
    contract.check("POST", "/admin/v1/tenants/{tenant}/keys", created)
    secret, key_id = created.json()["key"], created.json()["id"]
    ok = oa.send("GET", "/v1/models", secret)
    contract.check("GET", "/v1/models", ok)
    assert ok.status_code == 200, ok.text
    revoked = oa.send("DELETE", f"/admin/v1/keys/{key_id}", "op")
    contract.check("DELETE", "/admin/v1/keys/{id}", revoked)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True, revoked.text
    refused = oa.send("GET", "/v1/models", secret)
    contract.check("GET", "/v1/models", refused)
    assert refused.status_code == 401, refused.text


def test_chunked_body_over_the_limit_is_413(oa: OAWorld, contract: Contract):
    def chunks():
        yield b'{"name": "'
        for _ in range(80):
            yield b"a" * 1024
        yield b'"}'

    r = requests.post(
        oa.url + "/admin/v1/tenants",
        data=chunks(),
        headers={"Authorization": f"Bearer {oa.keys['op']}", "Content-Type": "application/json"},
        timeout=30,
    )
    contract.check("POST", "/admin/v1/tenants", r)
    assert r.status_code == 413, r.text


def test_rag_answers_cite_their_passages(oa: OAWorld, contract: Contract):
    """A RAG model's completion carries `citations` whose passages come from its knowledge base; a stream carries
    them on its first chunk only."""
    r = oa.send("POST", "/v1/chat/completions", "infer", json_body=RAG_CHAT)
    contract.check("POST", "/v1/chat/completions", r)
    assert r.status_code == 200, r.text
    citations = r.json()["citations"]
    assert citations and [c["index"] for c in citations] == list(range(1, len(citations) + 1)), citations
    assert oa.ids["doc"] in {c["document_id"] for c in citations}, citations

    r = oa.send("POST", "/v1/chat/completions", "infer", json_body={**RAG_CHAT, "stream": True})
    contract.check("POST", "/v1/chat/completions", r)
    chunks = [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:") and "[DONE]" not in line]
    assert chunks[0]["citations"] == citations, chunks[0]
    assert all("citations" not in c for c in chunks[1:]), chunks

    r = oa.send("POST", "/v1/chat/completions", "infer", json_body=CHAT)
    assert r.status_code == 200 and "citations" not in r.json(), r.text


def test_limits_answer_429_with_retry_after_and_ratelimit_headers(oa: OAWorld, contract: Contract):
    r = oa.send("POST", "/v1/chat/completions", "metered", json_body=CHAT)
    contract.check("POST", "/v1/chat/completions", r)
    assert r.status_code == 200, r.text
    assert r.headers["x-ratelimit-limit-requests"] == "100000", r.headers
    assert r.headers["x-ratelimit-limit-tokens"] == "100000000", r.headers
    for name in ("remaining-requests", "reset-requests", "remaining-tokens", "reset-tokens"):
        assert f"x-ratelimit-{name}" in r.headers, (name, r.headers)

    r = oa.send("POST", "/v1/chat/completions", "infer", json_body=CHAT)
    assert not any(h.startswith("x-ratelimit-") for h in r.headers), r.headers  # no limit, no headers

    r = oa.send("POST", "/v1/chat/completions", "limited", json_body=CHAT)
    contract.check("POST", "/v1/chat/completions", r)
    assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limit_error", r.text
    assert r.headers["retry-after"] == "60" and r.headers["x-ratelimit-limit-tokens"] == "1", r.headers

    r = oa.send("POST", "/v1/embeddings", "quota", json_body={"model": "embedder", "input": "a few words here"})
    contract.check("POST", "/v1/embeddings", r)
    assert r.status_code == 429, r.text
    assert r.json()["error"]["type"] == r.json()["error"]["code"] == "insufficient_quota", r.text
    assert int(r.headers["retry-after"]) >= 1, r.headers


def test_tenant_settings_round_trip(oa: OAWorld, contract: Contract):
    name = f"oa-set-{RUN}"
    r = oa.send("POST", "/admin/v1/tenants", "op", json_body={"name": name, "tpm": 5000})
    contract.check("POST", "/admin/v1/tenants", r)
    assert r.status_code == 201 and r.json()["tpm"] == 5000 and r.json()["rpm"] is None, r.text
    r = oa.send("PATCH", f"/admin/v1/tenants/{name}", "op",
                json_body={"rpm": 60, "capture": {"enabled": True}, "monthly_token_quota": 10})
    contract.check("PATCH", "/admin/v1/tenants/{tenant}", r)
    t = r.json()
    assert (t["rpm"], t["tpm"], t["monthly_token_quota"], t["capture"]) == (60, 5000, 10, {"enabled": True, "retention_days": 30}), t
    r = oa.send("PATCH", f"/admin/v1/tenants/{name}", "op", json_body={"tpm": None, "capture": None})
    contract.check("PATCH", "/admin/v1/tenants/{tenant}", r)
    r = oa.send("GET", f"/admin/v1/tenants/{name}", "op")
    contract.check("GET", "/admin/v1/tenants/{tenant}", r)
    t = r.json()
    assert (t["rpm"], t["tpm"], t["monthly_token_quota"], t["capture"]) == (60, None, 10, None), t
    r = oa.send("GET", "/admin/v1/audit", "op", params={"action": "tenant.update", "target": f"tenant:{name}"})
    contract.check("GET", "/admin/v1/audit", r)
    assert [e["action"] for e in r.json()["data"]] == ["tenant.update", "tenant.update"], r.text


def test_knowledge_base_documents_are_searchable_and_deletable(oa: OAWorld, contract: Contract):
    kb = f"oa-life-{RUN}"
    r = oa.send("POST", "/admin/v1/knowledge-bases", "manage", json_body={"name": kb, "chunk_size": 64})
    contract.check("POST", "/admin/v1/knowledge-bases", r)
    assert r.status_code == 201 and r.json()["tenant"] == "oa-one" and r.json()["documents"] == 0, r.text
    r = oa.send("POST", f"/admin/v1/knowledge-bases/{kb}/documents", "manage", params={"title": "Fleet"},
                data=b"# Fleet cover\n\nVans used for deliveries are covered under the fleet policy.",
                headers={"Content-Type": "text/markdown"})
    contract.check("POST", "/admin/v1/knowledge-bases/{kb}/documents", r)
    doc = r.json()
    assert r.status_code == 201 and doc["created"] is True and doc["content_type"] == "text/markdown", doc

    def search() -> list[dict]:
        r = oa.send("POST", f"/v1/knowledge-bases/{kb}/search", "infer", json_body={"query": "delivery vans"})
        contract.check("POST", "/v1/knowledge-bases/{kb}/search", r)
        assert r.status_code == 200 and r.json()["mode"] == "keyword", r.text
        return r.json()["data"]

    hits = search()
    assert hits and hits[0]["document_id"] == doc["id"] and hits[0]["title"] == "Fleet", hits
    r = oa.send("GET", f"/admin/v1/knowledge-bases/{kb}", "manage")
    contract.check("GET", "/admin/v1/knowledge-bases/{kb}", r)
    assert (r.json()["documents"], r.json()["chunks"]) == (1, doc["chunks"]), r.text
    r = oa.send("DELETE", f"/admin/v1/knowledge-bases/{kb}/documents/{doc['id']}", "manage")
    contract.check("DELETE", "/admin/v1/knowledge-bases/{kb}/documents/{id}", r)
    assert r.json() == {"id": doc["id"], "object": "document", "deleted": True}, r.text
    assert search() == []
    r = oa.send("GET", f"/admin/v1/knowledge-bases/{kb}/documents", "manage")
    contract.check("GET", "/admin/v1/knowledge-bases/{kb}/documents", r)
    assert r.json() == {"object": "list", "data": [], "has_more": False}, r.text


def test_feedback_reaches_the_usage_report_and_the_dataset_export(oa: OAWorld, contract: Contract):
    """oa-two captures interactions: a rated, corrected answer shows in the usage report's `negative` and in both
    export formats."""
    r = oa.send("PATCH", "/admin/v1/tenants/oa-two", "op", json_body={"capture": {"enabled": True}})
    assert r.status_code == 200, r.text
    question = f"Which colour is the sky? ({RUN})"
    r = oa.send("POST", "/v1/chat/completions", "infer2",
                json_body={"model": "assistant", "messages": [{"role": "user", "content": question}], "max_tokens": 4})
    assert r.status_code == 200, r.text
    request_id = r.headers["x-request-id"]
    r = oa.send("POST", "/v1/feedback", "infer2", json_body={"request_id": request_id, "rating": -1, "correction": "Blue."})
    contract.check("POST", "/v1/feedback", r)
    fb = r.json()
    assert r.status_code == 201 and (fb["model"], fb["model_version"], fb["rating"]) == ("assistant", 1, -1), fb

    def lines(fmt: str) -> list[dict]:
        r = oa.send("GET", "/admin/v1/datasets/export", "manage2", params={"format": fmt, "model": "assistant"})
        contract.check("GET", "/admin/v1/datasets/export", r)
        assert r.status_code == 200, r.text
        assert r.headers["content-disposition"] == f'attachment; filename="assistant-{fmt}.jsonl"', r.headers
        return [json.loads(line) for line in r.text.splitlines()]

    deadline = time.monotonic() + 10
    while True:
        sft = [l for l in lines("openai-sft") if any(m.get("content") == question for m in l["messages"])]
        if sft or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert len(sft) == 1 and sft[0]["messages"][-1] == {"role": "assistant", "content": "Blue."}, sft
    dpo = [l for l in lines("openai-dpo") if any(m.get("content") == question for m in l["input"]["messages"])]
    assert len(dpo) == 1 and dpo[0]["preferred_output"] == [{"role": "assistant", "content": "Blue."}], dpo

    r = oa.send("GET", "/admin/v1/usage", "manage2", params={"group_by": "model", "model": "assistant"})
    contract.check("GET", "/admin/v1/usage", r)
    rows = r.json()["data"]
    assert len(rows) == 1 and rows[0]["model"] == "assistant" and rows[0]["negative"] >= 1 and rows[0]["requests"] >= 2, rows
    assert r.json()["group_by"] == ["model"] and "x-trellis-query-ms" in r.headers, r.headers


# --------------------------------------------------------------------------- route coverage


def _concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "oa-probe", template)


def test_every_documented_route_is_served(oa: OAWorld, contract: Contract):
    """Each documented method answers on its path (no key: 401 under /v1 and /admin/v1, which proves the route
    matched, since unknown paths answer 404 before authentication); each other method answers 405 with `Allow`
    listing exactly the documented methods."""
    problems = []
    for template, item in contract.spec["paths"].items():
        path = _concrete(template)
        documented = {m.upper() for m in HTTP_METHODS if m in item}
        for method in sorted(documented):
            r = oa.send(method, path, None, json_body={} if method in ("POST", "PUT", "PATCH") else None)
            wanted = 401 if template.startswith(("/v1/", "/admin/v1/")) else None
            if wanted is not None and r.status_code != wanted:
                problems.append(f"{method} {path}: {r.status_code}, wanted {wanted} (route missing?): {r.text[:200]}")
            elif wanted is None and r.status_code in (404, 405):
                problems.append(f"{method} {path}: {r.status_code}: {r.text[:200]}")
            else:
                contract.check(method, template, r)
        for method in PROBED_METHODS:
            if method in documented:
                continue
            r = oa.send(method, path, None)
            if r.status_code != 405:
                problems.append(f"{method} {path}: {r.status_code}, wanted 405 (an undocumented method is served?)")
                continue
            allowed = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
            if allowed != documented:
                problems.append(f"{path}: Allow is {sorted(allowed)}, the spec documents {sorted(documented)}")
            contract.check_response(
                contract.resolve(contract.spec["components"]["responses"]["MethodNotAllowed"]), r, f"{method} {path} -> 405"
            )
    assert not problems, "\n".join(problems)


# Paths the server must not answer. Should one start answering, document it in docs/openapi.yaml and move it
# out of this list.
UNDOCUMENTED = [
    ("GET", "/v1/knowledge-bases"),
    ("GET", "/v1/knowledge-bases/oa-kb"),
    ("GET", "/v1/feedback/req_000000000000000000000000"),
    ("GET", "/admin/v1/feedback"),
    ("GET", "/admin/v1/datasets"),
    ("GET", "/admin/v1/usage/daily"),
    ("GET", "/admin/v1/knowledge-bases/oa-kb/documents/doc/chunks"),
    ("POST", "/v1/completions"),
    ("GET", "/v2/models"),
    ("GET", "/admin/v1/keys"),
    ("GET", "/admin/v1/prompts/oa-greet/versions"),
    ("GET", "/admin/v1/prompts/oa-greet/labels/production"),
    ("GET", "/admin/v1/adapters/oa-lora/models"),
    ("GET", "/admin/v1/tenants/oa-one/keys/extra"),
    ("GET", "/v1/models/a/b"),
    ("GET", "/admin"),
    ("GET", "/nope"),
]


@pytest.mark.parametrize("method,path", UNDOCUMENTED, ids=[f"{m} {p}" for m, p in UNDOCUMENTED])
def test_undocumented_path_is_404(oa: OAWorld, contract: Contract, method: str, path: str):
    documented = any(
        re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)), path) for t in contract.spec["paths"]
    )
    assert not documented, f"{path} is documented; take it out of UNDOCUMENTED"
    r = oa.send(method, path, "op", json_body={} if method in ("POST", "PUT") else None)
    assert r.status_code == 404, f"{method} {path} answered {r.status_code}: document it in docs/openapi.yaml: {r.text[:300]}"
    contract.check_response(contract.resolve(contract.spec["components"]["responses"]["RouteNotFound"]), r, f"{method} {path}")
    assert r.json()["error"]["code"] == "not_found", r.text
