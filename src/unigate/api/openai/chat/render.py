"""Canonical results to the OpenAI wire: ``chat.completion`` bodies and ``chat.completion.chunk``
server-sent events, each with ``meta.usage`` (the service's docs, sections "POST
/v1/chat/completions: response" and "Streaming (SSE) on /v1/chat/completions").

An OpenAI-compatible upstream's own chunks can reach the client as it wrote them
(``ChunkRenderer.relayed``, ``providers/openai_compat/relay.py``): a stream's handler asks for
that by giving ``send_stream`` this renderer's ``relayed``.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from unigate.api.meta import meta
from unigate.api.streaming import sse_event
from unigate.core.gateway import Charge
from unigate.core.results import ChatResult, Choice, ChoiceDelta, Passthrough, TokenLogprob, UrlCitation, Usage
from unigate.errors import GatewayError
from unigate.primitives.ids import urlsafe_id
from unigate.providers.openai_compat.relay import Envelope, RelayedChunks

__all__ = ["ChunkRenderer", "completion_body", "new_completion_id"]

DONE = b"data: [DONE]\n\n"
ROLE = b'"role":"assistant",'


def new_completion_id() -> str:
    return "chatcmpl-" + urlsafe_id(18)


def _usage(u: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total(),
        "completion_tokens_details": {
            "accepted_prediction_tokens": 0,
            "audio_tokens": 0,
            "reasoning_tokens": u.reasoning_tokens,
            "rejected_prediction_tokens": 0,
        },
        "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": u.cached_tokens},
    }


def _logprobs(items: tuple[TokenLogprob, ...] | None) -> dict[str, Any] | None:
    if items is None:
        return None
    return {
        "content": [
            {
                "token": t.token,
                "logprob": t.logprob,
                "bytes": None if t.bytes is None else list(t.bytes),
                "top_logprobs": [
                    {
                        "token": a.token,
                        "logprob": a.logprob,
                        "bytes": None if a.bytes is None else list(a.bytes),
                    }
                    for a in t.top_logprobs
                ],
            }
            for t in items
        ],
        "refusal": None,
    }


def _annotations(cited: tuple[UrlCitation, ...]) -> list[dict[str, Any]]:
    """A searched answer's sources (OpenAI's ``url_citation`` annotations)."""
    return [
        {
            "type": "url_citation",
            "url_citation": {"end_index": c.end_index, "start_index": c.start_index, "title": c.title, "url": c.url},
        }
        for c in cited
    ]


def _choice(c: Choice) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": c.content,
        "refusal": c.refusal,
        "annotations": _annotations(c.annotations) if c.annotations else None,
        "audio": None,
        "tool_calls": [
            {"id": t.id, "type": "function", "function": {"name": t.name, "arguments": t.arguments}}
            for t in c.tool_calls
        ]
        or None,
    }
    if c.reasoning is not None:
        message["reasoning_content"] = c.reasoning
    return {
        "index": c.index,
        "message": message,
        "finish_reason": c.finish_reason,
        "logprobs": _logprobs(c.logprobs),
    }


def completion_body(result: ChatResult, charge: Charge, *, completion_id: str, created: int) -> bytes:
    return orjson.dumps(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": result.model,
            "choices": [_choice(c) for c in result.choices],
            "usage": _usage(result.usage),
            "system_fingerprint": result.system_fingerprint,
            "meta": meta(charge),
        }
    )


class ChunkRenderer:
    """Renders one stream's events as SSE ``data:`` frames.

    The first delta of each choice carries ``role``. The frame that finishes the last choice is
    held back until the charge is known, so that a stream without ``include_usage`` still reports
    ``meta.usage`` (on that frame); with ``include_usage`` the final ``choices: []`` frame carries
    both ``usage`` and ``meta``.
    """

    def __init__(self, *, model: str, include_usage: bool) -> None:
        self.id = new_completion_id()
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage
        self._started: set[int] = set()
        self._held: dict[str, Any] | None = None
        # Every frame starts the same way: serialised once, then each delta adds its choice.
        head = orjson.dumps(self._frame([]))
        self._head = b"data: " + head[: head.rindex(b"[]")] + b"["
        self._envelope: Envelope | None = None
        self._relay_prefix = b""
        """The envelope of the upstream's relayed chunks, with this stream's id and created."""

    def _frame(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": choices,
            **extra,
        }

    def delta(self, d: ChoiceDelta) -> bytes:
        out = b""
        if self._held is not None:
            out, self._held = sse_event(self._held), None
        if d.seal is not None and d == ChoiceDelta(d.index, seal=d.seal):
            return out  # a seal alone: this API has no field for it
        body: dict[str, Any] = {}
        if d.index not in self._started:
            self._started.add(d.index)
            body["role"] = "assistant"
            if d.content is None and not d.tool_calls:
                body["content"] = ""
        if d.content is not None:
            body["content"] = d.content
        if d.reasoning is not None:
            body["reasoning_content"] = d.reasoning
        if d.tool_calls:
            body["tool_calls"] = [_tool_call_delta(t.index, t.id, t.name, t.arguments) for t in d.tool_calls]
        if d.annotations:
            body["annotations"] = _annotations(d.annotations)
        choice = {
            "index": d.index,
            "delta": body,
            "logprobs": _logprobs(d.logprobs) if d.logprobs is not None else None,
            "finish_reason": d.finish_reason,
        }
        if d.finish_reason is not None:
            self._held = self._frame([choice])
            return out
        return out + self._head + orjson.dumps(choice) + b"]}\n\n"

    def relayed(self, event: Passthrough) -> bytes | None:
        """``event`` as the upstream wrote it, if it holds chunks of this API (``RelayedChunks``),
        with this stream's ``id`` and ``created``; else ``None``, and its deltas are rendered. The
        rest of each chunk is the upstream's: OpenAI's ``service_tier`` or ``obfuscation`` pass
        on, as its ``system_fingerprint`` does."""
        if not isinstance(event, RelayedChunks):
            return None
        out = b""
        if self._held is not None:
            out, self._held = sse_event(self._held), None
        if event.envelope is not self._envelope:
            self._envelope = event.envelope
            self._relay_prefix = event.envelope.with_ids(self.id, self.created)
        if 0 in self._started:
            return out + event.rewritten(self._relay_prefix)
        self._started.add(0)  # the role opens the choice in its first chunk, as ``delta`` writes it
        return out + event.rewritten(self._relay_prefix, opening=ROLE)

    def start(self) -> bytes:
        return b""

    def error(self, err: GatewayError) -> bytes:
        """The OpenAI SDKs raise on an ``error`` event; no ``[DONE]`` follows it."""
        return sse_event(err.body())

    def end(self, usage: Usage | None, charge: Charge) -> bytes:
        held, self._held = self._held, None
        if self.include_usage:
            tail = self._frame([], usage=_usage(usage or Usage()), meta=meta(charge))
            return (sse_event(held) if held else b"") + sse_event(tail) + DONE
        if held is None:
            held = self._frame([])
        held["meta"] = meta(charge)
        return sse_event(held) + DONE


def _tool_call_delta(index: int, call_id: str | None, name: str | None, arguments: str) -> dict[str, Any]:
    out: dict[str, Any] = {"index": index}
    if call_id is not None:
        out["id"] = call_id
        out["type"] = "function"
    function: dict[str, Any] = {"arguments": arguments}
    if name is not None:
        function["name"] = name
    out["function"] = function
    return out
