"""GET /v1/models through the openai SDK: what each tenant's key may see."""

from __future__ import annotations


def ids(client) -> set[str]:
    page = client.models.list()
    for m in page.data:
        assert m.object == "model", m
        assert isinstance(m.id, str) and m.id
    return {m.id for m in page.data}


def test_acme_sees_shared_and_own_models(client):
    seen = ids(client)
    assert {"assistant", "embedder", "private-bot"} <= seen, seen


def test_globex_does_not_see_acme_models(globex_client):
    seen = ids(globex_client)
    assert {"assistant", "embedder"} <= seen, seen
    assert "private-bot" not in seen, seen


def test_model_entries_have_openai_fields(client):
    page = client.models.list()
    assert page.data, "no models listed"
    for m in page.data:
        assert isinstance(m.created, int), m
        assert isinstance(m.owned_by, str), m
