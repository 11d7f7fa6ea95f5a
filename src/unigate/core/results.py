"""The canonical chat result and stream events that providers return.

``finish_reason`` keeps the OpenAI vocabulary; a provider that sees a value it cannot map says
``"unknown"`` (rendered as-is) instead of guessing ``"stop"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import orjson

from unigate.core.chat import ToolCall
from unigate.primitives.records import record

__all__ = [
    "ChatResult",
    "Choice",
    "ChoiceDelta",
    "FinishReason",
    "RelayedFrames",
    "StreamEvent",
    "StreamStart",
    "TokenLogprob",
    "ToolCallDelta",
    "TopLogprob",
    "Usage",
    "created_field",
    "id_field",
]

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call", "unknown"]


@record
class TopLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...] | None


@record
class TokenLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...] | None
    top_logprobs: tuple[TopLogprob, ...] = ()


@dataclass(slots=True)
class Usage:
    """Token counts as the model reports them. ``total_tokens`` is kept as reported: some
    upstreams do not report ``prompt + completion`` (seed-survey §7.4)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int | None = None
    reasoning_tokens: int = 0
    cached_tokens: int = 0

    def total(self) -> int:
        return self.total_tokens if self.total_tokens is not None else self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class Choice:
    index: int
    content: str | None
    finish_reason: FinishReason
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    refusal: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None


@dataclass(slots=True)
class ChatResult:
    model: str
    """The model name as the upstream reports it (may differ from the requested id)."""
    choices: list[Choice]
    usage: Usage
    system_fingerprint: str | None = None


@record
class StreamStart:
    """First event of every stream: the model name as the upstream reports it."""

    model: str


@record
class ToolCallDelta:
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@record
class ChoiceDelta:
    """An increment of one choice. The last delta of a choice carries ``finish_reason``."""

    index: int
    content: str | None = None
    reasoning: str | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    logprobs: tuple[TokenLogprob, ...] | None = None
    finish_reason: FinishReason | None = None


@record
class RelayedFrames:
    """Output of an upstream that already speaks the client's wire format, passed on as received:
    whole ``data: {chat.completion.chunk}`` server-sent events of one choice (index 0), none of
    which finishes it, reports usage or carries an error (those arrive as canonical events), and
    the keep-alive comments among them.

    A provider yields these only for a request with ``relay_chunks`` set, that is to the OpenAI
    chat completions API, whose renderer gives them its own ``id`` (``api/openai/chat/render.py``).
    """

    data: bytes
    count: int
    """How many events ``data`` holds; each is about one generated token."""
    id_field: bytes
    """The bytes of the upstream's ``"id":...`` field, the same in every event."""
    created_field: bytes
    """The bytes of the ``"created":...`` field of the upstream's first event (an event whose
    ``created`` differs keeps its own)."""


def id_field(value: str) -> bytes:
    """The bytes of ``"id":<value>`` in a compact JSON object (``RelayedFrames.id_field``)."""
    return b'"id":' + orjson.dumps(value)


def created_field(value: int) -> bytes:
    """The bytes of ``"created":<value>`` in a compact JSON object (``RelayedFrames.created_field``)."""
    return b'"created":%d' % value


StreamEvent = StreamStart | ChoiceDelta | Usage | RelayedFrames
"""A provider stream yields one ``StreamStart``, then ``ChoiceDelta``s (or ``RelayedFrames``),
and ends with ``Usage``."""
