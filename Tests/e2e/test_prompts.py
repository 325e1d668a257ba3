"""Prompts from the library through the real gateway: variables with defaults, a Chinese few-shot,
the `{{input}}` template, and the errors a caller gets for missing and undeclared variables.

What the upstream received is checked only through behaviour: at temperature 0 the gateway's answer
(and the prompt token count the model server reports) must equal what the same llama.cpp server
answers when called directly with the messages the contract says the prompt produces (prompt system
messages, the caller's system messages, the prompt's few-shot turns, the caller's conversation with its
last user turn rendered through the input template). Both calls start from a fresh prompt cache
(conftest.fresh_upstream_state), since llama-cpp-python's prefix reuse can change a greedy answer.
The Swift integration tests check exact bodies.
"""

from __future__ import annotations

import re

import openai
import pytest

from conftest import MAX_TOKENS, UPSTREAM_CHAT_MODEL, fresh_upstream_state

PROMPT = "e2e-claims-prompt"
MODEL = "e2e-claims"

SYSTEM = "你是{{company}}的理赔助手，语气{{tone}}。当前险种：{{policy_type}}。"
FEW_SHOT = [
    {"role": "user", "content": "问题：手机在地铁上丢了，能赔吗？"},
    {"role": "assistant", "content": "这属于财产险中的个人物品损失。请准备：报警回执、购买凭证。"},
]
INPUT_TEMPLATE = "问题（{{policy_type}}）：{{input}}"
DEFAULTS = {"company": "Trellis 保险", "tone": "简洁"}  # policy_type has no default

PARAMS = {"temperature": 0, "max_tokens": MAX_TOKENS}


def render(template: str, values: dict[str, str]) -> str:
    """The documented substitution: {{name}} / {{ name }}, one literal pass."""
    return re.sub(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*) *\}\}", lambda m: values[m.group(1)], template)


def expected_messages(caller: list[dict], variables: dict[str, str]) -> list[dict]:
    values = dict(DEFAULTS, **variables)
    out = [{"role": "system", "content": render(SYSTEM, values)}]
    out += [m for m in caller if m["role"] == "system"]
    out += FEW_SHOT
    conversation = [m for m in caller if m["role"] != "system"]
    last_user = max(i for i, m in enumerate(conversation) if m["role"] == "user")
    conversation[last_user] = {
        "role": "user",
        "content": render(INPUT_TEMPLATE, dict(values, input=conversation[last_user]["content"])),
    }
    return out + conversation


@pytest.fixture(scope="module")
def claims_model(world) -> str:
    created = world.admin.post(
        "/prompts",
        {
            "name": PROMPT,
            "messages": [{"role": "system", "content": SYSTEM}, *FEW_SHOT, {"role": "user", "content": INPUT_TEMPLATE}],
            "variables": {
                "company": {"default": DEFAULTS["company"]},
                "tone": {"default": DEFAULTS["tone"]},
                "policy_type": {},
            },
        },
    )
    assert created.get("name") == PROMPT and created.get("version") == 1, created
    world.admin.post(
        "/models",
        {
            "name": MODEL,
            "description": "理赔助手（e2e）",
            "spec": {"upstream": "local", "model": UPSTREAM_CHAT_MODEL, "prompt": {"name": PROMPT}, "params": PARAMS},
        },
    )
    return MODEL


@pytest.fixture(scope="module")
def upstream(world) -> openai.OpenAI:
    """The llama.cpp server itself, bypassing the gateway."""
    return openai.OpenAI(base_url=world.model_base_url, api_key="unused", max_retries=0, timeout=120)


def assert_same_as_direct(client, upstream, caller: list[dict], variables: dict[str, str]) -> str:
    base_url = str(upstream.base_url).rstrip("/")
    fresh_upstream_state(base_url, UPSTREAM_CHAT_MODEL)
    via_gateway = client.chat.completions.create(model=MODEL, messages=caller, extra_body={"variables": variables})
    fresh_upstream_state(base_url, UPSTREAM_CHAT_MODEL)
    direct = upstream.chat.completions.create(
        model=UPSTREAM_CHAT_MODEL, messages=expected_messages(caller, variables), **PARAMS
    )
    got, want = via_gateway.choices[0].message.content, direct.choices[0].message.content
    assert got and got.strip(), via_gateway
    assert via_gateway.usage.prompt_tokens == direct.usage.prompt_tokens, (
        f"the upstream saw a different prompt: {via_gateway.usage.prompt_tokens} tokens through the gateway, "
        f"{direct.usage.prompt_tokens} for the expected messages {expected_messages(caller, variables)}"
    )
    assert got == want, f"gateway {got!r} != direct {want!r} for {expected_messages(caller, variables)}"
    return got


