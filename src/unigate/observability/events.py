"""The record of the request in progress, and the hooks through which the gateway fills it in.

``http.py`` opens a ``RequestRecord`` for each HTTP request in a context variable; the gateway
(``core/gateway.py``) reports to it, through the functions below, who is calling (the key's
prefix, never the key), which model answers, and what the call cost, and these feed the metrics
as well. The access log line is written from the record when the request ends. Outside an HTTP
request (a test driving the gateway directly) there is no record and only the metrics move.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any, Protocol

from unigate.observability import metrics, tracing

__all__ = [
    "CURRENT",
    "RequestRecord",
    "caller",
    "chat_request",
    "settled",
    "stream_closed",
    "stream_opened",
    "upstream_failed",
]

PROMPT_LOG_CHARS = 8_000
"""At most this much prompt text per request goes to the log (``UNIGATE_LOG_PROMPTS=1``)."""


class RequestRecord:
    """What the access log line says about one request besides method, path and status."""

    __slots__ = (
        "completion_tokens",
        "credits",
        "key_prefix",
        "log_prompts",
        "model",
        "prompt",
        "prompt_tokens",
        "request_id",
        "span",
    )

    def __init__(self, request_id: str, *, log_prompts: bool = False) -> None:
        self.request_id = request_id
        self.log_prompts = log_prompts
        self.key_prefix: str | None = None
        self.model: str | None = None
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.credits = 0
        self.prompt: list[dict[str, Any]] | None = None
        self.span: tracing.Span = tracing.NO_SPAN
        """The request's server span, which the hooks below give the trace's attributes."""

    def fields(self) -> dict[str, Any]:
        """The record's fields that are set, for the log line."""
        out: dict[str, Any] = {}
        if self.key_prefix is not None:
            out["key_prefix"] = self.key_prefix
        if self.model is not None:
            out["model"] = self.model
            out["prompt_tokens"] = self.prompt_tokens
            out["completion_tokens"] = self.completion_tokens
            out["credits"] = self.credits
        if self.prompt is not None:
            out["prompt"] = self.prompt
        return out


CURRENT: ContextVar[RequestRecord | None] = ContextVar("unigate_request", default=None)


def caller(key_prefix: str, account_id: int | None = None) -> None:
    """The request is made with the API key of this prefix, of this account."""
    record = CURRENT.get()
    if record is not None:
        record.key_prefix = key_prefix
        record.span.set("unigate.key_prefix", key_prefix)
        record.span.set("unigate.account_id", account_id)


class Turn(Protocol):
    """A message as the log sees it (the canonical ``Message`` is one; this layer sits below it)."""

    @property
    def role(self) -> str: ...

    def text(self) -> str: ...


def chat_request(model: str, turns: Sequence[Turn]) -> None:
    """The chat request about to run: its model, and its messages when prompts are logged."""
    record = CURRENT.get()
    if record is None:
        return
    record.model = model
    record.span.set("gen_ai.operation.name", "chat")
    record.span.set("gen_ai.request.model", model)
    if record.log_prompts:
        budget = PROMPT_LOG_CHARS
        messages: list[dict[str, Any]] = []
        for message in turns:
            text = message.text()[: max(budget, 0)]
            budget -= len(text)
            messages.append({"role": message.role, "content": text})
        record.prompt = messages


def media_request(model: str) -> None:
    """A media request (image, speech, transcription, OCR) about to run on ``model``."""
    record = CURRENT.get()
    if record is not None:
        record.model = model


def settled(model: str, *, prompt_tokens: int, completion_tokens: int, credits: int, status: str) -> None:
    """A model call was settled (``status``: ok, error, cancelled) at ``credits``."""
    metrics.observe_model_call(
        model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, credits=credits, status=status
    )
    step = tracing.current()  # the settlement's span
    step.set("unigate.credits", credits)
    step.set("unigate.status", status)
    record = CURRENT.get()
    if record is not None:
        record.model = model
        record.prompt_tokens += prompt_tokens
        record.completion_tokens += completion_tokens
        record.credits += credits
        record.span.set("gen_ai.usage.input_tokens", record.prompt_tokens)
        record.span.set("gen_ai.usage.output_tokens", record.completion_tokens)
        record.span.set("unigate.credits", record.credits)


def upstream_failed(provider: str, exc: BaseException) -> None:
    """A provider call failed with ``exc`` (a ``GatewayError`` carries its code)."""
    code = getattr(exc, "code", None) or type(exc).__name__
    metrics.observe_upstream_error(provider, str(code))


def stream_opened() -> None:
    metrics.STREAMS_IN_FLIGHT.inc()


def stream_closed() -> None:
    metrics.STREAMS_IN_FLIGHT.dec()
