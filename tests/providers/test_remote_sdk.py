"""The whole gateway, driven by the official ``openai`` SDK, in front of emulated Anthropic and
Gemini upstreams replaying recorded payloads: translation both ways, streaming, metering, errors,
and an unconfigured provider."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from tests.providers.emulators import (
    UPSTREAM_KEY,
    Emulator,
    EmulatorThread,
    fixture,
    fixture_json,
    json_reply,
    model_spec,
    provider_config,
    sse_reply,
)
from tests.serving import Server, fake_settings
from unigate.core.provider import Provider
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.gemini import GeminiProvider
from unigate.providers.openai_compat import OpenAICompatProvider

CLAUDE = model_spec("anthropic", "claude-sonnet-4-5", id="anthropic/claude-sonnet-4.5", max_output=4096)
GEMINI = model_spec("gemini", "gemini-3-flash-preview", id="google/gemini-3-flash-preview")
GPT = model_spec("openai", "gpt-4o", id="openai/gpt-4o")
VLLM = model_spec("vllm", "gpt-4o", id="vllm/gpt-4o")  # an OpenAI-compatible upstream: its stream is relayed
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a given location",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    },
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    with EmulatorThread() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(upstream: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    providers: dict[str, Provider] = {}  # the settings configure no provider...
    providers["anthropic"] = AnthropicProvider(provider_config("anthropic", upstream.url))  # ...but these two
    providers["gemini"] = GeminiProvider(provider_config("gemini", upstream.url))
    providers["vllm"] = OpenAICompatProvider(provider_config("vllm", upstream.url + "/v1"))
    data_dir: Path = tmp_path_factory.mktemp("remote")
    running = Server(
        fake_settings(data_dir, management_key="mk-test"), models=[CLAUDE, GEMINI, GPT, VLLM], providers=providers
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def account(server: Server) -> tuple[str, int]:
    return server.new_key(credits=100_000_000)


@pytest.fixture
def client(server: Server, account: tuple[str, int]) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=account[0], max_retries=0, timeout=30) as client:
        yield client


def test_claude_completion(upstream: Emulator, server: Server, account: tuple[str, int], client: openai.OpenAI) -> None:
    upstream.queue(json_reply(fixture_json("anthropic/message.json")))
    before = server.balance(account[1])
    r = client.chat.completions.create(
        model=CLAUDE.id,
        messages=[{"role": "system", "content": "You are Claude."}, {"role": "user", "content": "Hello, world"}],
        temperature=0.5,
    )
    sent = upstream.last
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == UPSTREAM_KEY  # our key, never the client's
    assert account[0] not in str(sent.headers)
    assert sent.body == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello, world"}]}],
        "system": "You are Claude.",
        "temperature": 0.5,
    }
    assert r.model == "claude-sonnet-4-5-20250929"
    assert r.choices[0].message.content == "Hi! My name is Claude."
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (2095, 503, 2598)
    credits = CLAUDE.price.cost(2095, 503)
    assert r.model_dump()["meta"]["usage"]["credits_used"] == credits
    assert server.balance(account[1]) == before - credits


def test_claude_tool_use_stream(upstream: Emulator, client: openai.OpenAI) -> None:
    upstream.queue(sse_reply(fixture("anthropic/stream_tool_use.sse"), piece=17))
    stream = client.chat.completions.create(
        model=CLAUDE.id,
        messages=[{"role": "user", "content": "What is the weather like in San Francisco?"}],
        tools=[WEATHER],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, arguments, finish, usage, ids = "", "", [], None, []
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or ():
                ids += [call.id] if call.id else []
                arguments += (call.function.arguments or "") if call.function else ""
            finish += [choice.finish_reason] if choice.finish_reason else []
    assert upstream.last.body["stream"] is True
    assert upstream.last.body["tools"][0]["input_schema"] == WEATHER["function"]["parameters"]
    assert text == "Okay, let's check the weather for San Francisco, CA:"
    assert ids == ["toolu_01T1x1fJ34qAmk2tNTrN7Up6"]
    assert arguments == '{"location": "San Francisco, CA", "unit": "fahrenheit"}'
    assert finish == ["tool_calls"]
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (472, 89)


@pytest.mark.parametrize("include_usage", [True, False])
def test_openai_compatible_stream_relayed_to_the_sdk(
    upstream: Emulator, server: Server, account: tuple[str, int], client: openai.OpenAI, include_usage: bool
) -> None:
    recorded = fixture("openai/stream_gpt4o.sse")
    upstream.queue(sse_reply(recorded, piece=700))
    before = server.balance(account[1])
    response = client.chat.completions.with_raw_response.create(
        model=VLLM.id,
        messages=[{"role": "user", "content": "Hi! What do you think about mankind?"}],
        stream=True,
        stream_options={"include_usage": include_usage},
    )
    chunks = list(response.parse())
    text = "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)
    expected = "".join(
        (orjson.loads(e[6:])["choices"] or [{"delta": {}}])[0]["delta"].get("content") or ""
        for e in recorded.split(b"\n\n")
        if e.startswith(b"data: {")
    )
    assert text == expected
    assert {(c.id, c.created, c.model) for c in chunks} == {(chunks[0].id, chunks[0].created, "gpt-4o-2024-08-06")}
    assert chunks[0].id.startswith("chatcmpl-")
    assert chunks[0].id != "chatcmpl-DL2G9KdEY06xq8M0PqZ5rs5Jv13ok"  # ours, not the upstream's
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[1].model_dump()["service_tier"] == "default"  # relayed as the upstream wrote it
    finish = [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]
    assert finish == ["stop"]
    credits = VLLM.price.cost(16, 102)
    assert chunks[-1].model_dump()["meta"]["usage"]["credits_used"] == credits
    assert (chunks[-1].usage is not None) is include_usage
    assert server.balance(account[1]) == before - credits


def test_claude_error_mid_stream_reaches_the_sdk(upstream: Emulator, client: openai.OpenAI) -> None:
    events = fixture("anthropic/stream_basic.sse").split(b"\n\n")
    error = b'event: error\ndata: {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}'
    upstream.queue(sse_reply(b"\n\n".join([*events[:4], error]) + b"\n\n"))
    stream = client.chat.completions.create(
        model=CLAUDE.id, messages=[{"role": "user", "content": "Hello"}], stream=True
    )
    received: list[str] = []
    with pytest.raises(openai.APIError, match="Internal server error"):
        received.extend(c.delta.content or "" for chunk in stream for c in chunk.choices)
    assert received == ["Hello"]


def test_a_client_that_leaves_mid_stream_closes_the_upstream_stream(upstream: Emulator, client: openai.OpenAI) -> None:
    upstream.disconnected_at = None
    head = b"\n\n".join(fixture("anthropic/stream_basic.sse").split(b"\n\n")[:4]) + b"\n\n"
    upstream.queue(sse_reply(head, end="hang"))
    stream = client.chat.completions.create(
        model=CLAUDE.id, messages=[{"role": "user", "content": "Hello"}], stream=True
    )
    first = next(iter(stream))
    assert first.choices[0].delta.content == "Hello"
    left_at = time.monotonic()
    stream.close()
    while upstream.disconnected_at is None and time.monotonic() - left_at < 5:
        time.sleep(0.01)
    assert upstream.disconnected_at is not None
    assert upstream.disconnected_at - left_at < 1.0


def test_claude_upstream_rate_limit_is_a_429_with_retry_after(upstream: Emulator, client: openai.OpenAI) -> None:
    upstream.queue(
        json_reply(fixture_json("anthropic/error_rate_limit.json"), status=429, headers={"retry-after": "20"})
    )
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=CLAUDE.id, messages=[{"role": "user", "content": "Hello"}])
    assert caught.value.response.headers["retry-after"] == "20"


def test_gemini_completion_with_thoughts_counted(upstream: Emulator, client: openai.OpenAI) -> None:
    upstream.queue(json_reply(fixture_json("gemini/generate_content.json")))
    r = client.chat.completions.create(
        model=GEMINI.id, messages=[{"role": "user", "content": "Write an invoice for Jane."}], max_tokens=2000
    )
    sent = upstream.last
    assert sent.path == "/v1beta/models/gemini-3-flash-preview:generateContent"
    assert sent.headers["x-goog-api-key"] == UPSTREAM_KEY
    assert sent.body == {
        "contents": [{"role": "user", "parts": [{"text": "Write an invoice for Jane."}]}],
        "generationConfig": {"maxOutputTokens": 2000},
    }
    assert r.model == "gemini-3-flash-preview"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None
    assert r.usage.completion_tokens_details is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (34, 856, 890)
    assert r.usage.completion_tokens_details.reasoning_tokens == 438


def test_gemini_thinking_stream(upstream: Emulator, client: openai.OpenAI) -> None:
    upstream.queue(sse_reply(fixture("gemini/stream_thinking.sse")))
    stream = client.chat.completions.create(
        model=GEMINI.id,
        messages=[{"role": "user", "content": "GCD of 1071 and 462?"}],
        reasoning_effort="low",
        stream=True,
        stream_options={"include_usage": True},
    )
    reasoning, text, finish, usage = "", "", [], None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
            text += choice.delta.content or ""
            finish += [choice.finish_reason] if choice.finish_reason else []
    assert upstream.last.path == "/v1beta/models/gemini-3-flash-preview:streamGenerateContent"
    assert upstream.last.query == {"alt": "sse"}
    assert upstream.last.body["generationConfig"] == {
        "thinkingConfig": {"includeThoughts": True, "thinkingLevel": "low"}
    }
    assert reasoning == "**Calculating the GCD**\n\nI will apply the Euclidean algorithm to 1071 and 462."
    assert text == "The greatest common divisor of 1071 and 462 is **21**."
    assert finish == ["stop"]
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (14, 237, 251)


def test_gemini_tool_loop_through_the_sdk(upstream: Emulator, client: openai.OpenAI) -> None:
    upstream.queue(
        json_reply(fixture_json("gemini/function_call.json")),
        json_reply(fixture_json("gemini/generate_content.json")),
    )
    flight: Any = {"type": "function", "function": {"name": "check_flight", "parameters": {"type": "object"}}}
    messages: list[Any] = [{"role": "user", "content": "Check flight status for AA100."}]
    first = client.chat.completions.create(model=GEMINI.id, messages=messages, tools=[flight])
    assert first.choices[0].finish_reason == "tool_calls"
    (call,) = first.choices[0].message.tool_calls or []
    messages += [
        first.choices[0].message.model_dump(exclude_none=True, exclude={"annotations", "audio", "refusal"}),
        {"role": "tool", "tool_call_id": call.id, "content": '{"status": "delayed"}'},
    ]
    client.chat.completions.create(model=GEMINI.id, messages=messages, tools=[flight])
    replayed = upstream.last.body["contents"]
    signature = fixture_json("gemini/function_call.json")["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    assert replayed[1]["parts"][0]["thoughtSignature"] == signature
    assert replayed[2]["parts"][0]["functionResponse"] == {"name": "check_flight", "response": {"status": "delayed"}}


def test_an_unconfigured_provider_fails_at_once_naming_its_setting(
    upstream: Emulator, server: Server, account: tuple[str, int], client: openai.OpenAI
) -> None:
    calls, before = len(upstream.requests), server.balance(account[1])
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model=GPT.id, messages=[{"role": "user", "content": "Hello"}])
    assert caught.value.status_code == 503
    body: Any = caught.value.body
    assert body["code"] == "provider_not_configured"
    assert "OPENAI_API_KEY" in body["message"]
    assert len(upstream.requests) == calls  # nothing was sent anywhere
    assert server.balance(account[1]) == before  # and nothing was reserved or charged
    assert server.open_reservations() == 0
