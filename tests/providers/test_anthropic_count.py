"""Anthropic's token counting through the adapter (``providers/anthropic/count.py``), against the
API reference's documented answer replayed by a local emulator: the body we send (the Messages
request ``/v1/messages`` would send, less what only creating a message takes) and what we make of
the answers."""

from __future__ import annotations

import pytest

from tests.providers.conftest import MakeAnthropic
from tests.providers.emulators import (
    UPSTREAM_KEY,
    Emulator,
    chat,
    fixture_json,
    json_reply,
    model_spec,
)
from unigate.core.chat import FunctionTool, Message, Sampling, TextPart
from unigate.core.provider import TokenCounter
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.anthropic import request_body
from unigate.providers.anthropic.count import CREATE_ONLY
from unigate.providers.router import Routes

OPUS = model_spec("anthropic", "claude-opus-4-6", max_output=8192)
WEATHER = FunctionTool(
    "get_weather",
    "Get the current weather in a given location",
    {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)


async def test_the_documented_example_is_counted_by_anthropic(
    upstream: Emulator, make_anthropic: MakeAnthropic
) -> None:
    upstream.queue(json_reply(fixture_json("anthropic/count_tokens.json")))
    provider = await make_anthropic()
    assert isinstance(provider, TokenCounter)
    assert (
        await provider.count_tokens(chat("Hello, world"), OPUS)
        == fixture_json("anthropic/count_tokens.json")["input_tokens"]
    )
    sent = upstream.last
    assert (sent.method, sent.path) == ("POST", "/v1/messages/count_tokens")
    assert sent.headers["x-api-key"] == UPSTREAM_KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.body == {
        "model": "claude-opus-4-6",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello, world"}]}],
    }


async def test_the_body_is_the_messages_request_less_what_only_creation_takes(
    upstream: Emulator, make_anthropic: MakeAnthropic
) -> None:
    upstream.queue(json_reply({"input_tokens": 403}))
    provider = await make_anthropic()
    request = chat(
        Message("system", (TextPart("You are a scientist."),)),
        "What's the weather like in San Francisco?",
        max_tokens=32000,
        sampling=Sampling(top_p=0.99, stop=("END",)),
        tools=(WEATHER,),
        tool_choice="auto",
        reasoning_effort="medium",
        user="user-42",
        stream=True,
    )
    assert await provider.count_tokens(request, OPUS) == 403
    created = request_body(request, OPUS, stream=True)
    assert {"max_tokens", "stream", "top_p", "stop_sequences", "metadata"} <= set(created)
    assert upstream.last.body == {name: value for name, value in created.items() if name not in CREATE_ONLY}
    assert upstream.last.body["thinking"] == {"type": "enabled", "budget_tokens": 16000}
    assert upstream.last.body["tools"][0]["name"] == "get_weather"


async def test_an_upstream_without_the_endpoint_leaves_the_count_to_the_estimate(
    upstream: Emulator, make_anthropic: MakeAnthropic
) -> None:
    upstream.queue(
        json_reply({"type": "error", "error": {"type": "not_found_error", "message": "Not found"}}, status=404)
    )
    assert await (await make_anthropic()).count_tokens(chat("Hello"), OPUS) is None


async def test_refusals_and_odd_answers_are_errors(upstream: Emulator, make_anthropic: MakeAnthropic) -> None:
    upstream.queue(
        json_reply(fixture_json("anthropic/error_invalid_request.json"), status=400),
        json_reply({"tokens": 12}),
        json_reply({"input_tokens": True}),
    )
    provider = await make_anthropic()
    with pytest.raises(InvalidRequest) as refused:
        await provider.count_tokens(chat("Hello"), OPUS)
    assert "maximum allowed number of output tokens" in refused.value.message
    for _ in range(2):
        with pytest.raises(UpstreamError) as odd:
            await provider.count_tokens(chat("Hello"), OPUS)
        assert "input_tokens" in odd.value.message


async def test_the_router_counts_through_its_first_deployment(
    upstream: Emulator, make_anthropic: MakeAnthropic
) -> None:
    upstream.queue(json_reply({"input_tokens": 14}))
    router = Routes().router("anthropic", [await make_anthropic()])
    assert await router.count_tokens(chat("Hello, Claude"), OPUS) == 14
    assert upstream.last.path == "/v1/messages/count_tokens"
