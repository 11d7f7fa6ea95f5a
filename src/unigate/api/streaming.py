"""Server-sent event responses for the gateway's streams, shared by the APIs that render them
through a ``StreamRenderer`` (OpenAI chat completions, Anthropic Messages, OpenAI Responses,
legacy completions).

Nothing is sent before the first generated delta (a queued request waits there), so that every
error up to it still gets its HTTP status and the API's error body. After it, a failure ends the
stream with the API's own error event, never with a normal ending: a truncated answer cannot pass
for a finished one. A client that leaves closes the gateway's stream, which settles what was
generated.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing, suppress
from typing import Any, Generic, Protocol, TypeVar

import orjson
from aiohttp import web

from unigate.core.gateway import Charge
from unigate.core.results import ChoiceDelta, MoreBuffered, Passthrough, StreamEvent, StreamStart, Usage
from unigate.errors import GatewayError
from unigate.observability import tracing

__all__ = ["SSE_HEADERS", "StreamOutput", "StreamRenderer", "send_stream", "sse_event"]

log = logging.getLogger("unigate.api")

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

Events = AsyncGenerator[StreamEvent | Charge, None]


def sse_event(data: Any, *, event: str | None = None) -> bytes:
    """One server-sent event carrying ``data`` as compact JSON, named ``event`` when given."""
    frame = b"data: " + orjson.dumps(data) + b"\n\n"
    return frame if event is None else b"event: " + event.encode() + b"\n" + frame


class StreamRenderer(Protocol):
    def start(self) -> bytes:
        """What opens the stream (may be empty)."""
        ...

    def delta(self, d: ChoiceDelta) -> bytes: ...

    def end(self, usage: Usage | None, charge: Charge) -> bytes:
        """What closes a stream that finished, with the usage and what it cost."""
        ...

    def error(self, err: GatewayError) -> bytes:
        """What closes a stream that failed after its headers were sent."""
        ...


R = TypeVar("R", bound=StreamRenderer)

Relay = Callable[[R, Passthrough], bytes | None]
"""A renderer's way to write a ``Passthrough`` as received, when it is in its API's format
(``None``: it is not, and its deltas are rendered)."""


class StreamOutput(Generic[R]):
    """What a stream's events render to, gathered until the next write."""

    def __init__(self, renderer: R, *, relay: Relay[R] | None = None) -> None:
        self.renderer = renderer
        self.relay = relay
        self.parts = [renderer.start()]
        self.usage: Usage | None = None

    def add(self, event: StreamEvent | Charge) -> bool:
        """Render ``event``; whether it was output to send now (else the end, sent with the last
        write, or a ``StreamStart``). A ``MoreBuffered`` is not passed here."""
        if isinstance(event, ChoiceDelta):
            self.parts.append(self.renderer.delta(event))
        elif isinstance(event, Passthrough):
            relayed = self.relay(self.renderer, event) if self.relay is not None else None
            if relayed is None:
                relayed = b"".join(self.renderer.delta(d) for d in event.deltas())
            self.parts.append(relayed)
        elif isinstance(event, Usage):
            self.usage = event
            return False
        elif isinstance(event, Charge):
            self.parts.append(self.renderer.end(self.usage, event))
            return False
        return True

    def fail(self, err: GatewayError) -> None:
        self.parts.append(self.renderer.error(err))

    def take(self) -> bytes:
        """What was rendered since the last ``take``."""
        out = b"".join(self.parts)
        self.parts.clear()
        return out


class _EventStream(web.StreamResponse):
    """A ``StreamResponse`` whose status line and headers go out with the first bytes of its body,
    in one write (aiohttp sends those of a plain ``StreamResponse`` on their own at ``prepare``;
    its ``Response`` buffers them the same way). ``send_stream`` prepares it just before it writes.
    The switch is aiohttp's own class attribute, not public API: ``tests/api/test_streaming.py``
    counts the writes, so an aiohttp that drops it fails there."""

    _send_headers_immediately = False


async def send_stream(
    request: web.Request,
    events: Events,
    renderer_for: Callable[[str | None], R],
    *,
    relay: Relay[R] | None = None,
) -> web.StreamResponse:
    """Stream ``events`` (a gateway stream) to the client; ``renderer_for`` gets the model name
    the upstream reported (``None`` if it reported none before its first output). ``relay``: how
    the renderer writes ``Passthrough`` events as received, if it can; without it, or when it
    declines one, their deltas are rendered.

    What the events of one upstream read render to goes out in one write: after an event that a
    ``MoreBuffered`` announced, the next write waits for the events behind it. The usage and the
    charge, which follow the last output once the gateway has settled, go out with what is still
    pending and the chunked body's end, in the last write: a stream whose upstream answered in one
    read costs the client connection one write, headers included."""
    async with aclosing(events):
        model: str | None = None
        first: StreamEvent | Charge | None = None
        more = False
        async for event in events:
            if isinstance(event, MoreBuffered):
                more = True
                continue
            if isinstance(event, StreamStart):
                model, more = event.model, False
                continue
            first = event
            break  # the first delta, or the usage of a stream without any
        output = StreamOutput(renderer_for(model), relay=relay)
        response = _EventStream(headers=SSE_HEADERS)
        # Not made current: the settlement, which runs inside the events, stays the request's child.
        sending = tracing.span("unigate.stream")
        await response.prepare(request)
        try:
            if first is not None and output.add(first) and not more:
                await response.write(output.take())
            more = False
            async for event in events:
                if isinstance(event, MoreBuffered):
                    more = True
                    continue
                if output.add(event) and not more:
                    await response.write(output.take())
                more = False
        except GatewayError as err:
            sending.fail(err)
            output.fail(err)
        except ConnectionResetError as err:
            sending.fail(err)
            sending.end()
            return response  # the client left; closing the events settles what was generated
        except Exception as err:
            # A bug after the headers went out: the middleware can no longer answer, so the stream
            # ends with a generic error event (never a traceback, never a normal ending).
            log.exception("unhandled error in a stream on %s", request.path)
            sending.fail(err)
            output.fail(GatewayError("The server had an error while streaming."))
        except BaseException as err:  # cancelled: the client left mid-write
            sending.fail(err)
            sending.end()
            raise
        with suppress(ConnectionResetError):  # the client left before the end
            await response.write_eof(output.take())
        sending.end()
        return response
