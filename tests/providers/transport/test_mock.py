"""The adapters through ``MockTransport``, with recorded upstream payloads and no socket: the exact
request each upstream received and the canonical result; failures before and during a body as
the typed errors a real transport's give; the router's retries and breakers over two mocked
deployments; and an adapter owning the transport it was given."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from tests.providers.emulators import UPSTREAM_KEY, chat, deltas, fixture, fixture_json, model_spec, provider_config
from unigate.core.chat import FunctionTool, Message, NamedToolChoice, TextPart, ToolCall
from unigate.core.provider import Provider
from unigate.core.results import Choice, ChoiceDelta, Passthrough, StreamEvent, StreamStart, Usage
from unigate.errors import RateLimited, UpstreamError, UpstreamTimeout
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.config import ProviderConfig, Timeouts
from unigate.providers.gemini import GeminiProvider
from unigate.providers.openai_compat import OpenAICompatProvider
from unigate.providers.retry import RetryPolicy
from unigate.providers.router import Routes
from unigate.providers.transport import HttpFailure, Request
from unigate.providers.transport.mock import MockResponse, MockTransport

GPT = model_spec("openai", "gpt-4o")
BOSTON = '{\n"location": "Boston, MA"\n}'
TIMEOUTS = Timeouts(connect_s=3.0, first_byte_s=7.0, total_s=11.0)


def config(name: str = "openai", url: str = "https://api.openai.test/v1") -> ProviderConfig:
    return provider_config(name, url, timeouts=TIMEOUTS)


async def drain(stream: AsyncIterator[StreamEvent], into: list[StreamEvent]) -> None:
    async for event in stream:
        into.append(event)


def replying(*responses: MockResponse) -> Callable[[Request], MockResponse]:
    queue = list(responses)
    return lambda request: queue.pop(0)


@pytest.fixture
async def started() -> AsyncIterator[Callable[[Provider], Any]]:
    made: list[Provider] = []

    async def start(provider: Provider) -> Provider:
        await provider.start()
        made.append(provider)
        return provider

    yield start
    for provider in made:
        await provider.close()


async def test_a_completion_sends_exactly_this_request_and_parses_the_recorded_answer(
    started: Callable[[Provider], Any],
) -> None:
    transport = MockTransport(replying(MockResponse.json(fixture("openai/tool_calls.json"))))
    provider = await started(OpenAICompatProvider(config(), transport=transport))
    tool = FunctionTool("get_current_weather", "The weather now", {"type": "object"}, strict=True)
    request = chat(
        "And the weather in Boston?",
        Message("assistant", tool_calls=(ToolCall("call_1", "toCelsius", '{"f": 256}'),)),
        Message("tool", (TextPart("124.44"),), tool_call_id="call_1"),
        tools=(tool,),
        tool_choice=NamedToolChoice("get_current_weather"),
    )
    result = await provider.complete(request, model_spec("openai", "gpt-4o-mini"))

    (sent,) = transport.requests
    assert (sent.method, sent.url) == ("POST", "https://api.openai.test/v1/chat/completions")
    assert dict(sent.headers) == {
        "Authorization": f"Bearer {UPSTREAM_KEY}",
        "Content-Type": "application/json",
        "Accept": "*/*",
    }
    assert (sent.connect_s, sent.total_s, sent.read_s) == (3.0, 11.0, None)  # whole answers: total only
    assert orjson.loads(sent.body) == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "user", "content": "And the weather in Boston?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "toCelsius", "arguments": '{"f": 256}'}}
                ],
            },
            {"role": "tool", "content": "124.44", "tool_call_id": "call_1"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_current_weather",
                    "description": "The weather now",
                    "parameters": {"type": "object"},
                    "strict": True,
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_current_weather"}},
    }
    assert result.model == "gpt-4o-mini"
    assert result.choices == [Choice(0, None, "tool_calls", (ToolCall("call_abc123", "get_current_weather", BOSTON),))]
    assert result.usage == Usage(82, 17, 99, 0, 0)
    assert transport.responses[0].closed


def recorded_text(name: str) -> str:
    text = ""
    for event in fixture(name).split(b"\n\n"):
        data = event.removeprefix(b"data: ").strip()
        if data and data != b"[DONE]":
            for choice in orjson.loads(data).get("choices", []):
                text += choice["delta"].get("content") or ""
    return text


async def test_a_stream_sends_exactly_this_request_and_parses_the_recorded_events(
    started: Callable[[Provider], Any],
) -> None:
    transport = MockTransport(replying(MockResponse.sse(fixture("openai/stream_gpt4o.sse"))))
    provider = await started(OpenAICompatProvider(config(), transport=transport))
    events: list[StreamEvent] = [e async for e in provider.stream(chat("Hi! What do you think about mankind?"), GPT)]

    (sent,) = transport.requests
    assert (sent.method, sent.url) == ("POST", "https://api.openai.test/v1/chat/completions")
    assert dict(sent.headers) == {
        "Authorization": f"Bearer {UPSTREAM_KEY}",
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
    }
    assert (sent.connect_s, sent.total_s, sent.read_s) == (3.0, 11.0, 7.0)  # a stream: first byte and gaps
    assert orjson.loads(sent.body) == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hi! What do you think about mankind?"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert events[0] == StreamStart("gpt-4o-2024-08-06")
    assert events[-1] == Usage(16, 102, 118, 0, 0)
    got = deltas(events)
    assert "".join(d.content or "" for d in got) == recorded_text("openai/stream_gpt4o.sse")
    assert [d.finish_reason for d in got if d.finish_reason] == ["stop"]
    assert (transport.responses[0].consumed, transport.responses[0].closed) == (True, True)


def stream_head(events: int) -> bytes:
    return b"".join(e + b"\n\n" for e in fixture("openai/stream_gpt4o.sse").split(b"\n\n")[:events])


@pytest.mark.parametrize(
    ("failure", "error", "message"),
    [
        (HttpFailure("reset by peer", mid_body=True), UpstreamError, "broke off mid-response"),
        (TimeoutError(), UpstreamTimeout, "did not answer in time"),
    ],
)
async def test_a_stream_that_fails_midway_is_a_typed_error_never_a_finished_answer(
    started: Callable[[Provider], Any], failure: BaseException, error: type[Exception], message: str
) -> None:
    transport = MockTransport(replying(MockResponse.sse(stream_head(4), error=failure)))
    provider = await started(OpenAICompatProvider(config(), transport=transport))
    received: list[StreamEvent] = []
    with pytest.raises(error, match=message):
        await drain(provider.stream(chat("Hi"), GPT), received)
    assert any(d.content for d in deltas(received))
    assert not any(d.finish_reason for d in deltas(received))
    assert (transport.responses[0].closed, transport.responses[0].consumed) == (True, False)


async def test_failures_before_an_answer_are_typed_errors(started: Callable[[Provider], Any]) -> None:
    def refuse(request: Request) -> MockResponse:
        raise HttpFailure("could not connect to api.openai.test:443 (ConnectionRefusedError)")

    provider = await started(OpenAICompatProvider(config(), transport=MockTransport(refuse)))
    with pytest.raises(UpstreamError, match="Could not reach the openai provider"):
        await provider.complete(chat("Hi"), GPT)

    async def slow(request: Request) -> MockResponse:
        await asyncio.sleep(0)
        raise TimeoutError

    provider = await started(OpenAICompatProvider(config(), transport=MockTransport(slow)))
    with pytest.raises(UpstreamTimeout):
        await provider.complete(chat("Hi"), GPT)


async def test_leaving_a_stream_closes_the_upstream_response(started: Callable[[Provider], Any]) -> None:
    transport = MockTransport(replying(MockResponse.sse(fixture("openai/stream_gpt4o.sse"))))
    provider = await started(OpenAICompatProvider(config(), transport=transport))
    stream = provider.stream(chat("Hi"), GPT)
    async for event in stream:
        if isinstance(event, ChoiceDelta | Passthrough):
            break
    await stream.aclose()
    assert (transport.responses[0].closed, transport.responses[0].consumed) == (True, False)


async def no_sleep(seconds: float) -> None:
    return None


async def test_retries_and_breakers_work_over_mocked_deployments() -> None:
    failing = MockTransport(lambda request: MockResponse.json({"error": {"message": "down"}}, status=500))
    healthy = MockTransport(lambda request: MockResponse.json(fixture("openai/tool_calls.json")))
    routes = Routes(retry=RetryPolicy(retries=0), breaker_failures=2, breaker_cooldown_s=30.0, sleep=no_sleep)
    router = routes.router(
        "openai",
        [
            OpenAICompatProvider(config(url=f"https://{n}.test/v1"), transport=t)
            for n, t in (("a", failing), ("b", healthy))
        ],
    )
    await router.start()
    try:
        for _ in range(3):
            result = await router.complete(chat("Hi"), GPT)
            assert result.choices[0].finish_reason == "tool_calls"
    finally:
        await router.close()
    assert len(failing.requests) == 2  # then its breaker opened: the third request went straight to b
    assert len(healthy.requests) == 3
    assert router.deployments[0].breaker.state == "open"
    assert (failing.started, healthy.started) == (False, False)  # each adapter closed the transport it owns


@pytest.mark.parametrize(
    ("build", "name", "recorded", "url"),
    [
        (AnthropicProvider, "anthropic", "anthropic/message.json", "https://up.test/v1/messages"),
        (GeminiProvider, "gemini", "gemini/generate_content.json", "https://up.test/v1beta/models/m:generateContent"),
    ],
)
async def test_every_adapter_takes_its_transport(
    build: Callable[..., Provider], name: str, recorded: str, url: str
) -> None:
    transport = MockTransport(replying(MockResponse.json(fixture(recorded))))
    provider = build(config(name, "https://up.test"), transport=transport)
    await provider.start()
    assert transport.started
    result = await provider.complete(chat("Hi"), model_spec(name, "m"))
    await provider.close()
    assert result.choices[0].content
    assert [r.url for r in transport.requests] == [url]
    assert not transport.started


async def test_a_recorded_error_status_is_its_typed_error(started: Callable[[Provider], Any]) -> None:
    answer = MockResponse.json(fixture_json("openai/error_rate_limit.json"), status=429, headers={"Retry-After": "2"})
    provider = await started(OpenAICompatProvider(config(), transport=MockTransport(replying(answer))))
    with pytest.raises(RateLimited) as limited:
        await provider.complete(chat("Hi"), GPT)
    assert (limited.value.status, limited.value.headers) == (429, {"Retry-After": "2"})
    assert answer.closed
