"""Server-sent events, decoded incrementally as the WHATWG spec says.

https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

Upstreams differ in everything the spec allows: ``\\r\\n`` (Gemini) or ``\\n`` line ends, ``:``
keep-alive comments (OpenRouter), ``event:`` names (Anthropic), ``data:`` with or without the
space, several ``data:`` lines per event, a final event without its blank line. Chunks from the
network split lines, ``\\r\\n`` pairs and UTF-8 characters anywhere; the decoder does not care.

What one upstream read completes travels as values to the client connection, which then writes
it once (``api/streaming.py``): each event but the last of a read is marked ``more``, and an
adapter puts ``MORE_BUFFERED`` before each of its outputs that others follow in that read
(``marked``).
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from unigate.core.results import MORE_BUFFERED, MoreBuffered, StreamStart

__all__ = ["SseDecoder", "SseEvent", "marked", "read_events"]

T = TypeVar("T")


@dataclass(slots=True)  # not frozen: one per streamed chunk, and a frozen one costs more to build
class SseEvent:
    data: str
    event: str = "message"
    more: bool = field(default=False, compare=False, repr=False)
    """Whether the upstream read that completed this event completed others after it (``read_events``)."""


class SseDecoder:
    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._started = False
        self._data: list[str] = []
        self._event = ""

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events completed by ``chunk``."""
        text = self._utf8.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        self._buffer += text
        events: list[SseEvent] = []
        if "\r" not in self._buffer:
            # The usual case: ``\n`` line ends only. Split once; the last piece is unfinished.
            lines = self._buffer.split("\n")
            self._buffer = lines.pop()
            for line in lines:
                if line.startswith("data:"):
                    self._data.append(line[6:] if line.startswith(" ", 5) else line[5:])
                elif not line:
                    if (event := self._dispatch()) is not None:
                        events.append(event)
                else:
                    self._line(line)
            return events
        while (cut := _line_end(self._buffer)) is not None:
            end, size = cut
            line, self._buffer = self._buffer[:end], self._buffer[end + size :]
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[SseEvent]:
        """At the end of the body: the last event even if its blank line never came.

        The spec drops such an event; we keep it, because the adapters check that a stream
        finished properly anyway, and a truncated JSON payload fails there with a clear error.
        """
        tail = (self._buffer + self._utf8.decode(b"", final=True)).removesuffix("\r")
        self._buffer = ""
        events = []
        if tail:
            event = self._line(tail)
            if event is not None:
                events.append(event)
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _line(self, line: str) -> SseEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None  # ``id`` and ``retry`` do not matter to a one-shot client

    def _dispatch(self) -> SseEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SseEvent(data[0] if len(data) == 1 else "\n".join(data), event or "message")


def _line_end(buffer: str) -> tuple[int, int] | None:
    """Position and length of the first line terminator, or ``None`` if there is none yet."""
    lf, cr = buffer.find("\n"), buffer.find("\r")
    if cr == -1 or (lf != -1 and lf < cr):
        return None if lf == -1 else (lf, 1)
    if cr + 1 == len(buffer):
        return None  # a ``\n`` may follow in the next chunk
    return cr, 2 if buffer[cr + 1] == "\n" else 1


def read_events(decoder: SseDecoder, chunk: bytes | None) -> list[SseEvent]:
    """The events that one upstream read (``chunk``; ``None`` at the end of the body) completes,
    each but the last marked ``more``."""
    events = decoder.close() if chunk is None else decoder.feed(chunk)
    for event in events[:-1]:
        event.more = True
    return events


def marked(outputs: Sequence[T], *, more: bool) -> Sequence[T | MoreBuffered]:
    """``outputs`` (what an adapter made of one event), each that others follow in the same upstream
    read preceded by ``MORE_BUFFERED``: every one if ``more`` (the event was not the last of its
    read), else all but the last. A ``StreamStart`` gets none: nothing is written for it."""
    if not more and len(outputs) < 2:
        return outputs
    out: list[T | MoreBuffered] = []
    for item in outputs:
        if type(item) is not StreamStart:
            out.append(MORE_BUFFERED)
        out.append(item)
    if not more and type(outputs[-1]) is not StreamStart:
        del out[-2]
    return out
