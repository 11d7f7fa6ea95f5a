"""A local upstream for the provider tests: an aiohttp server on 127.0.0.1 that records every
request it receives and answers with the replies queued for it (recorded payloads from
``fixtures/``), including the failures that matter: slow first bytes, streams cut short, resets.

``Emulator`` runs on the test's event loop; ``EmulatorThread`` runs one on its own loop in a
thread, for tests that drive the gateway with a synchronous SDK.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import orjson
from aiohttp import web

from unigate.catalog.spec import ModelSpec, Price
from unigate.core.chat import ChatRequest, ContentPart, Message, TextPart
from unigate.core.results import ChoiceDelta, Passthrough, StreamEvent
from unigate.providers.config import ProviderConfig, Timeouts, env_name
from unigate.providers.registry import load_provider_configs

FIXTURES = Path(__file__).parent / "fixtures"

End = Literal["eof", "truncate", "reset", "hang"]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return orjson.loads(fixture(name))


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Lower-cased names."""
    body: Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    chunks: tuple[bytes, ...] = ()
    """When given, the body is streamed in these pieces (chunked transfer encoding)."""
    chunk_delay_s: float = 0.0
    delay_s: float = 0.0
    """Before the status line: a slow first byte."""
    end: End = "eof"
    """After the chunks: end properly, close mid-body, reset the connection, or go quiet."""


def json_reply(payload: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return Reply(status=status, body=body, headers=headers or {})


def sse_reply(
    text: bytes, *, piece: int | None = None, chunk_delay_s: float = 0.0, end: End = "eof", delay_s: float = 0.0
) -> Reply:
    """``text`` streamed as it would come off the network: one chunk per event, or pieces of
    ``piece`` bytes that split lines, CRLFs and UTF-8 characters at arbitrary places."""
    if piece is None:
        normalized = text.replace(b"\r\n", b"\n")
        sep = b"\r\n\r\n" if b"\r\n\r\n" in text else b"\n\n"
        events = [e for e in normalized.split(b"\n\n") if e.strip()]
        chunks = tuple((e.replace(b"\n", b"\r\n") if sep == b"\r\n\r\n" else e) + sep for e in events)
    else:
        chunks = tuple(text[i : i + piece] for i in range(0, len(text), piece))
    return Reply(content_type="text/event-stream", chunks=chunks, chunk_delay_s=chunk_delay_s, end=end, delay_s=delay_s)


class Emulator:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.replies: deque[Reply] = deque()
        self.disconnected_at: float | None = None
        """``time.monotonic()`` when a client went away while a stream was being written."""
        self.url = ""
        self._runner: web.AppRunner | None = None

    def queue(self, *replies: Reply) -> Emulator:
        self.replies.extend(replies)
        return self

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    def reply_to(self, request: Recorded) -> Reply:
        """The next queued reply; a subclass may answer by what ``request`` holds instead."""
        return self.replies.popleft() if self.replies else json_reply({"error": "no reply queued"}, status=599)

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body: Any = orjson.loads(raw) if raw and request.content_type == "application/json" else raw
        recorded = Recorded(
            request.method,
            request.path,
            dict(request.query),
            {k.lower(): v for k, v in request.headers.items()},
            body,
        )
        self.requests.append(recorded)
        reply = self.reply_to(recorded)
        if reply.delay_s:
            try:
                await asyncio.sleep(reply.delay_s)
            except asyncio.CancelledError:  # the client left while we "generated"
                self.disconnected_at = time.monotonic()
                raise
        if not reply.chunks:
            return web.Response(
                status=reply.status, body=reply.body, content_type=reply.content_type, headers=reply.headers
            )
        response = web.StreamResponse(
            status=reply.status, headers={"Content-Type": reply.content_type, **reply.headers}
        )
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            for chunk in reply.chunks:
                await response.write(chunk)
                if reply.chunk_delay_s:
                    await asyncio.sleep(reply.chunk_delay_s)
            if reply.end == "hang":
                while True:  # keep-alive comments, so that a departed client is noticed
                    await asyncio.sleep(0.02)
                    await response.write(b": ping\n\n")
        except (ConnectionError, asyncio.CancelledError):
            self.disconnected_at = time.monotonic()
            raise
        transport = request.transport
        if reply.end == "truncate" and transport is not None:
            transport.close()  # no terminating chunk: the body is incomplete
        elif reply.end == "reset" and transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            await response.write_eof()
        return response


UPSTREAM_KEY = "sk-upstream-test-key"


def provider_config(name: str, url: str, *, timeouts: Timeouts | None = None) -> ProviderConfig:
    """``name``'s configuration pointing at an emulator, as the environment would give it."""
    prefix = env_name(name)
    config = load_provider_configs({f"{prefix}_API_KEY": UPSTREAM_KEY, f"{prefix}_BASE_URL": url})[name]
    return replace(config, timeouts=timeouts) if timeouts is not None else config


def model_spec(provider: str, upstream_model: str, **overrides: Any) -> ModelSpec:
    fields: dict[str, Any] = {
        "id": f"{provider}/{upstream_model}",
        "provider": provider,
        "upstream_model": upstream_model,
        "price": Price(1_000_000, 2_000_000),
        "max_output": 8192,
        "params": frozenset(CHAT_PARAMS),
        "input_modalities": frozenset({"text", "image", "file"}),
    }
    fields.update(overrides)
    return ModelSpec(**fields)


CHAT_PARAMS = [
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "seed",
    "n",
    "logprobs",
    "top_logprobs",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
    "stream_options",
    "frequency_penalty",
    "presence_penalty",
    "user",
]


def user(*parts: ContentPart | str) -> Message:
    return Message("user", tuple(TextPart(p) if isinstance(p, str) else p for p in parts))


def chat(*messages: Message | str, **options: Any) -> ChatRequest:
    """A canonical request; plain strings are user messages."""
    return ChatRequest(
        model="test-model", messages=tuple(user(m) if isinstance(m, str) else m for m in messages), **options
    )


class EmulatorThread:
    """An ``Emulator`` on its own event loop in a daemon thread."""

    def __init__(self, emulator: Emulator | None = None) -> None:
        self.emulator = emulator or Emulator()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Emulator:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.emulator.start(), self.loop).result(30)
        return self.emulator

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.emulator.close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()


def deltas(events: list[StreamEvent]) -> list[ChoiceDelta]:
    """The deltas a provider's stream stands for, relayed ones (``Passthrough.deltas``) included."""
    out: list[ChoiceDelta] = []
    for e in events:
        if isinstance(e, ChoiceDelta):
            out.append(e)
        elif isinstance(e, Passthrough):
            out += e.deltas()
    return out
