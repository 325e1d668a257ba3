"""Errors as the openai SDK raises them: status codes, exception classes and the
{"error":{"message","type","param","code"}} body."""

from __future__ import annotations

import httpx
import openai
import pytest
import requests

from conftest import make_client

MESSAGES = [{"role": "user", "content": "Hi"}]


def error_body(e: openai.APIStatusError) -> dict:
    body = e.response.json()
    assert set(body) >= {"error"}, body
    err = body["error"]
    assert {"message", "type", "param", "code"} <= set(err), err
    assert isinstance(err["message"], str) and err["message"], err
    return err


def test_wrong_key_is_401(world):
    bad = make_client(world.gateway, "sk-not-a-real-key")
    with pytest.raises(openai.AuthenticationError) as info:
        bad.chat.completions.create(model="assistant", messages=MESSAGES, max_tokens=4)
    assert info.value.status_code == 401
    assert error_body(info.value)["code"] == "invalid_api_key"

    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_unknown_model_and_foreign_model_look_the_same(client, globex_client):
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-model", messages=MESSAGES, max_tokens=4)
    with pytest.raises(openai.NotFoundError) as foreign:
        globex_client.chat.completions.create(model="private-bot", messages=MESSAGES, max_tokens=4)

    a, b = error_body(missing.value), error_body(foreign.value)
    assert missing.value.status_code == foreign.value.status_code == 404
    assert a["code"] == b["code"] == "model_not_found"
    assert a["type"] == b["type"]
    assert a["param"] == b["param"]
    # Same sentence with the name swapped: nothing tells globex that private-bot exists.
    assert a["message"].replace("no-such-model", "<m>") == b["message"].replace("private-bot", "<m>")


def test_foreign_model_is_404_for_embeddings_too(globex_client):
    with pytest.raises(openai.NotFoundError):
        globex_client.embeddings.create(model="private-bot", input=["x"])


def test_missing_messages_is_400(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/chat/completions", body={"model": "assistant"}, cast_to=httpx.Response)
    assert info.value.status_code == 400
    err = error_body(info.value)
    assert err["type"] == "invalid_request_error"


def test_malformed_json_is_400(world):
    r = requests.post(
        world.gateway.api_url + "/chat/completions",
        headers={"Authorization": f"Bearer {world.key('acme')}", "Content-Type": "application/json"},
        data=b'{"model": "assistant", "messages": [',
        timeout=30,
    )
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert {"message", "type", "param", "code"} <= set(err), err


def test_key_without_inference_scope_is_403(world):
    key = world.admin.create_key("acme", "usage-only", ["usage"])
    with pytest.raises(openai.PermissionDeniedError) as info:
        make_client(world.gateway, key["key"]).chat.completions.create(
            model="assistant", messages=MESSAGES, max_tokens=4
        )
    assert info.value.status_code == 403
    assert error_body(info.value)["code"] == "permission_denied"


def test_revoked_key_stops_working(world):
    key = world.admin.create_key("acme", "to-revoke", ["inference"])
    c = make_client(world.gateway, key["key"])
    assert "assistant" in {m.id for m in c.models.list().data}

    world.admin.delete(f"/keys/{key['id']}")

    with pytest.raises(openai.AuthenticationError) as info:
        c.models.list()
    assert info.value.status_code == 401
    error_body(info.value)
    with pytest.raises(openai.AuthenticationError):
        c.chat.completions.create(model="assistant", messages=MESSAGES, max_tokens=4)


def test_listed_keys_never_show_the_secret(world):
    listed = world.admin.get("/tenants/acme/keys")
    text = repr(listed)
    assert world.key("acme") not in text
    rows = listed["data"] if isinstance(listed, dict) else listed
    assert any(str(k.get("id")) == str(world.keys["acme"]["id"]) for k in rows), listed
