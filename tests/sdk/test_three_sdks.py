"""Three SDKs nobody here wrote against one running gateway (issue 22, "Done when"): the official
``openai`` and ``anthropic`` SDKs in this process, and the AI/ML API's own ``aimlapi-sdk-python``
in its subprocess (``runner.py``), each through its usual calls (a plain answer, a stream, a tool
round trip) on the fake echo model; then all three at once on one key, whose balance must come
out as the sum of what each was told it cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import openai
import pytest

from tests.sdk.runner import sdk
from tests.serving import Server, fake_settings
from unigate.catalog.builtin import FAKE_MODEL_ID

ASKED: Any = [{"role": "user", "content": "What is the weather in Paris?"}]
OPENAI_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ANTHROPIC_TOOL: Any = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(fake_settings(tmp_path_factory.mktemp("three-sdks"), management_key="mk-test")).start()
    yield running
    running.stop()


def _openai(server: Server, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


def _anthropic(server: Server, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key=key, max_retries=0)


def _credits(model: Any) -> int:
    """``meta.usage.credits_used``, the service's field beside the SDK's typed ones."""
    used: int = model.model_dump()["meta"]["usage"]["credits_used"]
    return used


# ---- openai ----------------------------------------------------------------------------------


def test_openai_chat_stream_and_tools(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    client = _openai(server, key)
    plain = client.chat.completions.create(model=FAKE_MODEL_ID, messages=ASKED)
    assert (plain.choices[0].message.content, plain.choices[0].finish_reason) == (ASKED[0]["content"], "stop")
    chunks = list(client.chat.completions.create(model=FAKE_MODEL_ID, messages=ASKED, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ASKED[0]["content"]
    called = client.chat.completions.create(
        model=FAKE_MODEL_ID, messages=ASKED, tools=[OPENAI_TOOL], tool_choice="required"
    )
    (call,) = called.choices[0].message.tool_calls or []
    assert call.type == "function"
    assert call.function.name == "get_weather"
    history: Any = [
        *ASKED,
        called.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        {"role": "user", "content": "and tomorrow?"},
    ]
    answered = client.chat.completions.create(model=FAKE_MODEL_ID, tools=[OPENAI_TOOL], messages=history)
    assert answered.choices[0].message.content == "and tomorrow?"
    paid = sum(_credits(r) for r in (plain, called, answered)) + 2 * 6  # the stream: 6 in, 6 out
    assert server.balance(account) == 1_000_000 - paid


# ---- anthropic -------------------------------------------------------------------------------


def test_anthropic_messages_stream_and_tools(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    client = _anthropic(server, key)
    plain = client.messages.create(model=FAKE_MODEL_ID, max_tokens=50, messages=ASKED)
    assert plain.content[0].type == "text"
    assert (plain.content[0].text, plain.stop_reason) == (ASKED[0]["content"], "end_turn")
    with client.messages.stream(model=FAKE_MODEL_ID, max_tokens=50, messages=ASKED) as stream:
        assert "".join(stream.text_stream) == ASKED[0]["content"]
        streamed = stream.get_final_message()
    called = client.messages.create(
        model=FAKE_MODEL_ID, max_tokens=50, messages=ASKED, tools=[ANTHROPIC_TOOL], tool_choice={"type": "any"}
    )
    (use,) = called.content
    assert use.type == "tool_use"
    assert (use.name, called.stop_reason) == ("get_weather", "tool_use")
    history: Any = [
        *ASKED,
        {"role": "assistant", "content": [use.model_dump(exclude_none=True)]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": use.id, "content": "sunny"},
                {"type": "text", "text": "and tomorrow?"},
            ],
        },
    ]
    answered = client.messages.create(model=FAKE_MODEL_ID, max_tokens=50, tools=[ANTHROPIC_TOOL], messages=history)
    assert answered.content[0].type == "text"
    assert answered.content[0].text == "and tomorrow?"
    paid = sum(_credits(r) for r in (plain, called, answered))
    paid += streamed.usage.input_tokens + streamed.usage.output_tokens
    assert server.balance(account) == 1_000_000 - paid


# ---- aimlapi-sdk-python ----------------------------------------------------------------------


def test_aimlapi_chat_stream_and_tools(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    plain = sdk(server, key, "chat", FAKE_MODEL_ID)
    assert (plain["content"], plain["finish_reason"]) == ("Explain the importance of low-latency LLMs", "stop")
    streamed = sdk(server, key, "chat_stream", FAKE_MODEL_ID)
    assert "".join(streamed["pieces"]) == plain["content"] == streamed["helper_content"]
    tools = sdk(server, key, "chat_tools", FAKE_MODEL_ID)
    assert (tools["finish_reason"], tools["call"]["name"]) == ("tool_calls", "get_weather")
    assert tools["answer"] == "Thanks, and tomorrow?"
    # 16 credits a question (the stream helper asks it once more), 28 for the tool calls
    assert server.balance(account) == 1_000_000 - 3 * plain["meta"]["usage"]["credits_used"] - 28


# ---- all three at once -----------------------------------------------------------------------


def test_the_three_sdks_at_once_on_one_key(server: Server) -> None:
    """One key, one account, three clients in flight together: each is answered, and the balance
    is what the three were told they cost, no more and no less."""
    key, account = server.new_key(1_000_000)

    def with_openai() -> int:
        chunks = list(
            _openai(server, key).chat.completions.create(
                model=FAKE_MODEL_ID, messages=ASKED, stream=True, stream_options={"include_usage": True}
            )
        )
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ASKED[0]["content"]
        return sum(_credits(c) for c in chunks if (c.model_extra or {}).get("meta"))

    def with_anthropic() -> int:
        answer = _anthropic(server, key).messages.create(model=FAKE_MODEL_ID, max_tokens=50, messages=ASKED)
        assert answer.content[0].type == "text"
        assert answer.content[0].text == ASKED[0]["content"]
        return _credits(answer)

    def with_aimlapi() -> int:
        done = sdk(server, key, "chat", FAKE_MODEL_ID)
        assert done["finish_reason"] == "stop"
        credits: int = done["meta"]["usage"]["credits_used"]
        return credits

    with ThreadPoolExecutor(3) as pool:
        costs = [f.result() for f in [pool.submit(with_aimlapi), pool.submit(with_openai), pool.submit(with_anthropic)]]
    assert all(cost > 0 for cost in costs)
    assert server.balance(account) == 1_000_000 - sum(costs)
    assert sorted(row[3] for row in server.usage_rows(account)) == sorted(costs)
    assert server.open_reservations() == 0
