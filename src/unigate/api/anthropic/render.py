"""Canonical results to Anthropic's wire: ``message`` bodies and the Messages stream events
(https://docs.anthropic.com/en/api/messages-streaming), each with our ``meta.usage``.

A stream is ``message_start``, ``ping``, then per content block ``content_block_start``,
``content_block_delta``s and ``content_block_stop``, then ``message_delta`` (stop reason and
cumulative usage, input tokens included since they are only known at the end) and
``message_stop``. Reasoning becomes ``thinking`` blocks, signed when Claude signed them (its
``signature_delta``) and unsigned otherwise, tool calls ``tool_use`` blocks whose input streams as
``input_json_delta``. ``meta.usage`` rides on the body and on ``message_delta``.
"""

from __future__ import annotations

from typing import Any

import orjson

from unigate.api.anthropic.citations import citation, text_blocks
from unigate.api.anthropic.errors import anthropic_error
from unigate.api.meta import meta
from unigate.api.streaming import sse_event
from unigate.core.gateway import Charge
from unigate.core.results import ChatResult, ChoiceDelta, FinishReason, Seal, Usage
from unigate.errors import GatewayError, UpstreamError
from unigate.primitives.ids import urlsafe_id

__all__ = ["MessageStream", "message_body", "new_message_id", "stop_reason"]

_STOP_REASONS: dict[FinishReason, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
    "unknown": "unknown",
}
"""A stop at one of the client's ``stop_sequences`` reads ``stop_sequence`` instead of
``end_turn`` when the canonical result names the sequence (``stop_reason`` below); when the
upstream did not say which matched, it stays ``end_turn`` with ``stop_sequence`` null rather
than name a guess."""


def stop_reason(reason: FinishReason | None, stop_sequence: str | None = None) -> str:
    if stop_sequence is not None and reason in (None, "stop"):
        return "stop_sequence"
    return _STOP_REASONS[reason or "stop"]


def new_message_id() -> str:
    return "msg_" + urlsafe_id(18)


def _usage(u: Usage) -> dict[str, Any]:
    # Anthropic counts cache reads and writes apart from input_tokens; prompt_tokens includes them.
    return {
        "input_tokens": max(u.prompt_tokens - u.cached_tokens - u.cache_write_tokens, 0),
        "output_tokens": u.completion_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cached_tokens,
    }


def _tool_input(arguments: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise UpstreamError("The model produced tool arguments that are not a JSON object.")
    return value


def message_body(result: ChatResult, charge: Charge, *, message_id: str) -> bytes:
    choice = result.choices[0]
    content: list[dict[str, Any]] = []
    if choice.reasoning or _signature(choice.seal):
        content.append({"type": "thinking", "thinking": choice.reasoning or "", "signature": _signature(choice.seal)})
    if choice.content or not (choice.tool_calls or choice.reasoning):
        content.extend(text_blocks(choice.content or "", choice.annotations))
    for call in choice.tool_calls:
        content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": _tool_input(call.arguments)})
    return orjson.dumps(
        {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": result.model,
            "content": content,
            "stop_reason": stop_reason(choice.finish_reason, choice.stop_sequence),
            "stop_sequence": choice.stop_sequence if choice.finish_reason == "stop" else None,
            "usage": _usage(result.usage),
            "meta": meta(charge),
        }
    )


def _signature(seal: Seal | None) -> str:
    """Claude's signature of its thinking, which a client sends back in a tool loop; thinking
    from any other model is rendered unsigned (and not sent on to Claude later)."""
    return seal.value if seal is not None and seal.dialect == "anthropic" else ""


def _event(data: dict[str, Any]) -> bytes:
    return sse_event(data, event=data["type"])


class MessageStream:
    """Renders one stream's events; only choice 0 exists on this API."""

    def __init__(self, *, model: str) -> None:
        self.id = new_message_id()
        self.model = model
        self._index = -1
        self._open: str | None = None
        """Kind of the open content block: ``text``, ``thinking`` or ``tool:<call index>``."""
        self._finish: FinishReason | None = None
        self._stop_sequence: str | None = None
        self._texts: list[str] = []
        """The text so far, which a searched answer's citations quote (``citations_delta``)."""

    def start(self) -> bytes:
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return _event({"type": "message_start", "message": message}) + _event({"type": "ping"})

    def _switch(self, kind: str, block: dict[str, Any]) -> bytes:
        if self._open == kind:
            return b""
        out = self._close()
        self._index += 1
        self._open = kind
        return out + _event({"type": "content_block_start", "index": self._index, "content_block": block})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return _event({"type": "content_block_stop", "index": self._index})

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _event({"type": "content_block_delta", "index": self._index, "delta": delta})

    def delta(self, d: ChoiceDelta) -> bytes:
        out = b""
        if d.reasoning:
            out += self._switch("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            out += self._delta({"type": "thinking_delta", "thinking": d.reasoning})
        if signature := _signature(d.seal):
            out += self._switch("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            out += self._delta({"type": "signature_delta", "signature": signature})
        if d.content:
            out += self._switch("text", {"type": "text", "text": ""})
            out += self._delta({"type": "text_delta", "text": d.content})
            self._texts.append(d.content)
        if d.annotations:
            out += self._switch("text", {"type": "text", "text": ""})
            text = "".join(self._texts)
            for c in d.annotations:
                out += self._delta({"type": "citations_delta", "citation": citation(c, text)})
        for call in d.tool_calls:
            kind = f"tool:{call.index}"
            if self._open != kind:
                block = {"type": "tool_use", "id": call.id or "", "name": call.name or "", "input": {}}
                out += self._switch(kind, block)
            if call.arguments:
                out += self._delta({"type": "input_json_delta", "partial_json": call.arguments})
        if d.finish_reason is not None:
            self._finish = d.finish_reason
            self._stop_sequence = d.stop_sequence if d.finish_reason == "stop" else None
        return out

    def end(self, usage: Usage | None, charge: Charge) -> bytes:
        delta = {"stop_reason": stop_reason(self._finish, self._stop_sequence), "stop_sequence": self._stop_sequence}
        tail = {"type": "message_delta", "delta": delta, "usage": _usage(usage or Usage()), "meta": meta(charge)}
        return self._close() + _event(tail) + _event({"type": "message_stop"})

    @staticmethod
    def error(err: GatewayError) -> bytes:
        """A failure after the headers went out: Anthropic's ``error`` event (the SDKs raise it)."""
        return _event(anthropic_error(err)[1])
