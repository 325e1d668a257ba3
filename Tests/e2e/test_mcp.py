"""/mcp through the official MCP Python SDK (`mcp`), in the handshake revisions (ClientSession) and the stateless
2026-07-28 revision (mcp.Client), and an OpenAI Agents SDK agent whose model is a Trellis model over /v1/responses
and whose tools are Trellis's /mcp: all under tenant keys, against SmolLM2 on llama.cpp."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
import requests

import httpx2
import mcp
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

GRACE = (
    "# Premium due dates\n\n## Grace period\nIf a premium is not paid by the due date, you have a grace period of 30 days "
    "during which your cover continues."
)


@pytest.fixture(scope="module")
def mcp_world(world):
    """acme's knowledge base `mcp-kb` (one document) and prompt `mcp-greet`."""
    admin = world.admin
    admin.post("/knowledge-bases", {"name": "mcp-kb", "tenant": "acme"})
    admin.post("/knowledge-bases/mcp-kb/documents?tenant=acme", {"title": "Grace period", "text": GRACE, "content_type": "text/markdown"})
    admin.post(
        "/prompts",
        {
            "name": "mcp-greet",
            "tenant": "acme",
            "description": "A greeting",
            "messages": [{"role": "system", "content": "Greet {{who}} in {{lang}}."}, {"role": "user", "content": "Say: {{input}}"}],
            "variables": {"who": {}, "lang": {"default": "English"}},
        },
    )
    return world


def url(world) -> str:
    return world.gateway.url + "/mcp"


async def in_session(world, key: str, body):
    """Runs `body(session)` in a handshake-revision session (initialize first)."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=httpx2.Timeout(30, read=300)) as http:
        async with streamable_http_client(url(world), http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                return await body(session, init)


async def in_client(world, key: str, mode: str, body):
    """Runs `body(client)` with mcp.Client (`auto` probes server/discover first)."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=httpx2.Timeout(30, read=300)) as http:
        async with mcp.Client(streamable_http_client(url(world), http_client=http), mode=mode) as client:
            return await body(client)


def tool_schema(tools, name: str) -> dict:
    return next(t for t in tools.tools if t.name == name).input_schema


