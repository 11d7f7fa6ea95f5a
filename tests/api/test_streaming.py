"""How ``send_stream`` (``api/streaming.py``) writes a stream to the client connection: what one
upstream read renders to goes out in one write, as it arrives; the end (usage and charge) goes out
with what is pending and the chunked body's last chunk; the headers go with the first bytes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from unigate.api.openai.chat.render import ChunkRenderer
from unigate.api.streaming import send_stream
from unigate.core.gateway import Charge
from unigate.core.results import ChoiceDelta, StreamEvent, StreamStart, Usage
from unigate.errors import UpstreamError
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
            # more_buffered() as the providers set it; the last read ends with the upstream's
            # [DONE] (None here), where the provider stops.
            items: list[StreamEvent | None] = [*read, None] if i == len(reads) - 1 else list(read)
            for event in marked(items):
                if event is None:
                    break
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

    async def start(events: Callable[[], Any], wire: Wire) -> str:
        async def handler(request: web.Request) -> web.StreamResponse:
            transport = request.transport
            assert transport is not None
            write = transport.write

            def spy(data: Any) -> None:
                wire.writes.append(bytes(data))
                write(data)

            transport.write = spy  # type: ignore[method-assign]
            transport.writelines = lambda list_of_data: spy(b"".join(list_of_data))  # type: ignore[method-assign]
            return await send_stream(request, events(), renderer)

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
