"""An Anthropic ``message`` as the canonical result, and the pieces of it that the stream shares
(``stream.py``).

Thinking blocks become ``Choice.reasoning``; the signed blocks are returned beside the result
exactly as Anthropic sent them, for the adapter to keep and send back in a tool loop.
"""

from __future__ import annotations

from typing import Any

from unigate.core.chat import ToolCall
from unigate.core.results import ChatResult, Choice, FinishReason, Seal, Usage
from unigate.errors import UpstreamError
from unigate.providers.wire import arguments_text, int_or_zero, tool_call

__all__ = ["STOP_REASONS", "Blocks", "matched_stop", "parse_message", "stop_reason", "usage"]

STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "unknown",  # a server tool paused the turn: the answer is not finished
}
"""Every other value becomes ``"unknown"``."""

Blocks = tuple[dict[str, Any], ...]
"""Signed ``thinking`` / ``redacted_thinking`` blocks exactly as Anthropic sent them."""


def usage(raw: Any) -> Usage:
    """Prompt tokens are every input token, cached or not; cached means read from the cache.
    Anthropic does not count thinking tokens apart: ``reasoning_tokens`` stays 0."""
    raw = raw if isinstance(raw, dict) else {}
    read, written = int_or_zero(raw.get("cache_read_input_tokens")), int_or_zero(raw.get("cache_creation_input_tokens"))
    return Usage(
        prompt_tokens=int_or_zero(raw.get("input_tokens")) + read + written,
        completion_tokens=int_or_zero(raw.get("output_tokens")),
        cached_tokens=read,
        cache_write_tokens=written,
    )


def stop_reason(value: Any) -> FinishReason:
    return STOP_REASONS.get(str(value), "unknown") if value is not None else "unknown"


def matched_stop(reason: Any, sequence: Any) -> str | None:
    """The stop sequence Anthropic says ended the text (``stop_reason: "stop_sequence"``)."""
    return sequence if reason == "stop_sequence" and isinstance(sequence, str) else None


def parse_message(data: Any) -> tuple[ChatResult, Blocks]:
    """A ``message`` body as the canonical result, and its signed thinking blocks."""
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        raise UpstreamError("The anthropic provider answered without content.")
    texts: list[str] = []
    thoughts: list[str] = []
    signed: list[dict[str, Any]] = []
    calls: list[ToolCall] = []
    for block in data["content"]:
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            thoughts.append(str(block.get("thinking", "")))
            signed.append(block)
        elif kind == "redacted_thinking":
            signed.append(block)
        elif kind == "tool_use":
            calls.append(tool_call(block.get("id"), block.get("name", ""), arguments_text(block.get("input"))))
    choice = Choice(
        index=0,
        content="".join(texts) if texts or not calls else None,
        finish_reason=stop_reason(data.get("stop_reason")),
        tool_calls=tuple(calls),
        reasoning="".join(thoughts) if thoughts else None,
        stop_sequence=matched_stop(data.get("stop_reason"), data.get("stop_sequence")),
        seal=next((Seal("anthropic", str(b["signature"])) for b in signed if b.get("signature")), None),
    )
    result = ChatResult(model=str(data.get("model", "")), choices=[choice], usage=usage(data.get("usage")))
    return result, tuple(signed)