def test_a_session_lists_and_calls_tools_and_prompts(mcp_world):
    world = mcp_world

    async def body(session, init):
        assert init.protocol_version == "2025-11-25"
        assert init.server_info.name == "trellis"
        tools = await session.list_tools()
        assert {t.name for t in tools.tools} == {"knowledge_search", "ask_model"}
        assert tool_schema(tools, "knowledge_search")["properties"]["knowledge_base"]["enum"] == ["mcp-kb"]
        models = tool_schema(tools, "ask_model")["properties"]["model"]["enum"]
        assert "assistant" in models and "private-bot" in models

        found = await session.call_tool("knowledge_search", {"knowledge_base": "mcp-kb", "query": "grace period"})
        assert not found.is_error
        assert "30 days" in found.content[0].text
        assert found.structured_content["results"][0]["title"] == "Grace period"

        answer = await session.call_tool("ask_model", {"model": "assistant", "input": "Name a color."})
        assert not answer.is_error and answer.content[0].text.strip()
        assert answer.structured_content["request_id"].startswith("req_")

        prompts = await session.list_prompts()
        greet = next(p for p in prompts.prompts if p.name == "mcp-greet")
        assert [(a.name, a.required) for a in greet.arguments] == [("who", True), ("lang", False), ("input", True)]
        rendered = await session.get_prompt("mcp-greet", {"who": "Ada", "input": "hello"})
        assert [m.content.text for m in rendered.messages] == ["Greet Ada in English.", "Say: hello"]
        return answer.structured_content["request_id"]

    request_id = asyncio.run(in_session(world, world.key("acme"), body))
    # The tool call is metered like a request: feedback finds it by its request id.
    r = requests.post(
        world.gateway.api_url + "/feedback",
        headers={"Authorization": f"Bearer {world.key('acme')}"},
        json={"request_id": request_id, "rating": 1},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    assert r.json()["model"] == "assistant"


@pytest.mark.parametrize("mode", ["auto", "2026-07-28"])
def test_the_stateless_revision(mcp_world, mode):
    world = mcp_world

    async def body(client):
        assert client.protocol_version == "2026-07-28", "auto mode finds the current revision through server/discover"
        tools = await client.session.list_tools()
        assert "knowledge_search" in {t.name for t in tools.tools}
        found = await client.session.call_tool("knowledge_search", {"knowledge_base": "mcp-kb", "query": "grace"})
        assert "30 days" in found.content[0].text
        rendered = await client.session.get_prompt("mcp-greet", {"who": "Ada", "input": "hi"})
        return rendered.messages[0].content.text

    assert asyncio.run(in_client(world, world.key("acme"), mode, body)) == "Greet Ada in English."


def test_another_tenant_sees_none_of_acmes_tools_or_prompts(mcp_world):
    world = mcp_world

    async def body(session, init):
        tools = await session.list_tools()
        assert {t.name for t in tools.tools} == {"ask_model"}, "globex has no knowledge base"
        assert "private-bot" not in tool_schema(tools, "ask_model")["properties"]["model"]["enum"]
        searched = await session.call_tool("knowledge_search", {"knowledge_base": "mcp-kb", "query": "grace"})
        assert searched.is_error
        asked = await session.call_tool("ask_model", {"model": "private-bot", "input": "hi"})
        assert asked.is_error
        assert (await session.list_prompts()).prompts == []
        with pytest.raises(mcp.MCPError):
            await session.get_prompt("mcp-greet", {"who": "x", "input": "y"})

    asyncio.run(in_session(world, world.key("globex"), body))


def test_a_missing_or_unknown_key_is_refused_at_the_http_level(mcp_world):
    world = mcp_world
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}}}
    for headers in ({}, {"Authorization": "Bearer trk-" + "A" * 43}):
        r = requests.post(url(world), json=body, headers=headers, timeout=30)
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "invalid_api_key"

    async def never(session, init):
        raise AssertionError("connected with a bad key")

    with pytest.raises(BaseException):
        asyncio.run(in_session(world, "trk-" + "B" * 43, never))


def test_an_agent_runs_on_trellis_alone(mcp_world):
    """The model over /v1/responses, the tools over /mcp, both under acme's key."""
    import agents
    from agents.mcp import MCPServerStreamableHttp

    world = mcp_world
    world.admin.call(
        "POST",
        "/models",
        expect=(201, 409),
        json={"name": "agent-brain", "spec": {"upstream": "local", "model": "smollm2-tools", "params": {"temperature": 0}}},
    )
    key = world.key("acme")

    async def run():
        async with MCPServerStreamableHttp(
            params={"url": url(world), "headers": {"Authorization": f"Bearer {key}"}}, client_session_timeout_seconds=120
        ) as tools:
            model = agents.OpenAIResponsesModel(
                model="agent-brain", openai_client=openai.AsyncOpenAI(base_url=world.gateway.api_url, api_key=key)
            )
            agent = agents.Agent(
                name="handbook",
                instructions="Answer from the company handbook: search it with knowledge_search.",
                model=model,
                mcp_servers=[tools],
                model_settings=agents.ModelSettings(max_tokens=60, tool_choice="knowledge_search"),
                tool_use_behavior="stop_on_first_tool",
            )
            return await agents.Runner.run(
                agent, "How long is the grace period for premiums?", run_config=agents.RunConfig(tracing_disabled=True)
            )

    result = asyncio.run(run())
    calls = [item for item in result.new_items if item.type == "tool_call_item"]
    assert calls, result.new_items
    arguments = json.loads(calls[0].raw_item.arguments)
    assert arguments["knowledge_base"] == "mcp-kb", "the model's arguments follow the tool's schema (its enum)"

    # The agent's answer is Trellis's tool result for the arguments its model chose (SmolLM2-135M's query may or may
    # not find the passage; the same call made directly must answer the same).
    async def direct(session, init):
        return (await session.call_tool("knowledge_search", arguments)).content[0].text

    expected = asyncio.run(in_session(world, key, direct))
    assert expected in str(result.final_output), (expected, result.final_output)
