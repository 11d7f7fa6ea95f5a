"""Server-sent event responses for the gateway's streams, shared by the APIs that render them
through a ``StreamRenderer`` (Anthropic Messages, OpenAI Responses, legacy completions).

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
from typing import Protocol

from aiohttp import web

from unigate.core.gateway import Charge
from unigate.core.results import ChoiceDelta, RelayedFrames, StreamEvent, StreamStart, Usage
from unigate.errors import GatewayError
from unigate.providers.sse import more_buffered

__all__ = ["SSE_HEADERS", "NotRelayed", "StreamRenderer", "send_stream"]

log = logging.getLogger("unigate.api")

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

Events = AsyncGenerator[StreamEvent | Charge, None]


class StreamRenderer(Protocol):
    def start(self) -> bytes:
        """What opens the stream (may be empty)."""
        ...

    def delta(self, d: ChoiceDelta) -> bytes: ...

    def relayed(self, frames: RelayedFrames) -> bytes:
        """Upstream events in this renderer's own format, passed on (only the OpenAI chat
        renderer gets them: the requests of its API alone set ``relay_chunks``)."""
        ...

    def end(self, usage: Usage | None, charge: Charge) -> bytes:
        """What closes a stream that finished, with the usage and what it cost."""
        ...

    def error(self, err: GatewayError) -> bytes:
        """What closes a stream that failed after its headers were sent."""
        ...


class NotRelayed:
    """For the renderer of an API whose requests never set ``relay_chunks``."""

    def relayed(self, frames: RelayedFrames) -> bytes:
        raise TypeError(f"{type(self).__name__} got relayed frames, which only OpenAI chat streams ask for")


class _EventStream(web.StreamResponse):
    """A ``StreamResponse`` whose status line and headers go out with the first bytes of its body,
    in one write (aiohttp sends those of a plain ``StreamResponse`` on their own at ``prepare``;
    its ``Response`` buffers them the same way). ``send_stream`` prepares it just before it writes.
    The switch is aiohttp's own class attribute, not public API: ``tests/api/test_streaming.py``
    counts the writes, so an aiohttp that drops it fails there."""

    _send_headers_immediately = False


async def send_stream(
    request: web.Request, events: Events, renderer_for: Callable[[str | None], StreamRenderer]
) -> web.StreamResponse:
    """Stream ``events`` (a gateway stream) to the client; ``renderer_for`` gets the model name
    the upstream reported (``None`` if it reported none before its first output).

    What the events of one upstream read render to goes out in one write (``more_buffered``):
    relayed as it arrives, without a write per chunk. The usage and the charge, which follow the
    last output once the gateway has settled, go out with what is still pending and the chunked
    body's end, in the last write: a stream whose upstream answered in one read costs the client
    connection one write, headers included."""
    async with aclosing(events):
        model: str | None = None
        first: StreamEvent | Charge | None = None
        async for event in events:
            if isinstance(event, StreamStart):
                model = event.model
                continue
            first = event
            break  # the first delta, or the usage of a stream without any
        renderer = renderer_for(model)
        response = _EventStream(headers=SSE_HEADERS)
        await response.prepare(request)
        out = [renderer.start()]
        usage: Usage | None = None

        def render(event: StreamEvent | Charge) -> bool:
            """Whether ``event`` was output to send now (else the end, sent with the last write)."""
            nonlocal usage
            if isinstance(event, RelayedFrames):
                out.append(renderer.relayed(event))
            elif isinstance(event, ChoiceDelta):
                out.append(renderer.delta(event))
            elif isinstance(event, Usage):
                usage = event
                return False
            elif isinstance(event, Charge):
                out.append(renderer.end(usage, event))
                return False
            return True

        try:
            if first is not None and render(first) and not more_buffered():
                await response.write(b"".join(out))
                out.clear()
            async for event in events:
                if render(event) and not more_buffered():
                    await response.write(b"".join(out))
                    out.clear()
        except GatewayError as err:
            out.append(renderer.error(err))
        except ConnectionResetError:
            return response  # the client left; closing the events settles what was generated
        except Exception:
            # A bug after the headers went out: the middleware can no longer answer, so the stream
            # ends with a generic error event (never a traceback, never a normal ending).
            log.exception("unhandled error in a stream on %s", request.path)
            out.append(renderer.error(GatewayError("The server had an error while streaming.")))
        with suppress(ConnectionResetError):  # the client left before the end
            await response.write_eof(b"".join(out))
        return response
