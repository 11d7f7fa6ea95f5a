"""OpenAI's Responses-only models (o3-pro, the GPT-5 ``-pro`` and ``-codex`` models) through the
OpenAI-compatible provider and ``MockTransport``: the catalog declares them, the request goes to
``/responses`` field by field, and recorded answers and streams (text, function calls, reasoning
summaries, incomplete, failed, rate limited) come back as canonical results and events.
Recorded payloads: ``fixtures/openai_responses/`` (its ``README.md`` gives their sources)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
import pytest

from tests.providers.emulators import chat, fixture, fixture_json, provider_config, user
from unigate.catalog.loader import load_catalog
from unigate.catalog.spec import ModelSpec
from unigate.core.chat import (
    FunctionTool,
    ImagePart,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    Sampling,
    TextPart,
    ToolCall,
)
from unigate.core.results import ChoiceDelta, MoreBuffered, StreamEvent, StreamStart, Usage
from unigate.errors import ContextLengthExceeded, InvalidRequest, RateLimited, UpstreamError
from unigate.providers.openai_compat import OpenAICompatProvider
from unigate.providers.openai_responses import EventDecoder
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

BASE = "https://api.openai.com/v1"
CATALOG = {spec.id: spec for spec in load_catalog()}
CODEX = CATALOG["openai/gpt-5-1-codex"]
GPT4O = CATALOG["gpt-4o"]
TOOLS = (FunctionTool("weather", "Get weather information", {"type": "object", "properties": {"city": {}}}),)


def served(*answers: MockResponse) -> Callable[[Request], MockResponse]:
    left = list(answers)
    return lambda _: left.pop(0)


async def make(*answers: MockResponse) -> tuple[OpenAICompatProvider, MockTransport]:
    transport = MockTransport(served(*answers))
    provider = OpenAICompatProvider(provider_config("openai", BASE), transport=transport)
    await provider.start()
    return provider, transport


def sent(transport: MockTransport, i: int = -1) -> Any:
    return orjson.loads(transport.requests[i].body)


def sse(name: str) -> MockResponse:
    return MockResponse.sse(fixture(f"openai_responses/{name}"))


async def streamed(provider: OpenAICompatProvider, request: Any, spec: ModelSpec = CODEX) -> list[StreamEvent]:
    return [e async for e in provider.stream(request, spec) if not isinstance(e, MoreBuffered)]


def completed(name: str) -> Any:
    """The ``response`` object of a recorded stream's ``response.completed`` event."""
    for line in fixture(f"openai_responses/{name}").decode().splitlines():
        if line.startswith("data: ") and '"response.completed"' in line:
            return orjson.loads(line[6:])["response"]
    raise AssertionError(name)


# ---- the catalog says which models -------------------------------------------------------------


def test_the_catalog_sends_the_pro_and_codex_openai_models_and_no_other_to_the_responses_api() -> None:
    chosen = {s.id for s in CATALOG.values() if s.upstream_api == "responses"}
    expected = {
        s.id
        for s in CATALOG.values()
        if s.provider == "openai" and s.type == "chat-completion" and ("-pro" in s.id or "-codex" in s.id)
    }
    assert chosen == expected
    assert {"openai/o3-pro", "openai/gpt-5-1-codex-mini", "openai/gpt-5-5-pro"} <= chosen
    assert all("seed" not in CATALOG[i].params for i in chosen)  # the Responses API has no seed


# ---- non-streamed -----------------------------------------------------------------------------


async def test_the_request_goes_to_responses_field_by_field() -> None:
    provider, transport = await make(MockResponse.json(fixture("openai_responses/text.json")))
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    request = chat(
        Message("system", (TextPart("Be brief."),)),
        user("What's the weather like in SF?", ImagePart("https://example.com/sf.jpg", detail="low")),
        max_tokens=300,
        reasoning_effort="high",
        response_format=JsonSchemaFormat("weather", schema, strict=True),
        user="end-user-7",
    )
    provider.check(request, CODEX)
    result = await provider.complete(request, CODEX)
    assert transport.requests[0].url == f"{BASE}/responses"
    assert transport.requests[0].headers["Authorization"] == "Bearer sk-upstream-test-key"
    assert sent(transport) == {
        "model": "gpt-5.1-codex",
        "input": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What's the weather like in SF?"},
                    {"type": "input_image", "image_url": "https://example.com/sf.jpg", "detail": "low"},
                ],
            },
        ],
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "max_output_tokens": 300,
        "user": "end-user-7",
        "reasoning": {"effort": "high"},
        "text": {"format": {"type": "json_schema", "name": "weather", "schema": schema, "strict": True}},
    }
    (choice,) = result.choices
    assert choice.content is not None
    assert choice.content.startswith("I can't provide real-time updates")
    assert (choice.finish_reason, choice.tool_calls, choice.reasoning) == ("stop", (), None)
    assert result.model == "gpt-4o-mini-2024-07-18"
    assert result.usage == Usage(14, 50, 64, 0, 0)


