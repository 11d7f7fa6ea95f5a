"""The cache's encoding of answers: a ``ChatResult``, or a stream's events in order, as JSON.

Each object is tagged with its class, and only the classes listed here are rebuilt, so an entry
read back from a shared store can make nothing else (no pickle). A stream keeps every event,
``MoreBuffered`` markers included, so that a replay goes out in the same writes as the original.
A ``Passthrough`` (an upstream's chunks relayed as received) is kept as the deltas it stands for
and replayed as ``ReplayedDeltas``, which every renderer writes from its deltas.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

import orjson

from unigate.core.chat import ToolCall
from unigate.core.results import (
    MORE_BUFFERED,
    ChatResult,
    Choice,
    ChoiceDelta,
    MoreBuffered,
    Passthrough,
    Seal,
    StreamEvent,
    StreamStart,
    TokenLogprob,
    ToolCallDelta,
    TopLogprob,
    UrlCitation,
    Usage,
)
from unigate.primitives.records import record

__all__ = ["ReplayedDeltas", "decode_events", "decode_result", "encode_events", "encode_result"]

_PARTS: tuple[type, ...] = (ChatResult, Choice, Usage, ToolCall, TokenLogprob, TopLogprob, UrlCitation, Seal)
_EVENTS: tuple[type, ...] = (StreamStart, ChoiceDelta, ToolCallDelta)
_CLASSES: dict[str, type] = {c.__name__: c for c in (*_PARTS, *_EVENTS)}
_TUPLES = {c: frozenset(f.name for f in fields(c) if str(f.type).startswith("tuple")) for c in _CLASSES.values()}


@record
class ReplayedDeltas(Passthrough):
    """A relayed group of deltas, replayed from the cache: rendered from its deltas."""

    items: tuple[ChoiceDelta, ...]

    @property
    def count(self) -> int:
        return len(self.items)

    def deltas(self) -> tuple[ChoiceDelta, ...]:
        return self.items


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {"t": type(value).__name__, **{f.name: _plain(getattr(value, f.name)) for f in fields(value)}}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _built(value: Any) -> Any:
    if isinstance(value, list):
        return [_built(v) for v in value]
    if not isinstance(value, dict):
        return value
    cls = _CLASSES.get(value.get("t", ""))
    if cls is None:
        raise ValueError(f"not a cached answer's part: {value.get('t')!r}")
    tuples = _TUPLES[cls]
    args = {k: _built(v) for k, v in value.items() if k != "t"}
    for name in tuples & args.keys():
        if isinstance(args[name], list):
            args[name] = tuple(args[name])
    return cls(**args)


def encode_result(result: ChatResult) -> bytes:
    return orjson.dumps(_plain(result))


def decode_result(body: bytes) -> ChatResult:
    result = _built(orjson.loads(body))
    if not isinstance(result, ChatResult):
        raise ValueError("the entry holds no chat result")
    return result


def encode_events(events: list[StreamEvent]) -> bytes:
    out: list[Any] = []
    for event in events:
        if isinstance(event, MoreBuffered):
            out.append({"t": "MoreBuffered"})
        elif isinstance(event, Passthrough):
            out.append({"t": "Passthrough", "deltas": _plain(event.deltas())})
        else:
            out.append(_plain(event))
    return orjson.dumps(out)


def decode_events(body: bytes) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    for item in orjson.loads(body):
        tag = item.get("t")
        if tag == "MoreBuffered":
            events.append(MORE_BUFFERED)
        elif tag == "Passthrough":
            events.append(ReplayedDeltas(tuple(_built(item["deltas"]))))
        else:
            events.append(_built(item))
    return events