def test_variables_defaults_and_input_template(client, upstream, claims_model):
    caller = [{"role": "user", "content": "我的车被追尾了，怎么理赔？"}]
    # company given, tone from its default, policy_type given (Chinese values both ways).
    assert_same_as_direct(client, upstream, caller, {"policy_type": "车险", "company": "平安财险"})


def test_caller_system_message_and_earlier_turns(client, upstream, claims_model):
    caller = [
        {"role": "system", "content": "请只用中文回答。"},
        {"role": "user", "content": "家里的水管爆了。"},
        {"role": "assistant", "content": "请描述损失情况。"},
        {"role": "user", "content": "地板和家具泡水了，能赔吗？"},
    ]
    # Only the last user turn goes through the template; the earlier one is passed as sent.
    assert_same_as_direct(client, upstream, caller, {"policy_type": "家财险 🏠", "tone": "耐心、专业"})


def test_chinese_variable_changes_the_prompt(client, claims_model):
    """Different Chinese values reach the model: the prompt token count follows the value's length."""
    caller = [{"role": "user", "content": "怎么理赔？"}]
    short = client.chat.completions.create(model=MODEL, messages=caller, extra_body={"variables": {"policy_type": "车险"}})
    long = client.chat.completions.create(
        model=MODEL, messages=caller, extra_body={"variables": {"policy_type": "车险（交强险与商业第三者责任险）"}}
    )
    # policy_type appears twice (system message and input template).
    assert long.usage.prompt_tokens > short.usage.prompt_tokens + 4, (short.usage, long.usage)


def test_streaming_with_variables(client, upstream, claims_model):
    caller = [{"role": "user", "content": "我的车被追尾了，怎么理赔？"}]
    variables = {"policy_type": "车险"}
    whole = assert_same_as_direct(client, upstream, caller, variables)
    fresh_upstream_state(str(upstream.base_url).rstrip("/"), UPSTREAM_CHAT_MODEL)
    chunks = list(
        client.chat.completions.create(model=MODEL, messages=caller, stream=True, extra_body={"variables": variables})
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole


def error_of(info: pytest.ExceptionInfo) -> dict:
    body = info.value.response.json()
    assert {"message", "type", "param", "code"} <= set(body["error"]), body
    return body["error"]


def test_missing_variable_without_default_is_400(client, claims_model):
    caller = [{"role": "user", "content": "怎么理赔？"}]
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=caller, extra_body={"variables": {"company": "平安"}})
    assert info.value.status_code == 400
    assert "policy_type" in error_of(info)["message"], error_of(info)

    # No variables at all: the same.
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=caller)
    assert "policy_type" in error_of(info)["message"], error_of(info)

    # Streaming: refused before the stream starts, as an HTTP error.
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=caller, stream=True)
    assert "policy_type" in error_of(info)["message"], error_of(info)


def test_undeclared_variable_is_400(client, claims_model):
    caller = [{"role": "user", "content": "怎么理赔？"}]
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=MODEL, messages=caller, extra_body={"variables": {"policy_type": "车险", "colour": "红色"}}
        )
    assert info.value.status_code == 400
    assert "colour" in error_of(info)["message"], error_of(info)


def test_non_string_variable_is_400(client, claims_model):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "怎么理赔？"}], extra_body={"variables": {"policy_type": 3}}
        )


def test_prompt_with_undeclared_placeholder_is_refused(world):
    r = world.admin.call(
        "POST",
        "/prompts",
        json={"name": "e2e-bad-prompt", "messages": [{"role": "system", "content": "你好 {{who}}"}]},
        expect=(400,),
    )
    assert "who" in r.json()["error"]["message"], r.text
