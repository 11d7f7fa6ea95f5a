"""The canonical chat result and stream events that providers return.

``finish_reason`` keeps the OpenAI vocabulary; a provider that sees a value it cannot map says
``"unknown"`` (rendered as-is) instead of guessing ``"stop"``. A stop at one of the caller's stop
sequences is ``"stop"`` with ``stop_sequence`` naming the one that matched, when the provider
knows it (Anthropic's ``stop_reason: "stop_sequence"`` needs it; OpenAI's wire drops it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from unigate.core.chat import Dialect, ToolCall
from unigate.primitives.records import record

__all__ = [
    "MORE_BUFFERED",
    "ChatResult",
    "Choice",
    "ChoiceDelta",
    "FinishReason",
    "MoreBuffered",
    "Passthrough",
    "Seal",
    "StreamEvent",
    "StreamStart",
    "TokenLogprob",
    "ToolCallDelta",
    "TopLogprob",
    "UrlCitation",
    "Usage",
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


@record
class UrlCitation:
    """A web source the answer cites (OpenAI's ``url_citation`` annotation): the text between
    ``start_index`` and ``end_index`` (character offsets in the choice's content) rests on it."""

    url: str
    title: str
    start_index: int
    end_index: int


@dataclass(slots=True)
class Usage:
    """Token counts as the model reports them. ``total_tokens`` is kept as reported: some
    upstreams do not report ``prompt + completion`` (the service's docs, note "Usage accounting
    differs by upstream")."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int | None = None
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens read from the upstream's prompt cache (included in ``prompt_tokens``)."""
    cache_write_tokens: int = 0
    """Prompt tokens written to it (Anthropic's ``cache_creation_input_tokens``; included too)."""

    def total(self) -> int:
        return self.total_tokens if self.total_tokens is not None else self.prompt_tokens + self.completion_tokens


@record
class Seal:
    """Reasoning in the form only its upstream reads back: Anthropic's thinking ``signature``,
    OpenAI's ``encrypted_content``. A client of the same ``dialect`` gets it, to send back on the
    next turn of a tool loop, which the upstream needs when the gateway keeps nothing."""

    dialect: Dialect
    value: str


@dataclass(slots=True)
class Choice:
    index: int
    content: str | None
    finish_reason: FinishReason
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    refusal: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None
    stop_sequence: str | None = None
    """The caller's stop sequence that ended the text (``finish_reason`` is ``"stop"``); ``None``
    when the model ended it by itself, or when the upstream does not say which one matched."""
    annotations: tuple[UrlCitation, ...] = ()
    """The web sources of a searched answer."""
    seal: Seal | None = None
    """The reasoning's seal, if the upstream gave one (see ``Seal``)."""


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
    stop_sequence: str | None = None
    """Comes with ``finish_reason``: the caller's stop sequence that ended the text, as on ``Choice``."""
    annotations: tuple[UrlCitation, ...] = ()
    """Web sources cited by the choice's text so far (offsets into its whole content)."""
    seal: Seal | None = None
    """The seal of the reasoning streamed so far (Anthropic: its ``signature_delta``)."""


class Passthrough(ABC):
    """Output that an upstream sent already in the wire format of one client API, passed on without
    being decoded. The provider that yields it and the renderer that can write it as received agree
    on that format; nothing between them looks inside. Every other consumer uses ``deltas``: the
    same output as canonical deltas, so that a renderer which cannot write it as received still
    renders all of it."""

    __slots__ = ()

    @property
    @abstractmethod
    def count(self) -> int:
        """How many deltas it stands for (the gateway bills a stream cut short by them)."""

    @abstractmethod
    def deltas(self) -> tuple[ChoiceDelta, ...]:
        """The same output as canonical deltas, in order."""


@record
class MoreBuffered:
    """Comes just before an event that is not the last one its upstream read produced: a consumer
    that batches its writes does not write after that event, since more are already at hand, and
    so sends what one upstream read produced in one write. Any other consumer skips it."""


MORE_BUFFERED = MoreBuffered()


StreamEvent = StreamStart | ChoiceDelta | Usage | Passthrough | MoreBuffered
"""A provider stream yields one ``StreamStart``, then ``ChoiceDelta``s (or ``Passthrough``s),
and ends with ``Usage``; a ``MoreBuffered`` may come before any of them."""