async def test_a_chat_completions_model_of_the_same_provider_stays_on_chat_completions() -> None:
    provider, transport = await make(MockResponse.json(fixture("openai/gpt4o_vision.json")))
    await provider.complete(chat("Describe"), GPT4O)
    assert transport.requests[0].url == f"{BASE}/chat/completions"


async def test_a_tool_loop_keeps_the_encrypted_reasoning_and_puts_it_back_before_the_calls() -> None:
    answer = fixture_json("openai_responses/function_call.json")
    reasoning = answer["output"][0]
    reasoning["encrypted_content"] = "gAAAAABoWaTK-encrypted"
    provider, transport = await make(MockResponse.json(answer), MockResponse.json(answer))
    first = chat("When do the Tigers play?", tools=TOOLS, tool_choice=NamedToolChoice("weather"))
    result = await provider.complete(first, CODEX)
    body = sent(transport)
    assert body["tools"] == [
        {
            "type": "function",
            "name": "weather",
            "description": "Get weather information",
            "parameters": {"type": "object", "properties": {"city": {}}},
            "strict": False,  # Chat Completions' default, not the Responses API's
        }
    ]
    assert body["tool_choice"] == {"type": "function", "name": "weather"}
    (choice,) = result.choices
    (call,) = choice.tool_calls
    assert call == ToolCall(
        "call_nNlsgLEC5L6HTPLYNLGxYOrZ", "search", '{"query": "Detroit Tigers game time June 23 2025"}'
    )
    assert choice.finish_reason == "tool_calls"
    assert choice.reasoning is not None
    assert choice.reasoning.startswith("**Providing game details**")
    assert (result.usage.reasoning_tokens, result.usage.total()) == (192, 299)

    second = chat(
        "When do the Tigers play?",
        Message("assistant", tool_calls=(call,)),
        Message("tool", (TextPart("7:10 PM"),), tool_call_id=call.id),
        tools=TOOLS,
    )
    await provider.complete(second, CODEX)
    assert sent(transport)["input"][1:] == [
        {
            "type": "reasoning",
            "id": reasoning["id"],
            "summary": reasoning["summary"],
            "encrypted_content": "gAAAAABoWaTK-encrypted",
        },
        {"type": "function_call", "call_id": call.id, "name": "search", "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.id, "output": "7:10 PM"},
    ]


async def test_an_unknown_call_id_is_sent_without_reasoning() -> None:
    provider, transport = await make(MockResponse.json(fixture("openai_responses/text.json")))
    call = ToolCall("call_from_elsewhere", "weather", "{}")
    await provider.complete(chat("Hi", Message("assistant", (TextPart("Let me look."),), tool_calls=(call,))), CODEX)
    assert sent(transport)["input"][1:] == [
        {"role": "assistant", "content": "Let me look."},
        {"type": "function_call", "call_id": "call_from_elsewhere", "name": "weather", "arguments": "{}"},
    ]


@pytest.mark.parametrize(("reason", "finish"), [("max_output_tokens", "length"), ("content_filter", "content_filter")])
async def test_an_incomplete_response_says_why(reason: str, finish: str) -> None:
    answer = {
        **fixture_json("openai_responses/text.json"),
        "status": "incomplete",
        "incomplete_details": {"reason": reason},
    }
    provider, _ = await make(MockResponse.json(answer))
    result = await provider.complete(chat("Hi", max_tokens=16), CODEX)
    assert result.choices[0].finish_reason == finish


async def test_failures_are_typed() -> None:
    failed = {
        **fixture_json("openai_responses/text.json"),
        "status": "failed",
        "error": {"code": "server_error", "message": "boom"},
    }
    limited = MockResponse.json(fixture("openai/error_rate_limit.json"), status=429)
    provider, _ = await make(MockResponse.json(failed), limited)
    with pytest.raises(UpstreamError, match="boom"):
        await provider.complete(chat("Hi"), CODEX)
    with pytest.raises(RateLimited):
        await provider.complete(chat("Hi"), CODEX)


@pytest.mark.parametrize(
    ("options", "param"),
    [({"n": 2}, "n"), ({"sampling": Sampling(stop=("END",))}, "stop"), ({"sampling": Sampling(seed=1)}, "seed")],
)
async def test_what_the_responses_api_cannot_do_fails_before_the_call(options: dict[str, Any], param: str) -> None:
    provider, transport = await make()
    with pytest.raises(InvalidRequest) as caught:
        provider.check(chat("Hi", **options), CODEX)
    assert caught.value.param == param
    provider.check(chat("Hi", **options), GPT4O)  # Chat Completions takes them
    assert transport.requests == []


# ---- streamed -------------------------------------------------------------------------------


def _content(events: list[StreamEvent]) -> str:
    return "".join(e.content or "" for e in events if isinstance(e, ChoiceDelta))


async def test_a_text_stream() -> None:
    provider, transport = await make(sse("stream_text.sse"))
    events = await streamed(provider, chat("Who are you?", max_tokens=2048))
    assert sent(transport)["stream"] is True
    done = completed("stream_text.sse")
    assert events[0] == StreamStart("gpt-4-0613")
    assert _content(events) == done["output"][0]["content"][0]["text"]
    ends = [e for e in events if isinstance(e, ChoiceDelta) and e.finish_reason]
    assert [e.finish_reason for e in ends] == ["stop"]
    u = done["usage"]
    assert events[-1] == Usage(u["input_tokens"], u["output_tokens"], u["total_tokens"], 0, 0)


async def test_a_function_call_stream() -> None:
    provider, _ = await make(sse("stream_function_call.sse"))
    events = await streamed(provider, chat("Weather in Detroit?", tools=TOOLS))
    done = completed("stream_function_call.sse")
    (item,) = [o for o in done["output"] if o["type"] == "function_call"]
    calls = [c for e in events if isinstance(e, ChoiceDelta) for c in e.tool_calls]
    assert (calls[0].index, calls[0].id, calls[0].name) == (0, item["call_id"], item["name"])
    assert {c.index for c in calls} == {0}
    assert "".join(c.arguments for c in calls) == item["arguments"]
    assert events[-2] == ChoiceDelta(0, finish_reason="tool_calls")
    reasoning_tokens = done["usage"]["output_tokens_details"]["reasoning_tokens"]
    assert isinstance(events[-1], Usage)
    assert events[-1].reasoning_tokens == reasoning_tokens > 0


async def test_a_reasoning_summary_stream() -> None:
    provider, _ = await make(sse("stream_reasoning_summary.sse"))
    events = await streamed(provider, chat("When do the Tigers play?", tools=TOOLS))
    reasoning = "".join(e.reasoning or "" for e in events if isinstance(e, ChoiceDelta))
    summary = completed("stream_reasoning_summary.sse")["output"][0]["summary"][0]["text"]
    assert reasoning == summary
    calls = [c for e in events if isinstance(e, ChoiceDelta) for c in e.tool_calls]
    assert calls[0].name == "search"
    assert "".join(c.arguments for c in calls) == '{"query": "Detroit Tigers game time June 23 2025"}'


def test_each_summary_part_is_a_paragraph() -> None:
    decoder = EventDecoder(fallback_model="gpt-5.1-codex")
    kind = "response.reasoning_summary_text.delta"
    parts = [("rs_1", 0, "**Plan**"), ("rs_1", 0, " first."), ("rs_1", 1, "**Then**"), ("rs_2", 0, "Last.")]
    out = [decoder.feed(kind, {"type": kind, "item_id": i, "summary_index": n, "delta": d}) for i, n, d in parts]
    texts = [e.reasoning for events in out for e in events if isinstance(e, ChoiceDelta)]
    assert "".join(t or "" for t in texts) == "**Plan** first.\n\n**Then**\n\nLast."
    assert out[0][0] == StreamStart("gpt-5.1-codex")  # no response.created came first


async def test_a_rate_limit_in_the_stream_is_a_rate_limit() -> None:
    provider, _ = await make(sse("stream_rate_limited.sse"))
    with pytest.raises(RateLimited, match="tokens per min"):
        await streamed(provider, chat("Hi"))


async def test_an_error_event_ends_the_stream_with_its_message() -> None:
    provider, _ = await make(sse("stream_error.sse"))
    with pytest.raises(UpstreamError, match="Foobar"):
        await streamed(provider, chat("Hi"))


async def test_a_stream_cut_before_it_completed_is_an_error() -> None:
    text = fixture("openai_responses/stream_text.sse")
    cut = text[: text.index(b"event: response.completed")]
    provider, _ = await make(MockResponse.sse(cut))
    with pytest.raises(UpstreamError, match="before the response completed"):
        await streamed(provider, chat("Hi"))


async def test_a_configured_model_can_name_the_responses_api() -> None:
    """An operator's ``[models]`` table may send a model of an OpenAI-compatible server there."""
    provider, transport = await make(sse("stream_text.sse"))
    spec = replace(GPT4O, upstream_api="responses")
    await streamed(provider, chat("Hi"), spec)
    assert transport.requests[0].url == f"{BASE}/responses"
    assert "include" not in sent(transport)  # not a reasoning model


async def test_a_context_refusal_in_the_stream_is_a_400_naming_the_sizes() -> None:
    """The recorded rate-limit stream with OpenAI's context error in its place (its documented code
    and message): a 400 ``context_length_exceeded`` keeping the sizes, not a 502."""
    said = (
        "This model's maximum context length is 128000 tokens. However, your messages resulted in 130412 tokens. "
        "Please reduce the length of the messages."
    )
    text = fixture("openai_responses/stream_rate_limited.sse").decode()
    text = re.sub(
        r'"code":"rate_limit_exceeded","message":"[^"]*"', f'"code":"context_length_exceeded","message":"{said}"', text
    )
    provider, _ = await make(MockResponse.sse(text.encode()))
    with pytest.raises(ContextLengthExceeded, match="130412 tokens") as raised:
        await streamed(provider, chat("Hi"))
    assert (raised.value.status, raised.value.code) == (400, "context_length_exceeded")
