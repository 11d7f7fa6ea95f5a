"""Canonical results to the legacy completions wire: ``text_completion`` bodies and stream chunks,
each with our ``meta.usage``.

Choice ``j`` of prompt ``i`` is choice ``i * n + j``, as OpenAI numbers them. Log probabilities
take the legacy shape: parallel ``tokens``, ``token_logprobs``, ``top_logprobs`` (one
``{token: logprob}`` map per position) and ``text_offset`` (character offsets in ``text``).
Streams follow the chat endpoint's conventions: the frame that finishes the last choice is held
until the charge is known and carries ``meta``; with ``include_usage`` a final ``choices: []``
frame carries ``usage`` and ``meta``; then ``data: [DONE]``.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from unigate.api.meta import meta
from unigate.api.streaming import sse_event
from unigate.core.gateway import Charge
from unigate.core.results import ChatResult, ChoiceDelta, TokenLogprob, Usage
from unigate.errors import GatewayError
from unigate.primitives.ids import urlsafe_id

__all__ = ["CompletionChunks", "completion_body", "new_completion_id"]

DONE = b"data: [DONE]\n\n"


def new_completion_id() -> str:
    return "cmpl-" + urlsafe_id(18)


def _usage(u: Usage) -> dict[str, Any]:
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total()}


def _logprobs(items: tuple[TokenLogprob, ...] | None, offset: int) -> dict[str, Any] | None:
    if items is None:
        return None
    offsets = []
    for t in items:
        offsets.append(offset)
        offset += len(t.token)
    return {
        "tokens": [t.token for t in items],
        "token_logprobs": [t.logprob for t in items],
        "top_logprobs": [{a.token: a.logprob for a in t.top_logprobs} for t in items],
        "text_offset": offsets,
    }


def completion_body(
    results: list[ChatResult], charge: Charge, *, prompts: list[str] | None, n: int, model: str
) -> bytes:
    """One body for every prompt's result; ``prompts`` given when the client asked for ``echo``."""
    choices = []
    usage = Usage()
    for i, result in enumerate(results):
        usage.prompt_tokens += result.usage.prompt_tokens
        usage.completion_tokens += result.usage.completion_tokens
        echo = prompts[i] if prompts else ""
        for c in result.choices:
            text = echo + (c.content or "")
            choices.append(
                {
                    "text": text,
                    "index": i * n + c.index,
                    "logprobs": _logprobs(c.logprobs, len(echo)),
                    "finish_reason": c.finish_reason,
                }
            )
    return orjson.dumps(
        {
            "id": new_completion_id(),
            "object": "text_completion",
            "created": int(time.time()),
            "model": results[0].model if results else model,
            "choices": choices,
            "usage": _usage(usage),
            "system_fingerprint": None,
            "meta": meta(charge),
        }
    )


class CompletionChunks:
    """Renders a stream (a ``StreamRenderer``) of choices already numbered ``i * n + j``."""

    def __init__(self, *, model: str, include_usage: bool, prompts: list[str] | None, n: int) -> None:
        self.id = new_completion_id()
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage
        self.prompts = prompts
        self.n = n
        self._offsets: dict[int, int] = {}
        self._held: dict[str, Any] | None = None

    def _frame(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "system_fingerprint": None,
            **extra,
        }

    def start(self) -> bytes:
        return b""

    def delta(self, d: ChoiceDelta) -> bytes:
        out = b""
        if self._held is not None:
            out, self._held = sse_event(self._held), None
        text = d.content or ""
        if d.index not in self._offsets:
            echo = self.prompts[d.index // self.n] if self.prompts else ""
            text = echo + text
            self._offsets[d.index] = len(echo)
        offset = self._offsets[d.index]
        self._offsets[d.index] += len(d.content or "")
        choice = {
            "text": text,
            "index": d.index,
            "logprobs": _logprobs(d.logprobs, offset),
            "finish_reason": d.finish_reason,
        }
        frame = self._frame([choice])
        if d.finish_reason is not None:
            self._held = frame
            return out
        return out + sse_event(frame)

    def end(self, usage: Usage | None, charge: Charge) -> bytes:
        held, self._held = self._held, None
        if self.include_usage:
            tail = self._frame([], usage=_usage(usage or Usage()), meta=meta(charge))
            return (sse_event(held) if held else b"") + sse_event(tail) + DONE
        if held is None:
            held = self._frame([])
        held["meta"] = meta(charge)
        return sse_event(held) + DONE

    def error(self, err: GatewayError) -> bytes:
        return sse_event(err.body())
