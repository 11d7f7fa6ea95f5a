"""Upstream faults through every remote adapter: error statuses, slow first bytes, streams cut short
or reset, unreachable hosts, and a client that leaves. Each ends in a typed error (never in a
truncated answer that looks finished), and a departed client closes the upstream connection."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from tests.providers.emulators import (
    Emulator,
    End,
    chat,
    fixture,
    json_reply,
    model_spec,
    provider_config,
    sse_reply,
)
from unigate.catalog.spec import ModelSpec
from unigate.core.provider import Provider
from unigate.core.results import ChoiceDelta, Passthrough, StreamEvent
from unigate.errors import RateLimited, UpstreamError, UpstreamTimeout
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.config import ProviderConfig, Timeouts
from unigate.providers.gemini import GeminiProvider
from unigate.providers.openai_compat import OpenAICompatProvider


@dataclass(frozen=True)
class Kind:
    name: str
    build: Callable[[ProviderConfig], Provider]
    path: str
    stream: str
    separator: bytes
    finish_events: int
    """How many events at the end of ``stream`` carry the finish (and usage)."""
    spec: ModelSpec
    error_401: Any
    error_429: Any
    error_500: Any


KINDS = [
    Kind(
        "openai",
        OpenAICompatProvider,
        "/v1",
        "openai/stream_gpt4o.sse",
        b"\n\n",
        2,
        model_spec("openai", "gpt-4o"),
        {"error": {"message": "Incorrect API key provided: sk-...abcd", "type": "invalid_request_error"}},
        {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
        {"error": {"message": "The server had an error", "type": "server_error"}},
    ),
    Kind(
        "anthropic",
        AnthropicProvider,
        "",
        "anthropic/stream_basic.sse",
        b"\n\n",
        2,
        model_spec("anthropic", "claude-sonnet-4-5"),
        {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
        {"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limited"}},
        {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}},
    ),
    Kind(
        "gemini",
        GeminiProvider,
        "",
        "gemini/stream_basic.sse",
        b"\r\n\r\n",
        1,
        model_spec("gemini", "gemini-2.5-pro"),
        {
            "error": {
                "code": 401,
                "message": "Request had invalid authentication credentials.",
                "status": "UNAUTHENTICATED",
            }
        },
        {"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}},
        {"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}},
    ),
]

Make = Callable[..., Awaitable[Provider]]


@pytest.fixture(params=KINDS, ids=[k.name for k in KINDS])
def kind(request: pytest.FixtureRequest) -> Kind:
    value: Kind = request.param
    return value


@pytest.fixture
async def make(upstream: Emulator, kind: Kind) -> AsyncIterator[Make]:
    made: list[Provider] = []

    async def factory(timeouts: Timeouts | None = None, url: str | None = None) -> Provider:
        provider = kind.build(provider_config(kind.name, (url or upstream.url) + kind.path, timeouts=timeouts))
        await provider.start()
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.close()


def events(kind: Kind) -> list[bytes]:
    return [e for e in fixture(kind.stream).split(kind.separator) if e.strip()]


def stream_of(kind: Kind, parts: list[bytes], *, end: End = "eof", chunk_delay_s: float = 0.0) -> Any:
    return sse_reply(b"".join(p + kind.separator for p in parts), end=end, chunk_delay_s=chunk_delay_s)


async def drain(stream: AsyncIterator[StreamEvent], into: list[StreamEvent]) -> None:
    async for event in stream:
        into.append(event)


def finishes(received: list[StreamEvent]) -> list[str | None]:
    return [e.finish_reason for e in received if isinstance(e, ChoiceDelta) and e.finish_reason]


async def test_error_statuses(upstream: Emulator, make: Make, kind: Kind) -> None:
    upstream.queue(
        json_reply(kind.error_500, status=500),
        json_reply(kind.error_429, status=429, headers={"Retry-After": "3"}),
        json_reply(kind.error_401, status=401),
        json_reply(kind.error_500, status=500),
    )
    provider = await make()
    with pytest.raises(UpstreamError) as failed:
        await provider.complete(chat("hi"), kind.spec)
    assert failed.value.status == 502
    with pytest.raises(RateLimited) as limited:
        await provider.complete(chat("hi"), kind.spec)
    assert (limited.value.status, limited.value.headers) == (429, {"Retry-After": "3"})
    with pytest.raises(UpstreamError) as auth:
        await provider.complete(chat("hi"), kind.spec)
    assert (auth.value.status, auth.value.code) == (502, "upstream_auth_failed")
    received: list[StreamEvent] = []
    with pytest.raises(UpstreamError):
        await drain(provider.stream(chat("hi"), kind.spec), received)
    assert received == []  # failed before anything was sent on


async def test_a_slow_first_byte_times_out(upstream: Emulator, make: Make, kind: Kind) -> None:
    provider = await make(Timeouts(connect_s=1.0, first_byte_s=0.2, total_s=0.4))
    upstream.queue(sse_reply(fixture(kind.stream), delay_s=1.0), replace(json_reply({}), delay_s=1.0))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as timed_out:
        await drain(provider.stream(chat("hi"), kind.spec), [])
    assert timed_out.value.status == 504
    with pytest.raises(UpstreamTimeout):  # non-streamed: bounded by the total limit
        await provider.complete(chat("hi"), kind.spec)
    assert time.monotonic() - started < 1.5


async def test_a_stalled_stream_times_out(upstream: Emulator, make: Make, kind: Kind) -> None:
    provider = await make(Timeouts(connect_s=1.0, first_byte_s=0.2, total_s=5.0))
    upstream.queue(stream_of(kind, events(kind), chunk_delay_s=1.0))
    received: list[StreamEvent] = []
    with pytest.raises(UpstreamTimeout):
        await drain(provider.stream(chat("hi"), kind.spec), received)
    assert finishes(received) == []


@pytest.mark.parametrize("end", ["eof", "truncate", "reset"])
async def test_a_stream_cut_before_its_finish_is_an_error(upstream: Emulator, make: Make, kind: Kind, end: End) -> None:
    upstream.queue(stream_of(kind, events(kind)[: -kind.finish_events], end=end))
    provider = await make()
    received: list[StreamEvent] = []
    with pytest.raises(UpstreamError) as cut:
        await drain(provider.stream(chat("hi"), kind.spec), received)
    assert cut.value.status == 502
    assert finishes(received) == []  # never a truncated answer marked stop
    assert any(isinstance(e, Passthrough) or (isinstance(e, ChoiceDelta) and e.content) for e in received)


async def test_a_body_cut_mid_json_is_an_error(upstream: Emulator, make: Make, kind: Kind) -> None:
    whole = b"".join(p + kind.separator for p in events(kind))
    upstream.queue(sse_reply(whole[: len(whole) // 2 + 7], end="eof"))
    provider = await make()
    received: list[StreamEvent] = []
    with pytest.raises(UpstreamError):
        await drain(provider.stream(chat("hi"), kind.spec), received)
    assert finishes(received) == []


async def test_an_unreachable_upstream(make: Make, kind: Kind) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = await make(url=f"http://127.0.0.1:{port}")
    with pytest.raises(UpstreamError, match="Could not reach"):
        await provider.complete(chat("hi"), kind.spec)
    with pytest.raises(UpstreamError, match="Could not reach"):
        await drain(provider.stream(chat("hi"), kind.spec), [])


async def test_a_departed_client_closes_the_upstream_connection(upstream: Emulator, make: Make, kind: Kind) -> None:
    upstream.queue(stream_of(kind, events(kind)[: -kind.finish_events], end="hang"))
    provider = await make()
    stream = provider.stream(chat("hi"), kind.spec)
    async for event in stream:
        if isinstance(event, ChoiceDelta | Passthrough):
            break
    closed_at = time.monotonic()
    await stream.aclose()  # type: ignore[attr-defined]
    for _ in range(100):
        if upstream.disconnected_at is not None:
            break
        await asyncio.sleep(0.01)
    assert upstream.disconnected_at is not None
    assert upstream.disconnected_at - closed_at < 1.0


async def test_a_non_json_success_body_is_an_error(upstream: Emulator, make: Make, kind: Kind) -> None:
    upstream.queue(json_reply(b"<html>gateway</html>"))
    provider = await make()
    with pytest.raises(UpstreamError, match="invalid JSON"):
        await provider.complete(chat("hi"), kind.spec)


async def test_cancelling_a_completion_closes_the_upstream_connection(
    upstream: Emulator, make: Make, kind: Kind
) -> None:
    upstream.queue(replace(json_reply({}), delay_s=30.0))
    provider = await make()
    task = asyncio.create_task(provider.complete(chat("hi"), kind.spec))
    for _ in range(100):
        if upstream.requests:
            break
        await asyncio.sleep(0.01)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if upstream.disconnected_at is not None:
            break
        await asyncio.sleep(0.01)
    assert upstream.disconnected_at is not None
    assert upstream.disconnected_at - cancelled_at < 1.0
