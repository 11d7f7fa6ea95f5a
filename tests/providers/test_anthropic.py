"""The Anthropic Messages adapter against the payloads of Anthropic's API reference and guides,
replayed by a local emulator: the Messages request we build, field by field, and the canonical
result, field by field."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from tests.providers.conftest import MakeAnthropic
from tests.providers.emulators import (
    UPSTREAM_KEY,
    Emulator,
    chat,
    deltas,
    fixture,
    fixture_json,
    json_reply,
    model_spec,
    sse_reply,
    user,
)
from unigate.catalog.spec import ModelSpec
from unigate.core.chat import (
    ChatRequest,
    FilePart,
    FunctionTool,
    ImagePart,
    JsonObjectFormat,
    Message,
    Sampling,
    TextPart,
    ToolCall,
)
from unigate.core.results import ChoiceDelta, MoreBuffered, StreamEvent, StreamStart, ToolCallDelta, Usage
from unigate.errors import (
    GatewayError,
    InvalidRequest,
    Overloaded,
    RateLimited,
    UnsupportedContent,
    UnsupportedParameter,
    UpstreamError,
)
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.estimate import estimated_usage

SONNET = model_spec("anthropic", "claude-sonnet-4-5", max_output=8192)
WEATHER = FunctionTool(
    "get_weather",
    "Get the current weather in a given location",
    {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)


async def events_of(provider: AnthropicProvider, request: ChatRequest, spec: ModelSpec) -> list[StreamEvent]:
    return [e async for e in provider.stream(request, spec) if not isinstance(e, MoreBuffered)]


async def drain(stream: AsyncIterator[StreamEvent], into: list[StreamEvent]) -> None:
    async for event in stream:
        if not isinstance(event, MoreBuffered):
            into.append(event)


# ---- non-streamed --------------------------------------------------------------------------------


async def test_plain_message_request_and_result(upstream: Emulator, make_anthropic: MakeAnthropic) -> None:
    upstream.queue(json_reply(fixture_json("anthropic/message.json")))
    provider = await make_anthropic()
    request = chat(
        Message("system", (TextPart("You are Claude."),)),
        Message("developer", (TextPart("Be brief."),)),
        "Hello, world",
        sampling=Sampling(temperature=0.7, top_p=0.9, top_k=40, stop=("\n\nHuman:",)),
        user="user-42",
    )
    result = await provider.complete(request, SONNET)

    sent = upstream.last
    assert (sent.method, sent.path) == ("POST", "/v1/messages")
    assert sent.headers["x-api-key"] == UPSTREAM_KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.body == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 8192,  # required: the model's max_output when the client sets none
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello, world"}]}],
        "system": "You are Claude.\n\nBe brief.",
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["\n\nHuman:"],
        "metadata": {"user_id": "user-42"},
    }
    assert result.model == "claude-sonnet-4-5-20250929"
    (choice,) = result.choices
    assert (choice.index, choice.content, choice.finish_reason, choice.tool_calls, choice.reasoning) == (
        0,
        "Hi! My name is Claude.",
        "stop",
        (),
        None,
    )
    assert result.usage == Usage(prompt_tokens=2095, completion_tokens=503)


async def test_cache_reads_count_as_prompt_and_cached_tokens(upstream: Emulator, make_anthropic: MakeAnthropic) -> None:
    upstream.queue(json_reply(fixture_json("anthropic/message_cache_read.json")))
    provider = await make_anthropic()
    result = await provider.complete(chat("What are the themes?", max_tokens=393), SONNET)
    assert upstream.last.body["max_tokens"] == 393
    assert result.choices[0].finish_reason == "length"  # stop_reason max_tokens
    assert result.usage == Usage(prompt_tokens=21 + 188086, completion_tokens=393, cached_tokens=188086)


async def test_tools_and_tool_results(upstream: Emulator, make_anthropic: MakeAnthropic) -> None:
    upstream.queue(json_reply(fixture_json("anthropic/message_tool_use.json")))
    provider = await make_anthropic()
    request = chat(
        "What is the weather like in San Francisco and Boston?",
        Message(
            "assistant",
            (TextPart("Let me look both up."),),
            tool_calls=(
                ToolCall("toolu_A", "get_weather", '{"location": "San Francisco, CA"}'),
                ToolCall("toolu_B", "get_weather", '{"location": "Boston, MA"}'),
            ),
        ),
        Message("tool", (TextPart("15 degrees"),), tool_call_id="toolu_A"),
        Message("tool", (TextPart("3 degrees"),), tool_call_id="toolu_B"),
        "In celsius please.",
        tools=(WEATHER, FunctionTool("ping")),
        tool_choice="required",
        parallel_tool_calls=False,
    )
    result = await provider.complete(request, SONNET)
    body = upstream.last.body
    assert body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "What is the weather like in San Francisco and Boston?"}],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look both up."},
                {
                    "type": "tool_use",
                    "id": "toolu_A",
                    "name": "get_weather",
                    "input": {"location": "San Francisco, CA"},
                },
                {"type": "tool_use", "id": "toolu_B", "name": "get_weather", "input": {"location": "Boston, MA"}},
            ],
        },
        {
            "role": "user",  # consecutive tool results and the next user text: one user turn
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_A", "content": "15 degrees"},
                {"type": "tool_result", "tool_use_id": "toolu_B", "content": "3 degrees"},
                {"type": "text", "text": "In celsius please."},
            ],
        },
    ]
    assert body["tools"] == [
        {"name": "get_weather", "description": WEATHER.description, "input_schema": WEATHER.parameters},
        {"name": "ping", "input_schema": {"type": "object"}},
    ]
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    (choice,) = result.choices
    assert choice.content == "I'll check the current weather in San Francisco for you."
    assert choice.finish_reason == "tool_calls"
    assert choice.tool_calls == (
        ToolCall("toolu_01A09q90qw90lq917835lq9", "get_weather", '{"location":"San Francisco, CA","unit":"celsius"}'),
    )
    assert result.model == "claude-opus-4-1-20250805"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("auto", {"type": "auto"}), ("none", {"type": "none"}), (None, None)],
)
async def test_tool_choice_mapping(
    upstream: Emulator, make_anthropic: MakeAnthropic, choice: str | None, expected: object
) -> None:
    upstream.queue(json_reply(fixture_json("anthropic/message.json")))
    provider = await make_anthropic()
    await provider.complete(chat("hi", tools=(WEATHER,), tool_choice=choice), SONNET)
    assert upstream.last.body.get("tool_choice") == expected


async def test_images_and_documents(upstream: Emulator, make_anthropic: MakeAnthropic) -> None:
    upstream.queue(json_reply(fixture_json("anthropic/message.json")))
    provider = await make_anthropic()
    text_file = base64.b64encode(b"Plain notes.").decode()
    request = chat(
        user(
            "Compare these.",
            ImagePart("data:image/png;base64,iVBORw0KGgo="),
            ImagePart("https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"),
            FilePart(file_data="data:application/pdf;base64,JVBERi0xLjQ=", filename="paper.pdf"),
            FilePart(file_data=text_file, filename="notes.txt"),
        )
    )
    await provider.complete(request, SONNET)
    assert upstream.last.body["messages"][0]["content"] == [
        {"type": "text", "text": "Compare these."},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {
            "type": "image",
            "source": {
                "type": "url",
                "url": "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg",
            },
        },
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="},
            "title": "paper.pdf",
        },
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "Plain notes."},
            "title": "notes.txt",
        },
    ]


async def test_what_anthropic_cannot_honour_is_refused_in_check(make_anthropic: MakeAnthropic) -> None:
    provider = await make_anthropic()
    cases: list[tuple[ChatRequest, type[GatewayError], str]] = [
        (chat("hi", n=2), UnsupportedParameter, "n"),
        (chat("hi", logprobs=True), UnsupportedParameter, "logprobs"),
        (chat("hi", sampling=Sampling(seed=1)), UnsupportedParameter, "seed"),
        (chat("hi", response_format=JsonObjectFormat()), UnsupportedParameter, "response_format"),
        (chat("hi", sampling=Sampling(temperature=1.5)), InvalidRequest, "temperature"),
        (chat("hi", reasoning_effort="low", max_tokens=1024), InvalidRequest, "max_completion_tokens"),
        (chat("hi", reasoning_effort="low", sampling=Sampling(temperature=0.2)), UnsupportedParameter, "temperature"),
        (
            chat("hi", reasoning_effort="low", tools=(WEATHER,), tool_choice="required"),
            UnsupportedParameter,
            "tool_choice",
        ),
        (chat(user(ImagePart("data:image/bmp;base64,Qk0="))), UnsupportedContent, "messages[0].content[0]"),
        (chat(user(ImagePart("ftp://example.com/a.png"))), UnsupportedContent, "messages[0].content[0]"),
        (chat(user(FilePart(file_id="file-abc"))), UnsupportedContent, "messages[0].content[0]"),
        (
            chat("hi", Message("assistant", tool_calls=(ToolCall("t", "f", "[1]"),))),
            InvalidRequest,
            "messages[1].tool_calls[0].function.arguments",
        ),
    ]
    for request, error, param in cases:
        with pytest.raises(error) as caught:
            provider.check(request, SONNET)
        assert caught.value.param == param


@pytest.mark.parametrize(
    ("effort", "max_tokens", "budget"),
    [
        ("low", 1025, 1024),
        ("low", 10_000, 2000),
        ("medium", 10_000, 5000),
        ("high", 10_000, 8000),
        ("high", None, 6553),
    ],
)
async def test_reasoning_effort_becomes_a_thinking_budget(
    upstream: Emulator, make_anthropic: MakeAnthropic, effort: str, max_tokens: int | None, budget: int
) -> None:
    upstream.queue(json_reply(fixture_json("anthropic/message.json")))
    provider = await make_anthropic()
    await provider.complete(chat("Hello", reasoning_effort=effort, max_tokens=max_tokens), SONNET)
    assert upstream.last.body["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert upstream.last.body["max_tokens"] == (max_tokens or 8192)


async def test_signed_thinking_is_replayed_in_the_tool_loop(upstream: Emulator, make_anthropic: MakeAnthropic) -> None:
    thinking = fixture_json("anthropic/message_thinking_tool_use.json")
    upstream.queue(json_reply(thinking), json_reply(fixture_json("anthropic/message.json")))
    provider = await make_anthropic()
    first = await provider.complete(chat("Weather in Paris?", tools=(WEATHER,), reasoning_effort="medium"), SONNET)
    (choice,) = first.choices
    assert choice.reasoning == thinking["content"][0]["thinking"]
    assert choice.content == "I can help you get the current weather information for Paris. Let me check that for you"
    assert choice.tool_calls == (ToolCall("toolu_01CswdEQBMshySk6Y9DFKrfq", "get_weather", '{"location":"Paris"}'),)
    assert first.usage == Usage(436, 126)

    follow_up = chat(
        "Weather in Paris?",
        Message("assistant", (TextPart(choice.content or ""),), tool_calls=choice.tool_calls),
        Message("tool", (TextPart("18°C, sunny"),), tool_call_id="toolu_01CswdEQBMshySk6Y9DFKrfq"),
        tools=(WEATHER,),
        reasoning_effort="medium",
    )
    await provider.complete(follow_up, SONNET)
    body = upstream.last.body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert body["messages"][1]["content"][0] == thinking["content"][0]  # signature and all, unchanged
    assert [b["type"] for b in body["messages"][1]["content"]] == ["thinking", "text", "tool_use"]

    # Without reasoning_effort the blocks stay home: thinking is off for this request.
    upstream.queue(json_reply(fixture_json("anthropic/message.json")))
    await provider.complete(replace(follow_up, reasoning_effort=None), SONNET)
    assert "thinking" not in upstream.last.body
    assert [b["type"] for b in upstream.last.body["messages"][1]["content"]] == ["text", "tool_use"]

    # Another process does not have the blocks: the loop goes on without extended thinking.
    upstream.queue(json_reply(fixture_json("anthropic/message.json")))
    stranger = await make_anthropic()
    await stranger.complete(follow_up, SONNET)
    assert "thinking" not in upstream.last.body
    assert [b["type"] for b in upstream.last.body["messages"][1]["content"]] == ["text", "tool_use"]


# ---- streamed ------------------------------------------------------------------------------------


async def test_basic_stream(upstream: Emulator, make_anthropic: MakeAnthropic) -> None:
    upstream.queue(sse_reply(fixture("anthropic/stream_basic.sse")))
    provider = await make_anthropic()
    events = await events_of(provider, chat("Hello", max_tokens=256), SONNET)
    assert upstream.last.body == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
        "stream": True,
    }
    assert events == [
        StreamStart("claude-opus-4-6"),
        ChoiceDelta(0, content="Hello"),
        ChoiceDelta(0, content="!"),
        ChoiceDelta(0, finish_reason="stop"),
        Usage(prompt_tokens=25, completion_tokens=15),
    ]


@pytest.mark.parametrize("piece", [None, 13])
async def test_tool_use_stream(upstream: Emulator, make_anthropic: MakeAnthropic, piece: int | None) -> None:
    upstream.queue(sse_reply(fixture("anthropic/stream_tool_use.sse"), piece=piece))
    provider = await make_anthropic()
    events = await events_of(provider, chat("What is the weather like in San Francisco?", tools=(WEATHER,)), SONNET)
    got = deltas(events)
    assert "".join(d.content or "" for d in got) == "Okay, let's check the weather for San Francisco, CA:"
    calls = [c for d in got for c in d.tool_calls]
    assert calls[0] == ToolCallDelta(0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", "")
    assert all(c.index == 0 and c.id is None for c in calls[1:])
    assert "".join(c.arguments for c in calls) == '{"location": "San Francisco, CA", "unit": "fahrenheit"}'
    assert got[-1] == ChoiceDelta(0, finish_reason="tool_calls")
    assert events[-1] == Usage(prompt_tokens=472, completion_tokens=89)


async def test_thinking_stream(upstream: Emulator, make_anthropic: MakeAnthropic) -> None:
    upstream.queue(sse_reply(fixture("anthropic/stream_thinking.sse"), piece=5))
    provider = await make_anthropic()
    request = chat("GCD of 1071 and 462?", reasoning_effort="high", max_tokens=20000)
    events = await events_of(provider, request, SONNET)
    got = deltas(events)
    reasoning = "".join(d.reasoning or "" for d in got)
    assert reasoning.startswith("I need to find the GCD of 1071 and 462 using the Euclidean algorithm.")
    assert reasoning.endswith("The remainder is 0, so GCD(1071, 462) = 21.")
    assert "".join(d.content or "" for d in got) == "The greatest common divisor of 1071 and 462 is **21**."
    assert got[-1].finish_reason == "stop"
    # This documented stream reports no usage at all: billed on an estimate, never on zero.
    generated = len((reasoning + "The greatest common divisor of 1071 and 462 is **21**.").encode())
    assert events[-1] == estimated_usage(request, generated)
    assert generated > 0


async def test_an_error_event_mid_stream_raises(upstream: Emulator, make_anthropic: MakeAnthropic) -> None:
    events = fixture("anthropic/stream_basic.sse").split(b"\n\n")
    broken = b"\n\n".join(
        [
            *events[:4],
            b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
        ]
    )
    upstream.queue(sse_reply(broken + b"\n\n"))
    provider = await make_anthropic()
    received: list[StreamEvent] = []
    with pytest.raises(Overloaded, match="Overloaded"):
        await drain(provider.stream(chat("Hello"), SONNET), received)
    assert received == [StreamStart("claude-opus-4-6"), ChoiceDelta(0, content="Hello")]


# ---- upstream errors -----------------------------------------------------------------------------


async def test_upstream_errors_become_typed_errors(upstream: Emulator, make_anthropic: MakeAnthropic) -> None:
    upstream.queue(
        json_reply(fixture_json("anthropic/error_overloaded.json"), status=529),
        json_reply(fixture_json("anthropic/error_authentication.json"), status=401),
        json_reply(fixture_json("anthropic/error_invalid_request.json"), status=400),
        json_reply(fixture_json("anthropic/error_rate_limit.json"), status=429, headers={"retry-after": "13"}),
        json_reply(fixture_json("anthropic/error_api.json"), status=500),
    )
    provider = await make_anthropic()
    with pytest.raises(Overloaded) as busy:
        await provider.complete(chat("hi"), SONNET)
    assert (busy.value.status, busy.value.code) == (503, "upstream_overloaded")
    with pytest.raises(UpstreamError) as auth:
        await provider.complete(chat("hi"), SONNET)
    assert (auth.value.status, auth.value.code) == (502, "upstream_auth_failed")
    assert "ANTHROPIC_API_KEY" in auth.value.message
    with pytest.raises(InvalidRequest, match=r"max_tokens: 8192 > 4096"):
        await provider.complete(chat("hi"), SONNET)
    with pytest.raises(RateLimited) as limited:
        await provider.complete(chat("hi"), SONNET)
    assert limited.value.headers == {"Retry-After": "13"}
    with pytest.raises(UpstreamError, match="HTTP 500"):
        await provider.complete(chat("hi"), SONNET)
