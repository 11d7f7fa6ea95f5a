"""How ``send_stream`` (``api/streaming.py``) writes a stream to the client connection: what one
upstream read renders to goes out in one write, as it arrives (the providers say which events
came in one read with ``MORE_BUFFERED``); the end (usage and charge) goes out with what is
pending and the chunked body's last chunk; the headers go with the first bytes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from tests.providers.emulators import chat, fixture, model_spec
from unigate.api.openai.chat.render import ChunkRenderer
from unigate.api.streaming import send_stream
from unigate.core.gateway import Charge
from unigate.core.results import ChoiceDelta, StreamEvent, StreamStart, Usage
from unigate.errors import GatewayError, UpstreamError
from unigate.providers.openai_compat.stream import stream_events
from unigate.providers.sse import marked

Reads = list[list[StreamEvent]]
"""The events of each upstream read, in order."""


class Wire:
    """The server's writes to the client connection, and when the events were pulled."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.writes_before_read: list[int] = []
        """How many writes had gone out when each read after the first was pulled."""


def events_of(reads: Reads, wire: Wire, *, fail_after: int | None = None) -> Callable[[], Any]:
    async def events() -> AsyncGenerator[StreamEvent | Charge, None]:
        for i, read in enumerate(reads):
            if i:
                await asyncio.sleep(0.01)  # the next read arrives later, as a paced upstream's
                wire.writes_before_read.append(len(wire.writes))
            if fail_after == i:
                raise UpstreamError("The upstream failed.")
            # MORE_BUFFERED as the providers yield it; the last read ends with the upstream's [DONE],
            # where the provider stops: something follows each of its events.
            for event in marked(read, more=i == len(reads) - 1):
                yield event
        await asyncio.sleep(0)  # the settlement commits
        yield Usage(3, 2)
        yield Charge(5)

    return events


def renderer(model: str | None) -> ChunkRenderer:
    return ChunkRenderer(model=model or "m", include_usage=False)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Callable[[], Any], Wire], Any]]:
    runners: list[web.AppRunner] = []

    async def start(events: Callable[[], Any], wire: Wire, *, relay: bool = False) -> str:
        async def handler(request: web.Request) -> web.StreamResponse:
            transport = request.transport
            assert transport is not None
            write = transport.write

            def spy(data: Any) -> None:
                wire.writes.append(bytes(data))
                write(data)

            transport.write = spy  # type: ignore[method-assign]
            transport.writelines = lambda list_of_data: spy(b"".join(list_of_data))  # type: ignore[method-assign]
            return await send_stream(request, events(), renderer, relay=ChunkRenderer.relayed if relay else None)

        app = web.Application()
        app.router.add_post("/", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/"

    yield start
    for runner in runners:
        await runner.cleanup()


async def fetch(url: str) -> bytes:
    """The raw response, read to the end of the chunked body."""
    reader, writer = await asyncio.open_connection(*url[7:-1].split(":"))
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    raw = b""
    while not raw.endswith(b"0\r\n\r\n"):
        more = await asyncio.wait_for(reader.read(65536), 5)
        assert more, raw
        raw += more
    writer.close()
    return raw


def text(content: str) -> ChoiceDelta:
    return ChoiceDelta(0, content=content)


async def test_a_stream_of_one_read_is_one_write_with_headers_and_end(serve: Any) -> None:
    wire = Wire()
    reads: Reads = [[StreamStart("m"), text("a"), text("b"), ChoiceDelta(0, finish_reason="stop")]]
    raw = await fetch(await serve(events_of(reads, wire), wire))
    assert len(wire.writes) == 1
    assert wire.writes[0] == raw
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"text/event-stream" in raw
    assert raw.index(b'"content":"a"') < raw.index(b'"content":"b"') < raw.index(b'"credits_used":5')
    assert raw.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")


async def test_each_read_goes_out_as_it_arrives(serve: Any) -> None:
    wire = Wire()
    reads: Reads = [[StreamStart("m"), text("a")], [text("b"), text("c")], [ChoiceDelta(0, finish_reason="stop")]]
    raw = await fetch(await serve(events_of(reads, wire), wire))
    # Headers with "a", then "b" and "c" together, then the finish with the end.
    assert wire.writes_before_read == [1, 2]
    assert len(wire.writes) == 3
    assert wire.writes[0].startswith(b"HTTP/1.1 200 OK")
    assert b'"content":"a"' in wire.writes[0]
    assert b'"content":"b"' in wire.writes[1]
    assert b'"content":"c"' in wire.writes[1]
    assert b'"finish_reason":"stop"' in wire.writes[2]
    assert wire.writes[2].endswith(b"0\r\n\r\n")
    assert b"".join(wire.writes) == raw


async def test_a_failure_after_the_first_output_ends_with_an_error_event(serve: Any) -> None:
    wire = Wire()
    reads: Reads = [[StreamStart("m"), text("a")], [text("never")]]
    raw = await fetch(await serve(events_of(reads, wire, fail_after=1), wire))
    assert b'"content":"a"' in raw
    assert b"never" not in raw
    assert b'data: {"error":' in raw
    assert b"[DONE]" not in raw
    assert raw.endswith(b"\r\n0\r\n\r\n")
    assert len(wire.writes) == 2


GPT4O = [e + b"\n\n" for e in fixture("openai/stream_gpt4o.sse").split(b"\n\n") if e]


def upstream_reads(reads: list[bytes], wire: Wire) -> Callable[[], Any]:
    """An OpenAI-compatible upstream's body arriving in ``reads``, read by its adapter."""

    async def body() -> AsyncGenerator[bytes, None]:
        for i, read in enumerate(reads):
            if i:
                await asyncio.sleep(0.01)
                wire.writes_before_read.append(len(wire.writes))
            yield read

    def error_event(data: bytes) -> GatewayError:
        return UpstreamError(data.decode())

    async def events() -> AsyncGenerator[StreamEvent | Charge, None]:
        async for event in stream_events(
            body(), chat("Hi"), model_spec("openai", "gpt-4o"), provider="openai", error_event=error_event
        ):
            yield event
        yield Charge(5)

    return events


@pytest.mark.parametrize("relay", [True, False])
async def test_an_upstreams_reads_go_out_one_write_each_relayed_or_not(serve: Any, relay: bool) -> None:
    wire = Wire()
    reads = [b"".join(GPT4O[:3]), b"".join(GPT4O[3:60]), b"".join(GPT4O[60:])]
    raw = await fetch(await serve(upstream_reads(reads, wire), wire, relay=relay))
    # The role event and two texts with the headers; then 57 texts; then the rest with the end.
    assert wire.writes_before_read == [1, 2]
    assert len(wire.writes) == 3
    assert b"".join(wire.writes) == raw
    assert (b'"service_tier":"default"' in wire.writes[1]) is relay  # the upstream's own chunks, or ours
    assert (
        raw.count(b"data: {") == len(GPT4O) - 2
    )  # every text, then the finish (the role event and usage are not chunks)
