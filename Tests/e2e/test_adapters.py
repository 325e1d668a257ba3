"""Fine-tuned adapters through the real gateway: a LoRA registered with POST /admin/v1/adapters and
served by the model server as its own alias (smollm2-claims-lora = the SmolLM2 GGUF + the adapter that
scripts/make-lora.py builds), and a model that uses it.

llama-cpp-python holds one model at a time and swaps on demand, so the base -> adapter -> base sequence
also checks that the adapter does not stay applied to the base model after a swap. Every compared answer
starts from a fresh prompt cache (conftest.fresh_upstream_state): llama-cpp-python's prefix reuse can
change a greedy answer by itself."""

from __future__ import annotations

import openai
import pytest
import requests

from conftest import MAX_TOKENS, UPSTREAM_CHAT_MODEL, UPSTREAM_LORA_MODEL, fresh_upstream_state

ADAPTER = "claims-lora-e2e"
BASE_MODEL = "e2e-base"
ADAPTER_MODEL = "e2e-claims-ft"
PARAMS = {"temperature": 0, "max_tokens": MAX_TOKENS}
# A prompt where the demonstration adapter's greedy answer differs from the base's from the first tokens.
MESSAGES = [{"role": "user", "content": "Say hello in one sentence."}]


@pytest.fixture(scope="module")
def adapter_models(world) -> None:
    served = {m["id"] for m in requests.get(world.model_base_url + "/models", timeout=30).json()["data"]}
    # llama-cpp-python answers an alias it does not serve with its default model, so without this check a
    # missing adapter would show up only as "same answer".
    assert UPSTREAM_LORA_MODEL in served, (
        f"the model server does not serve {UPSTREAM_LORA_MODEL} (it serves {sorted(served)}): "
        "build the adapter with scripts/make-lora.py (scripts/model-env.sh does) and restart the server"
    )
    created = world.admin.post(
        "/adapters",
        {
            "name": ADAPTER,
            "upstream": "local",
            "base_model": UPSTREAM_CHAT_MODEL,
            "served_model": UPSTREAM_LORA_MODEL,
            "method": "lora",
            "dataset": "claims-sft-e2e (random low-rank weights, not trained)",
        },
    )
    assert created.get("name") == ADAPTER, created
    assert created.get("base_model") == UPSTREAM_CHAT_MODEL and created.get("method") == "lora", created

    world.admin.post("/models", {"name": BASE_MODEL, "spec": {"upstream": "local", "model": UPSTREAM_CHAT_MODEL, "params": PARAMS}})
    world.admin.post("/models", {"name": ADAPTER_MODEL, "spec": {"adapter": ADAPTER, "params": PARAMS}})


def answer(client, world, model: str) -> str:
    fresh_upstream_state(world.model_base_url, UPSTREAM_LORA_MODEL if model == ADAPTER_MODEL else UPSTREAM_CHAT_MODEL)
    completion = client.chat.completions.create(model=model, messages=MESSAGES)
    text = completion.choices[0].message.content
    assert text and text.strip(), completion
    return text


def test_adapter_is_registered_and_resolved(world, adapter_models):
    adapter = world.admin.get(f"/adapters/{ADAPTER}")
    assert adapter["upstream"] == "local" and adapter["base_model"] == UPSTREAM_CHAT_MODEL, adapter
    assert UPSTREAM_LORA_MODEL in str(adapter), adapter

    model = world.admin.get(f"/models/{ADAPTER_MODEL}")
    assert model["versions"][0]["spec"]["adapter"] == ADAPTER, model
    resolved = model["versions"][0].get("resolved")
    if resolved is not None:  # where the version's requests go
        assert resolved["targets"] == [{"upstream": "local", "model": UPSTREAM_LORA_MODEL}], resolved


def test_adapter_answers_differently_and_does_not_leak_into_the_base(client, world, adapter_models):
    base_before = answer(client, world, BASE_MODEL)
    tuned = answer(client, world, ADAPTER_MODEL)
    base_after = answer(client, world, BASE_MODEL)
    print(f"\nbase:    {base_before!r}\nadapter: {tuned!r}")

    assert tuned != base_before, f"the adapter model answered exactly as the base model: {tuned!r}"
    assert base_after == base_before, f"the base model's answer changed after the adapter ran: {base_before!r} -> {base_after!r}"

    # The gateway's adapter answer is the model server's smollm2-claims-lora answer.
    upstream = openai.OpenAI(base_url=world.model_base_url, api_key="unused", max_retries=0, timeout=120)
    fresh_upstream_state(world.model_base_url, UPSTREAM_LORA_MODEL)
    direct = upstream.chat.completions.create(model=UPSTREAM_LORA_MODEL, messages=MESSAGES, **PARAMS)
    assert direct.choices[0].message.content == tuned
    # And the adapter is stable across swaps too.
    assert answer(client, world, ADAPTER_MODEL) == tuned


def test_adapter_model_streams(client, world, adapter_models):
    tuned = answer(client, world, ADAPTER_MODEL)
    fresh_upstream_state(world.model_base_url, UPSTREAM_LORA_MODEL)
    chunks = list(client.chat.completions.create(model=ADAPTER_MODEL, messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == tuned


def test_model_naming_an_unknown_adapter_is_refused(world, adapter_models):
    r = world.admin.call(
        "POST", "/models", json={"name": "e2e-no-adapter", "spec": {"adapter": "no-such-adapter"}}, expect=(400,)
    )
    assert "no-such-adapter" in r.json()["error"]["message"], r.text
