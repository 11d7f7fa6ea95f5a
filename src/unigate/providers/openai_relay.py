"""Relaying an OpenAI-compatible upstream's stream to an OpenAI chat client without decoding it.

When the client reads ``chat.completion.chunk`` events (``ChatRequest.relay_chunks``) and the
upstream sends them, decoding every event into a canonical delta only to encode it again is most
of what a stream costs the gateway. ``ChunkRelay`` splits each upstream read into

* a run of *plain* events, passed on as received (the OpenAI renderer only swaps in its own
  ``id`` and ``created``; keep-alive comments among them pass on too), and
* everything else, as server-sent events for the adapter to decode: the stream's first JSON event
  (model, id and created) and what precedes it, an event that finishes the choice, reports usage
  or carries an error, ``[DONE]``, and whatever follows them in the same read.

A run of events is plain when it starts with ``data: ``, holds none of ``"finish_reason":"``,
``"usage":{``, ``"error":``, ``[DONE]``, ``"reasoning":"`` and ``"arguments":{`` (the last two are
shapes the decoder normalises), and every event in it carries the stream's exact ``"id":...``.
Inside a JSON string every quote is escaped, so these byte patterns can only be the objects' own
keys: no plain event finishes a choice, reports usage or carries an error, whatever text it holds.
The checks are a few passes in C over the whole read, whatever the number of events (a per-event
loop in Python costs more than it saves). A read that fails them (an upstream that writes spaces
after colons, or changes ids) is decoded event by event instead: slower, never wrong. Plain events
are not validated as JSON: like any pass-through, the client gets them as the upstream wrote them,
``created`` included if it changes between events.
"""

from __future__ import annotations

import orjson

from unigate.core.results import RelayedFrames, created_field, id_field
from unigate.providers.sse import SseDecoder, SseEvent

__all__ = ["ChunkRelay"]

_END = b"\n\n"
_DATA = b"data:"
# Any of these starts the part of a read that is decoded: what ends a choice or the stream, and
# what the decoder normalises (OpenRouter's "reasoning" for "reasoning_content", tool call
# arguments sent as an object instead of JSON text).
_SPECIAL = (b'"finish_reason":"', b'"usage":{', b'"error":', b"[DONE]", b'"reasoning":"', b'"arguments":{')


class ChunkRelay:
    """Splits an upstream's reads into plain events and events to decode (see the module)."""

    def __init__(self) -> None:
        self._sse = SseDecoder()
        self._pending = b""
        self._marks: tuple[bytes, bytes] | None = None
        self._decode_all = False

    def _learn(self, events: list[SseEvent]) -> None:
        """From the stream's first event (``events`` holds at most one): the ``id`` and
        ``created`` every plain event must carry. Without them (not a string and an integer),
        every event is decoded."""
        if not events:
            return  # a comment: the first event is still to come
        try:
            first = orjson.loads(events[0].data)
        except orjson.JSONDecodeError:
            first = None  # the adapter's decoding reports it
        upstream_id, created = (first.get("id"), first.get("created")) if isinstance(first, dict) else (None, None)
        if isinstance(upstream_id, str) and type(created) is int:
            self._marks = (id_field(upstream_id), created_field(created))
        else:
            self._decode_all = True

    def decode_all(self) -> None:
        """Decode every event from now on (the adapter asks once the choice has finished)."""
        self._decode_all = True

    def feed(self, chunk: bytes) -> list[RelayedFrames | SseEvent]:
        """What ``chunk`` completes, in order."""
        buffer = self._pending + chunk if self._pending else chunk
        if self._decode_all or b"\r" in buffer:
            self._decode_all = True  # \r\n line ends: the events' boundaries are not b"\n\n"
            self._pending = b""
            return list(self._sse.feed(buffer))
        end = buffer.rfind(_END)
        if end < 0:
            self._pending = buffer
            return []
        whole, self._pending = buffer[: end + 2], buffer[end + 2 :]
        out: list[RelayedFrames | SseEvent] = []
        while self._marks is None and whole and not self._decode_all:
            # Events are decoded up to the first JSON one, which names the id and created.
            first = whole.index(_END) + 2
            events = self._sse.feed(whole[:first])
            self._learn(events)
            out.extend(events)
            whole = whole[first:]
        if self._marks is None or self._decode_all:
            out.extend(self._sse.feed(whole))
        else:
            out.extend(self._plain_then_decoded(whole, self._marks))
        return out

    def close(self) -> list[SseEvent]:
        """At the end of the body: what was left unfinished, decoded."""
        pending, self._pending = self._pending, b""
        return [*self._sse.feed(pending), *self._sse.close()]

    def _plain_then_decoded(self, whole: bytes, marks: tuple[bytes, bytes]) -> list[RelayedFrames | SseEvent]:
        """The run of plain events that ``whole`` starts with, if any, then the rest decoded."""
        if not whole:
            return []
        special = min((i for i in (whole.find(p) for p in _SPECIAL) if i >= 0), default=-1)
        if special < 0:
            cut = len(whole)
        else:
            boundary = whole.rfind(_END, 0, special)
            cut = boundary + 2 if boundary >= 0 else 0
        plain = whole[:cut]
        out: list[RelayedFrames | SseEvent] = []
        if plain:
            count = plain.count(_DATA)
            id_mark, created_mark = marks
            if plain.startswith(_DATA) and plain.count(id_mark) == count:
                out.append(RelayedFrames(plain, count, id_mark, created_mark))
            else:
                cut = 0
        out.extend(self._sse.feed(whole[cut:]) if cut < len(whole) else ())
        return out
