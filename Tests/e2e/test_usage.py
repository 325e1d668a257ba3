"""Usage events reach SQLite: one row per successful chat, with tenant, model, end user
and whether the token counts were estimated. See usage_db.py for the assumed columns."""

from __future__ import annotations

import usage_db as udb


def by_request(rows, request_id):
    return [r for r in rows if str(r.get("request_id")) == request_id]


def test_usage_rows_are_written(world, client):
    db = world.gateway.store
    acme_id = world.tenants["acme"]["id"]
    _, cols = udb.read_usage(db)
    udb.require(cols, "request_id")

    # A plain answer (llama.cpp reports usage) ...
    plain = client.chat.completions.with_raw_response.create(
        model="assistant",
        messages=[{"role": "user", "content": "Say yes."}],
        max_tokens=8,
        user="usage-user-1",
    )
    plain_id = plain.headers["x-request-id"]
    plain_usage = plain.parse().usage

    # ... and a stream whose client did not ask for usage (llama.cpp sends none in streams).
    with client.chat.completions.with_streaming_response.create(
        model="assistant",
        messages=[{"role": "user", "content": "Say no."}],
        max_tokens=8,
        stream=True,
    ) as streamed:
        stream_id = streamed.headers["x-request-id"]
        for _ in streamed.iter_lines():
            pass

    rows, cols = udb.wait_for_usage(
        db,
        lambda rows: bool(by_request(rows, plain_id)) and bool(by_request(rows, stream_id)),
        what=f"rows for requests {plain_id} and {stream_id}",
    )

    (p,) = by_request(rows, plain_id)
    assert udb.is_tenant(p, "acme", acme_id), p["_raw"]
    assert udb.is_model(p, "assistant"), p["_raw"]
    if p.get("status") is not None:
        assert int(p["status"]) == 200, p["_raw"]
    udb.require(cols, "prompt_tokens")
    udb.require(cols, "completion_tokens")
    assert p["prompt_tokens"] == plain_usage.prompt_tokens, p["_raw"]
    assert p["completion_tokens"] == plain_usage.completion_tokens, p["_raw"]
    udb.require(cols, "end_user")
    assert p["end_user"] == "usage-user-1", p["_raw"]

    (s,) = by_request(rows, stream_id)
    assert udb.is_tenant(s, "acme", acme_id) and udb.is_model(s, "assistant"), s["_raw"]
    assert s["completion_tokens"] and s["completion_tokens"] > 0, s["_raw"]
    assert s["prompt_tokens"] and s["prompt_tokens"] > 0, s["_raw"]

    udb.require(cols, "estimated")
    assert int(p["estimated"]) == 0, p["_raw"]
    assert int(s["estimated"]) == 1, f"llama.cpp sent no usage in the stream, so it must be estimated: {s['_raw']}"


def test_every_successful_chat_has_a_row(world, client):
    """N more successful `assistant` chats for acme (plain and streamed), N more rows."""
    db = world.gateway.store
    acme_id = world.tenants["acme"]["id"]

    def successes(rows):
        return sum(
            1
            for r in rows
            if udb.is_tenant(r, "acme", acme_id)
            and udb.is_model(r, "assistant")
            and (r.get("status") is None or int(r["status"]) == 200)
        )

    before = successes(udb.read_usage(db)[0])
    n = 3
    for i in range(n):
        if i == 1:
            with client.chat.completions.create(
                model="assistant", messages=[{"role": "user", "content": f"Say {i}."}], max_tokens=4, stream=True
            ) as stream:
                for _ in stream:
                    pass
        else:
            client.chat.completions.create(
                model="assistant", messages=[{"role": "user", "content": f"Say {i}."}], max_tokens=4
            )
    udb.wait_for_usage(db, lambda rows: successes(rows) >= before + n, what=f"{n} new assistant rows for acme")
