"""POST /v1/chat/completions through the openai SDK, against SmolLM2 on llama.cpp."""

from __future__ import annotations

import json

import pytest
import requests

from conftest import MAX_TOKENS

MESSAGES = [{"role": "user", "content": "Name three colors."}]


def test_non_streaming(client):
    raw = client.chat.completions.with_raw_response.create(
        model="assistant", messages=MESSAGES, max_tokens=MAX_TOKENS
    )
    request_id = raw.headers.get("x-request-id")
    version = raw.headers.get("x-trellis-model-version")
    assert request_id, dict(raw.headers)
    assert version and "1" in version, dict(raw.headers)

    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert isinstance(completion.model, str) and completion.model
    assert completion.id
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")

    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert 0 < usage.completion_tokens <= MAX_TOKENS
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_request_ids_differ(client):
    a = client.chat.completions.with_raw_response.create(model="assistant", messages=MESSAGES, max_tokens=4)
    b = client.chat.completions.with_raw_response.create(model="assistant", messages=MESSAGES, max_tokens=4)
    assert a.headers["x-request-id"] != b.headers["x-request-id"]


def collect(stream) -> list:
    chunks = list(stream)  # ends only on the stream's normal end ([DONE])
    assert chunks, "stream produced no chunks"
    return chunks


def content_of(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_streaming_without_usage(client):
    chunks = collect(
        client.chat.completions.create(model="assistant", messages=MESSAGES, max_tokens=MAX_TOKENS, stream=True)
    )
    for c in chunks:
        assert c.object == "chat.completion.chunk"
        assert c.usage is None, f"usage sent although the client did not ask: {c}"
    assert content_of(chunks).strip()
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes and finishes[-1] in ("stop", "length"), finishes
    assert len({c.id for c in chunks}) == 1, "chunks of one stream must share an id"


def test_streaming_with_include_usage(client):
    chunks = collect(
        client.chat.completions.create(
            model="assistant",
            messages=MESSAGES,
            max_tokens=MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert content_of(chunks).strip()
    last = chunks[-1]
    assert last.usage is not None, "include_usage: the last chunk must carry usage"
    assert last.choices == [], "OpenAI sends usage in an extra chunk with empty choices"
    assert last.usage.prompt_tokens > 0
    assert 0 < last.usage.completion_tokens <= MAX_TOKENS
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1]), "only the last chunk carries usage"


def test_streaming_wire_format(world):
    """The SSE bytes themselves: content type, one JSON chunk per event, [DONE] last."""
    r = requests.post(
        world.gateway.api_url + "/chat/completions",
        headers={"Authorization": f"Bearer {world.key('acme')}"},
        json={"model": "assistant", "messages": MESSAGES, "max_tokens": 8, "stream": True},
        stream=True,
        timeout=120,
    )
    try:
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/event-stream"), r.headers
        assert r.headers.get("x-request-id")
        assert r.headers.get("x-trellis-model-version")
        data = [line[len("data:"):].strip() for line in r.iter_lines(decode_unicode=True) if line.startswith("data:")]
    finally:
        r.close()
    assert data and data[-1] == "[DONE]", data[-3:]
    chunks = [json.loads(d) for d in data[:-1]]
    assert chunks
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"].get("role") == "assistant", chunks[0]
    assert "[DONE]" not in data[:-1]


# ----------------------------------------------------------------------------- pass-through


def test_max_tokens_is_honoured(client):
    completion = client.chat.completions.create(
        model="assistant",
        messages=[{"role": "user", "content": "Write a long story about a dragon who learns to sing."}],
        max_tokens=5,
    )
    assert completion.usage is not None
    assert 0 < completion.usage.completion_tokens <= 5, completion.usage
    assert completion.choices[0].finish_reason == "length"


def test_stop_is_honoured(client):
    prompt = [{"role": "user", "content": "List the days of the week, separated by spaces."}]
    full = client.chat.completions.create(model="assistant", messages=prompt, max_tokens=MAX_TOKENS)
    text = full.choices[0].message.content or ""
    words = text.split()
    if len(words) < 3:
        pytest.skip(f"answer too short to pick a stop word from: {text!r}")
    stop = words[2]
    cut = client.chat.completions.create(model="assistant", messages=prompt, max_tokens=MAX_TOKENS, stop=[stop])
    got = cut.choices[0].message.content or ""
    assert stop not in got, (stop, got, text)
    assert len(got) < len(text), (stop, got, text)
    assert text.startswith(got.rstrip()), (stop, got, text)
    assert cut.choices[0].finish_reason == "stop"


def test_seed_is_honoured(client):
    def sample(seed: int) -> str:
        c = client.chat.completions.create(
            model="assistant",
            messages=[{"role": "user", "content": "Invent a name for a cat."}],
            max_tokens=12,
            temperature=1.5,
            seed=seed,
        )
        return c.choices[0].message.content or ""

    first = sample(1234)
    assert sample(1234) == first, "the same seed must give the same sample"
    others = {sample(s) for s in (1, 2, 3)}
    assert len(others | {first}) > 1, "different seeds never changed the sample: seed or temperature ignored"


def test_user_and_unknown_openai_fields_are_accepted(client):
    completion = client.chat.completions.create(
        model="assistant",
        messages=MESSAGES,
        max_tokens=4,
        user="e2e-end-user",
        presence_penalty=0.0,
        frequency_penalty=0.0,
        top_p=1.0,
    )
    assert completion.choices[0].message.content is not None


def test_tenant_model_for_its_own_tenant(client):
    completion = client.chat.completions.create(model="private-bot", messages=MESSAGES, max_tokens=4)
    assert completion.choices[0].message.content
    assert completion.usage and completion.usage.completion_tokens <= 4
