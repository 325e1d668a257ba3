"""POST /v1/responses (and GET/DELETE) through the openai SDK and the OpenAI Agents SDK, against SmolLM2 on
llama.cpp: whole and streamed answers, stored responses, previous_response_id, function tools with a real
tool call, refusals of what Trellis does not serve, and tenant isolation."""

from __future__ import annotations

import json

import openai
import pytest

from conftest import MAX_TOKENS

UPSTREAM_TOOLS_MODEL = "smollm2-tools"  # scripts/model-server.sh: chat_format chatml-function-calling

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def tool_model(world) -> str:
    """A shared model over the model server's function-calling alias."""
    world.admin.post(
        "/models",
        {"name": "tool-assistant", "spec": {"upstream": "local", "model": UPSTREAM_TOOLS_MODEL, "params": {"temperature": 0}}},
    )
    return "tool-assistant"


def test_whole_response(client):
    raw = client.responses.with_raw_response.create(
        model="assistant", input="Name three colors.", instructions="Answer in one line.", max_output_tokens=MAX_TOKENS
    )
    request_id = raw.headers["x-request-id"]
    assert "1" in raw.headers["x-trellis-model-version"]
    response = raw.parse()
    assert response.id == "resp_" + request_id.removeprefix("req_")
    assert response.object == "response"
    assert response.status in ("completed", "incomplete")
    assert response.model == "assistant"
    assert response.instructions == "Answer in one line."
    assert response.output_text.strip()
    assert response.output[0].type == "message" and response.output[0].role == "assistant"
    assert response.usage.input_tokens > 0
    assert 0 < response.usage.output_tokens <= MAX_TOKENS
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens


def test_streamed_events_and_the_final_response(client):
    events = list(client.responses.create(model="assistant", input="Name three colors.", max_output_tokens=MAX_TOKENS, stream=True))
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"], types
    assert types[-1] in ("response.completed", "response.incomplete"), types
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text.strip()
    final = events[-1].response
    assert final.output_text == text
    assert final.usage.output_tokens > 0

    # The SDK's stream helper checks the order and the ids of every event as it accumulates them.
    with client.responses.stream(model="assistant", input="Reply with one word: blue.", max_output_tokens=MAX_TOKENS) as stream:
        helper_events = list(stream)
    helper_text = "".join(e.delta for e in helper_events if e.type == "response.output_text.delta")
    assert helper_text.strip()
    assert helper_events[-1].type in ("response.completed", "response.incomplete")
    if helper_events[-1].type == "response.completed":  # the helper's final response needs a completed one
        assert stream.get_final_response().output_text == helper_text


def test_stored_responses_belong_to_their_tenant(client, globex_client):
    response = client.responses.create(model="assistant", input="Say hello.", max_output_tokens=8)
    again = client.responses.retrieve(response.id)
    assert again.id == response.id and again.output_text == response.output_text

    with pytest.raises(openai.NotFoundError):
        globex_client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        globex_client.responses.create(model="assistant", input="x", previous_response_id=response.id, max_output_tokens=4)
    with pytest.raises(openai.NotFoundError):
        globex_client.responses.delete(response.id)

    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)

    unstored = client.responses.create(model="assistant", input="Say hi.", max_output_tokens=4, store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)


def test_previous_response_id_sends_the_conversation_again(client):
    first = client.responses.create(model="assistant", input="My name is Ada.", max_output_tokens=MAX_TOKENS)
    second = client.responses.create(
        model="assistant", input="What is my name?", previous_response_id=first.id, max_output_tokens=MAX_TOKENS
    )
    assert second.previous_response_id == first.id
    assert second.output_text.strip()
    alone = client.responses.create(model="assistant", input="What is my name?", max_output_tokens=4, store=False)
    # The model server counts the prompt it evaluated: the earlier turn (input and answer) went along.
    assert second.usage.input_tokens >= alone.usage.input_tokens + first.usage.output_tokens, (
        second.usage,
        alone.usage,
        first.usage,
    )


def test_a_real_tool_call_and_its_result_round_trip(client, tool_model):
    call_response = client.responses.create(
        model=tool_model,
        input="What is the weather in Paris?",
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        max_output_tokens=40,
    )
    calls = [item for item in call_response.output if item.type == "function_call"]
    assert calls, call_response.output
    call = calls[0]
    assert call.name == "get_weather"
    assert call.call_id
    assert "city" in json.loads(call.arguments)

    answer = client.responses.create(
        model=tool_model,
        previous_response_id=call_response.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"}],
        tools=[WEATHER],
        tool_choice="none",
        max_output_tokens=MAX_TOKENS,
    )
    assert answer.output_text.strip()
    assert all(item.type == "message" for item in answer.output)


def test_a_streamed_tool_call_sends_its_arguments_as_deltas(client, tool_model):
    events = list(
        client.responses.create(
            model=tool_model,
            input="What is the weather in Tokyo?",
            tools=[WEATHER],
            tool_choice={"type": "function", "name": "get_weather"},
            max_output_tokens=40,
            stream=True,
        )
    )
    types = [e.type for e in events]
    assert "response.function_call_arguments.delta" in types, types
    arguments = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert done.arguments == arguments
    assert "city" in json.loads(arguments)
    final = events[-1].response
    assert final.output[-1].type == "function_call" and final.output[-1].arguments == arguments


@pytest.mark.parametrize("stream", [False, True])
def test_chat_completions_pass_a_real_tool_call_through(client, tool_model, stream):
    """The same function calling over /v1/chat/completions, whole and streamed."""
    request = dict(
        model=tool_model,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[{"type": "function", "function": {k: WEATHER[k] for k in ("name", "description", "parameters")}}],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=40,
    )
    if stream:
        chunks = list(client.chat.completions.create(stream=True, **request))
        calls = [call for c in chunks if c.choices for call in (c.choices[0].delta.tool_calls or [])]
        assert calls and calls[0].function.name == "get_weather"
        arguments = "".join(call.function.arguments or "" for call in calls)
    else:
        message = client.chat.completions.create(**request).choices[0].message
        assert message.tool_calls and message.tool_calls[0].function.name == "get_weather"
        arguments = message.tool_calls[0].function.arguments
    assert "city" in json.loads(arguments)


@pytest.mark.parametrize(
    "fields, param",
    [
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"background": True}, "background"),
        ({"reasoning": {"effort": "high"}}, "reasoning"),
    ],
)
def test_what_trellis_does_not_serve_is_a_400_naming_the_field(client, fields, param):
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="assistant", input="x", **fields)
    assert refused.value.body["param"] == param


def test_an_agent_runs_its_model_over_responses(world, tool_model):
    import agents

    seen: list[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        seen.append(city)
        return f"The weather in {city} is sunny, 21 C."

    client = openai.AsyncOpenAI(base_url=world.gateway.api_url, api_key=world.key("acme"))
    model = agents.OpenAIResponsesModel(model=tool_model, openai_client=client)
    agent = agents.Agent(
        name="weather",
        instructions="Answer weather questions with the get_weather tool.",
        model=model,
        tools=[get_weather],
        model_settings=agents.ModelSettings(max_tokens=40, tool_choice="get_weather"),
        # After the tool's result, answer with it rather than asking the model again.
        tool_use_behavior="stop_on_first_tool",
    )
    result = agents.Runner.run_sync(agent, "What is the weather in Paris?", run_config=agents.RunConfig(tracing_disabled=True))
    assert seen, "the model called the tool through /v1/responses"
    assert "sunny" in result.final_output
