"""Contract test: docs/openapi.yaml against the live gateway.

1. The document is a valid OpenAPI 3.1 description, every 4xx/5xx answer uses the shared error schema, and every
   response declares `x-request-id` (chat and embeddings successes also `x-trellis-model-version`).
2. A representative call of every operation, successes and error cases alike (401, 403, 404, 400, 409, 413,
   415, ...), is sent to the gateway; the status must be documented for that operation, the documented headers
   present, and the body valid against the documented schema (streams: every event).
3. Route coverage both ways: every documented path answers its documented methods (401 without a key proves
   the route is there) and 405 with `Allow` = exactly the documented methods for the others; a list of
   undocumented paths (including routes api.md plans but the server does not have yet) answers 404.

Schemas are checked with jsonschema's Draft 2020-12 validator (OpenAPI 3.1's dialect), `$ref`s resolved inside
the document. This module makes its own tenants (`oa-one`, `oa-two`) so the rest of the suite is unaffected.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator, FormatChecker

from conftest import REPO, UPSTREAM_CHAT_MODEL, World

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
        assert events and events[-1] == "[DONE]", f"{what}: a stream must end with data: [DONE]: {text[-500:]}"
        assert "[DONE]" not in events[:-1], f"{what}: [DONE] before the end: {text[:1000]}"
        schema = media.get("x-sse-data-schema")
        assert schema, f"{what}: text/event-stream without x-sse-data-schema"
        for i, event in enumerate(events[:-1]):
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
NOT_OPENAI_SHAPED = {("GET", "/readyz", "503")}


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
        if template.startswith("/v1/"):
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
    spec = {"upstream": "local", "model": UPSTREAM_CHAT_MODEL, "params": {"max_tokens": 4, "temperature": 0}}
    admin.post("/models", {"name": "oa-bot", "tenant": "oa-one", "spec": spec})
    for tenant in ("oa-one", "oa-two"):
        admin.post("/models", {"name": "oa-dup", "tenant": tenant, "spec": spec})
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


SPEC_OK = {"upstream": "local", "model": UPSTREAM_CHAT_MODEL}
CHAT = {"model": "assistant", "messages": MESSAGES, "max_tokens": 4}
BIG_V1 = b" " * ((8 << 20) + 1)  # over the default server.max_body_bytes
BIG_ADMIN = json.dumps({"name": "a" * 70_000}).encode()  # over the administration limit (64 KiB)

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
         body={"model": "oa-bot@1", "messages": MESSAGES, "user": "u1", "variables": {"x": "y"}}),
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
    # keys
    Case("key-create", "POST", "/admin/v1/tenants/{tenant}/keys", 201, "op", {"tenant": "oa-one"},
         body={"name": "k", "scopes": ["inference", "usage"], "models": ["oa-*"], "rpm": 60, "tpm": 1000,
               "expires_at": "2099-01-01T00:00:00Z"}),
    Case("key-create-defaults", "POST", "/admin/v1/tenants/{tenant}/keys", 201, "manage", {"tenant": "oa-one"}, body={}),
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
         body={"name": f"oa-up-{RUN}", "base_url": "https://models.invalid/v1", "kind": "openai", "labels": ["external"],
               "api_key_env": "OA_NOT_SET", "timeouts": {"connect_ms": 1000}}),
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
    Case("model-create-foreign-tenant", "POST", "/admin/v1/models", 404, "manage2",
         body={"name": "oa-x", "tenant": "oa-one", "spec": SPEC_OK}),
    Case("model-create-inference-key", "POST", "/admin/v1/models", 403, "infer", body={"name": "oa-x", "spec": SPEC_OK}),
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
    Case("admin-model-get-foreign", "GET", "/admin/v1/models/{name}", 404, "manage2", {"name": "oa-bot"}),
    Case("admin-model-get-inference-key", "GET", "/admin/v1/models/{name}", 403, "infer", {"name": "oa-bot"}),
    Case("version-create", "POST", "/admin/v1/models/{name}/versions", 201, "op", {"name": "oa-bot"},
         body={"spec": {**SPEC_OK, "params": {"max_tokens": 2}}}),
    Case("version-create-own", "POST", "/admin/v1/models/{name}/versions", 201, "manage", {"name": "oa-bot"},
         body={"spec": SPEC_OK}),
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
    # audit
    Case("audit", "GET", "/admin/v1/audit", 200, "op"),
    Case("audit-page", "GET", "/admin/v1/audit", 200, "op", query={"limit": "2", "before": "1000000"}),
    Case("audit-tenant", "GET", "/admin/v1/audit", 200, "op", query={"tenant": "oa-one"}),
    Case("audit-missing-tenant", "GET", "/admin/v1/audit", 404, "op", query={"tenant": "no-such"}),
    Case("audit-manage", "GET", "/admin/v1/audit", 200, "manage"),
    Case("audit-inference-key", "GET", "/admin/v1/audit", 403, "infer"),
    Case("audit-no-key", "GET", "/admin/v1/audit", 401),
]


def _send_case(oa: OAWorld, case: Case) -> requests.Response:
    params = {k: oa.ids.get(v[1:-1], v) if v.startswith("<") else v for k, v in case.params.items()}
    path = case.template.format(**params)
    headers = {"Content-Type": case.content_type} if case.content_type else None
    return oa.send(
        case.method, path, case.auth, json_body=case.body, data=case.raw, headers=headers, params=case.query
    )


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


# Paths the server must not answer. The api.md routes here are planned but not implemented: when one starts
# answering, document it in docs/openapi.yaml and move it out of this list.
UNDOCUMENTED = [
    ("POST", "/v1/feedback"),  # api.md
    ("POST", "/v1/knowledge-bases/kb/search"),  # api.md
    ("POST", "/admin/v1/prompts"),  # api.md
    ("POST", "/admin/v1/knowledge-bases"),  # api.md
    ("POST", "/admin/v1/knowledge-bases/kb/documents"),  # api.md
    ("GET", "/admin/v1/knowledge-bases/kb/documents"),  # api.md
    ("DELETE", "/admin/v1/knowledge-bases/kb/documents/doc"),  # api.md
    ("POST", "/admin/v1/adapters"),  # api.md
    ("GET", "/admin/v1/usage"),  # api.md
    ("GET", "/admin/v1/datasets/export"),  # api.md
    ("POST", "/v1/completions"),
    ("POST", "/v1/responses"),
    ("GET", "/v2/models"),
    ("GET", "/admin/v1/keys"),
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
