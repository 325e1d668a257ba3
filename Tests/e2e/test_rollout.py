"""Model versions and rollout through the real gateway: publish v2, pin it, split traffic 90/10 with
per-user stickiness, roll back. The served version is read from `x-trellis-model-version`."""

from __future__ import annotations

import openai
import pytest

from conftest import UPSTREAM_CHAT_MODEL

MODEL = "e2e-rollout"
MESSAGES = [{"role": "user", "content": "Hi"}]
SPEC_V1 = {"upstream": "local", "model": UPSTREAM_CHAT_MODEL, "params": {"temperature": 0, "max_tokens": 2}}
SPEC_V2 = {"upstream": "local", "model": UPSTREAM_CHAT_MODEL, "params": {"temperature": 0, "max_tokens": 1}}
USERS = [f"user-{i}" for i in range(40)]


def served_version(client, model: str = MODEL, user: str | None = None) -> str:
    extra = {"user": user} if user is not None else {}
    raw = client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES, **extra)
    completion = raw.parse()
    assert completion.choices and completion.choices[0].message is not None, completion
    version = raw.headers.get("x-trellis-model-version")
    assert version, dict(raw.headers)
    return version


@pytest.fixture(scope="module")
def rollout_model(world) -> str:
    created = world.admin.post("/models", {"name": MODEL, "spec": SPEC_V1})
    assert created.get("version") == 1, created
    return MODEL


def test_publish_pin_split_and_roll_back(world, client, rollout_model):
    admin = world.admin

    published = admin.post(f"/models/{MODEL}/versions", {"spec": SPEC_V2})
    assert published.get("version") == 2, published
    info = admin.get(f"/models/{MODEL}")
    assert [v["version"] for v in info["versions"]] == [1, 2], info
    assert info["traffic"] == {"1": 100}, info  # publishing is not rolling out

    # A new version serves pinned requests at once, and unpinned ones not yet.
    assert served_version(client, f"{MODEL}@2") == "2"
    assert served_version(client, f"{MODEL}@1") == "1"
    assert {served_version(client, user=u) for u in USERS[:5]} == {"1"}

    # 90/10.
    r = admin.call("PUT", f"/models/{MODEL}/traffic", json={"1": 90, "2": 10}, expect=(200,))
    assert r.json()["traffic"] == {"1": 90, "2": 10}, r.text
    assert admin.get(f"/models/{MODEL}")["traffic"] == {"1": 90, "2": 10}

    by_user = {u: served_version(client, user=u) for u in USERS}
    counts = {v: list(by_user.values()).count(v) for v in set(by_user.values())}
    assert set(by_user.values()) == {"1", "2"}, f"a 90/10 split over {len(USERS)} users served only {counts}"
    assert counts["1"] > counts["2"], counts

    # Sticky: the same user gets the same version on every call (one user of each version).
    for version in ("1", "2"):
        user = next(u for u, v in by_user.items() if v == version)
        seen = [served_version(client, user=user) for _ in range(10)]
        assert seen == [version] * 10, (user, seen)

    # A pinned request ignores the split.
    v2_user = next(u for u, v in by_user.items() if v == "2")
    assert served_version(client, f"{MODEL}@1", user=v2_user) == "1"

    # Roll back: everyone on version 1, including the users who had version 2.
    r = admin.call("PUT", f"/models/{MODEL}/traffic", json={"1": 100}, expect=(200,))
    assert r.json()["traffic"] in ({"1": 100}, {"1": 100, "2": 0}), r.text
    assert {served_version(client, user=u) for u, v in by_user.items() if v == "2"} == {"1"}
    # Version 2 still exists and can be pinned.
    assert served_version(client, f"{MODEL}@2") == "2"

    # The changes are in the audit log.
    actions = [(e["action"], e["target"]) for e in admin.get("/audit?limit=50")["data"]]
    assert ("model.version.create", f"model:{MODEL}") in actions, actions
    assert actions.count(("model.traffic.set", f"model:{MODEL}")) >= 2, actions


def test_unknown_version_is_404_and_bad_traffic_is_400(world, client, rollout_model):
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=f"{MODEL}@99", messages=MESSAGES)
    world.admin.call("PUT", f"/models/{MODEL}/traffic", json={"7": 100}, expect=(400,))
    world.admin.call("PUT", f"/models/{MODEL}/traffic", json={"1": 0}, expect=(400,))
