"""The OpenAI-compatible adapter against recorded OpenAI, DeepSeek, Qwen, OpenRouter and
Claude-behind-OpenAI payloads replayed by a local emulator: the request we send, field by field,
and the canonical result, field by field."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest

from tests.providers.emulators import (
    UPSTREAM_KEY,
    Emulator,
    chat,
    deltas,
    fixture,
    fixture_json,
    json_reply,
    model_spec,
    provider_config,
    sse_reply,
    user,
)
from unigate.catalog.spec import ModelSpec
from unigate.core.chat import (
    ChatRequest,
    FilePart,
    FunctionTool,
    ImagePart,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    Sampling,
    TextPart,
    ToolCall,
)
from unigate.core.results import (
    MoreBuffered,
    StreamEvent,
    StreamStart,
    TokenLogprob,
    ToolCallDelta,
    TopLogprob,
    Usage,
)
from unigate.errors import InvalidRequest, Overloaded, RateLimited, UpstreamError
from unigate.providers.openai_compat import OpenAICompatProvider

Make = Callable[..., Awaitable[OpenAICompatProvider]]


@pytest.fixture
async def make(upstream: Emulator) -> AsyncIterator[Make]:
    made: list[OpenAICompatProvider] = []

    async def factory(name: str = "openai") -> OpenAICompatProvider:
        provider = OpenAICompatProvider(provider_config(name, upstream.url + "/v1"))
        await provider.start()
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.close()


async def events_of(provider: OpenAICompatProvider, request: ChatRequest, spec: ModelSpec) -> list[StreamEvent]:
    return [e async for e in provider.stream(request, spec) if not isinstance(e, MoreBuffered)]


# ---- non-streamed --------------------------------------------------------------------------------


async def test_openai_vision_request_and_result(upstream: Emulator, make: Make) -> None:
    upstream.queue(json_reply(fixture_json("openai/gpt4o_vision.json")))
    provider = await make("openai")
    image = ImagePart("https://raw.githubusercontent.com/aimlapi/api-docs/main/reference-files/mona_lisa_extended.jpg")
    request = chat(
        Message("system", (TextPart("Be vivid."),)),
        Message("developer", (TextPart("Answer in one paragraph."),)),
        user("Describe this scene:", image),
        max_tokens=300,
        sampling=Sampling(temperature=0.6),
    )
    result = await provider.complete(request, model_spec("openai", "gpt-4o"))

    sent = upstream.last
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert sent.body == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be vivid."},
            {"role": "developer", "content": "Answer in one paragraph."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe this scene:"},
                    {"type": "image_url", "image_url": {"url": image.url}},
                ],
            },
        ],
        "max_completion_tokens": 300,
        "temperature": 0.6,
    }
    assert result.model == "gpt-4o-2024-08-06"
    assert result.system_fingerprint == "fp_0a8aa8bfeb"
    (choice,) = result.choices
    assert choice.index == 0
    assert choice.content is not None
    assert choice.content.startswith("The scene is an iconic Renaissance portrait")
    assert (choice.finish_reason, choice.tool_calls, choice.reasoning, choice.refusal, choice.logprobs) == (
        "stop",
        (),
        None,
        None,
        None,
    )
    assert result.usage == Usage(776, 85, 861, 0, 0)


async def test_deepseek_reasoning_content_cache_and_compat_dialect(upstream: Emulator, make: Make) -> None:
    upstream.queue(json_reply(fixture_json("openai/deepseek_v4_pro.json")))
    provider = await make("deepseek")
    request = chat(
        Message("developer", (TextPart("Think first."),)), "Hi! What do you think about mankind?", max_tokens=2048
    )
    result = await provider.complete(request, model_spec("deepseek", "deepseek-v4-pro"))
    # Compatibles get ``system`` for ``developer`` and the classic ``max_tokens``.
    assert upstream.last.body == {
        "model": "deepseek-v4-pro",
        "messages": [
            {"role": "system", "content": "Think first."},
            {"role": "user", "content": "Hi! What do you think about mankind?"},
        ],
        "max_tokens": 2048,
    }
    (choice,) = result.choices
    assert choice.reasoning is not None
    assert choice.reasoning.startswith('We are asked: "Hi! What do you think')
    assert choice.content is not None
    assert choice.content.startswith("That's quite a profound question")
    assert result.usage == Usage(prompt_tokens=13, completion_tokens=416, total_tokens=429, reasoning_tokens=89)
    assert result.system_fingerprint == "fp_9954b31ca7_prod0820_fp8_kvcache_20260402"


async def test_openrouter_reasoning_field_and_qwen_empty_reasoning(upstream: Emulator, make: Make) -> None:
    upstream.queue(
        json_reply(fixture_json("openai/openrouter_reasoning.json")),
        json_reply(fixture_json("openai/qwen3_no_thinking.json")),
    )
    provider = await make("openrouter")
    routed = await provider.complete(chat("Hi!"), model_spec("openrouter", "deepseek/deepseek-v3.2-speciale"))
    (choice,) = routed.choices
    assert choice.reasoning is not None
    assert choice.reasoning.startswith("We need to respond to the user's message")
    assert choice.refusal is None
    assert routed.usage == Usage(13, 414, 427, reasoning_tokens=388, cached_tokens=0)

    qwen = await provider.complete(chat("Hello"), model_spec("openrouter", "qwen3-32b"))
    assert (qwen.choices[0].content, qwen.choices[0].reasoning) == ("Hello! How can I assist you today? 😊", None)
    assert qwen.usage == Usage(19, 65, 84)


async def test_native_finish_reasons_of_claude_behind_openai_are_mapped_not_guessed(
    upstream: Emulator, make: Make
) -> None:
    body = fixture_json("openai/anthropic_via_openai.json")
    unknown = fixture_json("openai/anthropic_via_openai.json")
    unknown["choices"][0]["finish_reason"] = "pause_turn"
    upstream.queue(json_reply(body), json_reply(unknown))
    provider = await make("openrouter")
    spec = model_spec("openrouter", "anthropic/claude-opus-4")
    assert (await provider.complete(chat("Hello"), spec)).choices[0].finish_reason == "stop"  # "end_turn"
    assert (await provider.complete(chat("Hello"), spec)).choices[0].finish_reason == "unknown"


async def test_tool_calls_round_trip(upstream: Emulator, make: Make) -> None:
    upstream.queue(json_reply(fixture_json("openai/tool_calls.json")))
    provider = await make("openai")
    tool = FunctionTool(
        "get_current_weather",
        "Get the current weather in a given location",
        {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
        strict=True,
    )
    request = chat(
        "Convert 256°F to °C",
        Message("assistant", tool_calls=(ToolCall("call_1", "toCelsius", '{"fahrenheit": 256}'),)),
        Message("tool", (TextPart("124.44"),), tool_call_id="call_1"),
        "And the weather in Boston?",
        tools=(tool,),
        tool_choice=NamedToolChoice("get_current_weather"),
        parallel_tool_calls=False,
    )
    result = await provider.complete(request, model_spec("openai", "gpt-4o-mini"))
    body = upstream.last.body
    assert body["messages"][1:3] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "toCelsius", "arguments": '{"fahrenheit": 256}'},
                }
            ],
        },
        {"role": "tool", "content": "124.44", "tool_call_id": "call_1"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_current_weather",
                "description": "Get the current weather in a given location",
                "parameters": tool.parameters,
                "strict": True,
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_current_weather"}}
    assert body["parallel_tool_calls"] is False
    (choice,) = result.choices
    assert choice.content is None
    assert choice.finish_reason == "tool_calls"
    assert choice.tool_calls == (ToolCall("call_abc123", "get_current_weather", '{\n"location": "Boston, MA"\n}'),)
    assert result.usage == Usage(82, 17, 99)


async def test_logprobs_sampling_formats_and_files(upstream: Emulator, make: Make) -> None:
    upstream.queue(json_reply(fixture_json("openai/logprobs.json")))
    provider = await make("openai")
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    request = chat(
        user("Summarize", FilePart(file_data="data:application/pdf;base64,JVBERi0=", filename="a.pdf")),
        n=2,
        logprobs=True,
        top_logprobs=2,
        response_format=JsonSchemaFormat("answer", schema, strict=True),
        sampling=Sampling(top_p=0.9, seed=7, stop=("END",), frequency_penalty=0.5, logit_bias={50256: -100}),
        reasoning_effort="low",
        user="user-42",
    )
    result = await provider.complete(request, model_spec("openai", "gpt-4o-mini"))
    body = upstream.last.body
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Summarize"},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
            ],
        }
    ]
    assert {k: v for k, v in body.items() if k not in ("model", "messages")} == {
        "n": 2,
        "logprobs": True,
        "top_logprobs": 2,
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}},
        "top_p": 0.9,
        "seed": 7,
        "stop": ["END"],
        "frequency_penalty": 0.5,
        "logit_bias": {"50256": -100},
        "reasoning_effort": "low",
        "user": "user-42",
    }
    logprobs = result.choices[0].logprobs
    assert logprobs is not None
    assert len(logprobs) == 3
    assert logprobs[0] == TokenLogprob(
        "Hello",
        -0.31725305,
        (72, 101, 108, 108, 111),
        (TopLogprob("Hello", -0.31725305, (72, 101, 108, 108, 111)), TopLogprob("Hi", -1.3190403, (72, 105))),
    )
    assert logprobs[2].top_logprobs[1] == TopLogprob("<|end|>", -10.953937, None)


async def test_missing_usage_is_estimated_not_zero(upstream: Emulator, make: Make) -> None:
    body = fixture_json("openai/gpt4o_vision.json")
    del body["usage"]
    upstream.queue(json_reply(body))
    provider = await make("together")
    result = await provider.complete(chat("Describe the Mona Lisa"), model_spec("together", "m"))
    assert result.usage.prompt_tokens > 0
    assert result.usage.completion_tokens > 0


# ---- streamed ------------------------------------------------------------------------------------


def stream_text(name: str) -> str:
    text = ""
    for block in fixture(name).decode().split("\n\n"):
        if block.startswith("data: {"):
            for choice in orjson.loads(block[6:]).get("choices") or ():
                text += (choice.get("delta") or {}).get("content") or ""
    return text


@pytest.mark.parametrize("piece", [None, 7])
async def test_openai_stream_without_done_ends_with_its_usage_chunk(
    upstream: Emulator, make: Make, piece: int | None
) -> None:
    upstream.queue(sse_reply(fixture("openai/stream_gpt4o.sse"), piece=piece))
    provider = await make("openai")
    events = await events_of(provider, chat("Hi! What do you think about mankind?"), model_spec("openai", "gpt-4o"))
    assert upstream.last.body == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hi! What do you think about mankind?"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert events[0] == StreamStart("gpt-4o-2024-08-06")
    assert events[-1] == Usage(16, 102, 118, 0, 0)
    got = deltas(events)
    assert "".join(d.content or "" for d in got) == stream_text("openai/stream_gpt4o.sse")
    assert [d.finish_reason for d in got if d.finish_reason] == ["stop"]
    assert got[-1].finish_reason == "stop"
    assert all(d.content for d in got[:-1])  # the empty role chunk is not passed on


async def test_qwen_reasoning_stream(upstream: Emulator, make: Make) -> None:
    upstream.queue(sse_reply(fixture("openai/stream_qwen3_reasoning.sse")))
    provider = await make("alibaba")
    events = await events_of(provider, chat("Hello"), model_spec("alibaba", "qwen3-32b"))
    got = deltas(events)
    reasoning = "".join(d.reasoning or "" for d in got)
    assert reasoning.startswith('Okay, the user said "Hello".')
    assert reasoning.endswith("a general response is fine. Alright, that should work.")
    assert "".join(d.content or "" for d in got) == "Hello! How can I assist you today?"
    assert got[-1].finish_reason == "stop"
    assert events[-1] == Usage(13, 2010, 2023, reasoning_tokens=82)


async def test_claude_behind_openai_stream_repeats_its_finish_chunk(upstream: Emulator, make: Make) -> None:
    upstream.queue(sse_reply(fixture("openai/stream_anthropic_via_openai.sse")))
    provider = await make("openrouter")
    events = await events_of(provider, chat("Hi! What do you think about mankind?"), model_spec("openrouter", "claude"))
    assert events[0] == StreamStart("claude-opus-4-20250514")
    got = deltas(events)
    assert [d.finish_reason for d in got if d.finish_reason] == ["stop"]  # once, not twice
    assert "".join(d.content or "" for d in got) == stream_text("openai/stream_anthropic_via_openai.sse")
    assert events[-1] == Usage(16, 141, 157)  # from the finish chunk


async def test_tool_call_stream_with_done(upstream: Emulator, make: Make) -> None:
    upstream.queue(sse_reply(fixture("openai/stream_tool_calls.sse"), piece=11))
    provider = await make("openai")
    tool = FunctionTool("get_weather", parameters={"type": "object"})
    events = await events_of(provider, chat("Weather in Paris?", tools=(tool,)), model_spec("openai", "gpt-4o"))
    calls = [c for d in deltas(events) for c in d.tool_calls]
    assert calls[0] == ToolCallDelta(0, "call_DdmO9pD3xa9XTPNJ32zg2hcA", "get_weather", "")
    assert all(c.index == 0 and c.id is None and c.name is None for c in calls[1:])
    assert "".join(c.arguments for c in calls) == '{"location":"Paris, France"}'
    assert deltas(events)[-1].finish_reason == "tool_calls"
    assert events[-1] == Usage(68, 17, 85)


async def test_an_error_chunk_mid_stream_raises(upstream: Emulator, make: Make) -> None:
    head = b"".join(fixture("openai/stream_gpt4o.sse").split(b"\n\n")[i] + b"\n\n" for i in range(3))
    error = b'data: {"error": {"message": "Provider returned error", "code": 502}}\n\n'
    upstream.queue(sse_reply(head + error))
    provider = await make("openrouter")
    with pytest.raises(UpstreamError, match="Provider returned error"):
        await events_of(provider, chat("Hi"), model_spec("openrouter", "m"))


# ---- upstream errors -----------------------------------------------------------------------------


async def test_upstream_errors_become_typed_errors(upstream: Emulator, make: Make) -> None:
    upstream.queue(
        json_reply(fixture_json("openai/error_invalid_api_key.json"), status=401),
        json_reply(fixture_json("openai/error_rate_limit.json"), status=429, headers={"Retry-After": "2"}),
        json_reply(fixture_json("openai/error_bad_request.json"), status=400),
        json_reply(fixture_json("openai/error_server.json"), status=500),
        json_reply({"error": {"message": "The model `gpt-9` does not exist", "code": "model_not_found"}}, status=404),
        json_reply(b"<html>503 Service Unavailable</html>", status=503),
    )
    provider = await make("openai")
    spec = model_spec("openai", "gpt-4o")

    with pytest.raises(UpstreamError) as auth:
        await provider.complete(chat("hi"), spec)
    assert (auth.value.status, auth.value.code) == (502, "upstream_auth_failed")
    assert "OPENAI_API_KEY" in auth.value.message
    assert "sk-proj" not in auth.value.message

    with pytest.raises(RateLimited) as limited:
        await provider.complete(chat("hi"), spec)
    assert (limited.value.status, limited.value.code, limited.value.headers) == (
        429,
        "upstream_rate_limited",
        {"Retry-After": "2"},
    )

    with pytest.raises(InvalidRequest) as invalid:
        await provider.complete(chat("hi"), spec)
    assert (invalid.value.status, invalid.value.param) == (400, "messages[1].content")
    assert "string too long" in invalid.value.message

    with pytest.raises(UpstreamError) as failed:
        await provider.complete(chat("hi"), spec)
    assert failed.value.status == 502
    assert "HTTP 500" in failed.value.message

    with pytest.raises(UpstreamError) as missing:
        await provider.complete(chat("hi"), spec)
    assert missing.value.code == "upstream_not_found"

    with pytest.raises(Overloaded) as busy:
        await provider.complete(chat("hi"), spec)
    assert busy.value.status == 503
