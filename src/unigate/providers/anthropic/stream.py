"""Anthropic's stream of Messages events (``message_start``, ``content_block_start``/``delta``,
``message_delta``, ``message_stop``) as canonical stream events, for its one choice (index 0).

Usage arrives in pieces: the input counts on ``message_start``, cumulative output counts on
``message_delta``; the decoder merges them for ``response.usage``. Thinking blocks are rebuilt
from their deltas, signature included, so that a tool loop can send them back.
"""

from __future__ import annotations

from typing import Any

from unigate.core.results import ChoiceDelta, Seal, StreamEvent, StreamStart, ToolCallDelta
from unigate.providers.anthropic.response import Blocks, matched_stop, stop_reason
from unigate.providers.wire import arguments_text, int_or_zero

__all__ = ["EventDecoder"]


class EventDecoder:
    """Messages stream events to canonical events; one choice (index 0)."""

    def __init__(self, *, fallback_model: str) -> None:
        self.fallback_model = fallback_model
        self.finished = False
        self.stop_reason: Any = None
        self.stop_sequence: Any = None
        self.usage: dict[str, Any] = {}
        self.tool_ids: list[str] = []
        self.generated = 0
        """UTF-8 bytes generated, for an estimate if the stream reports no usage."""
        self._tool_index: dict[int, int] = {}
        self._signed: dict[int, dict[str, Any]] = {}

    @property
    def signed_blocks(self) -> Blocks:
        return tuple(self._signed[i] for i in sorted(self._signed))

    def feed(self, kind: str, data: dict[str, Any]) -> list[StreamEvent]:
        events = self._feed(kind, data)
        for event in events:
            if isinstance(event, ChoiceDelta):
                for text in (event.content, event.reasoning, *(c.arguments for c in event.tool_calls)):
                    self.generated += len(text.encode()) if text else 0
        return events

    def _feed(self, kind: str, data: dict[str, Any]) -> list[StreamEvent]:
        if kind == "message_start":
            message = data.get("message") or {}
            self.usage.update(message.get("usage") or {})
            return [StreamStart(str(message.get("model") or self.fallback_model))]
        if kind == "content_block_start":
            return self._block_start(int_or_zero(data.get("index")), data.get("content_block") or {})
        if kind == "content_block_delta":
            return self._block_delta(int_or_zero(data.get("index")), data.get("delta") or {})
        if kind == "message_delta":
            delta = data.get("delta") or {}
            self.stop_reason = delta.get("stop_reason", self.stop_reason)
            self.stop_sequence = delta.get("stop_sequence", self.stop_sequence)
            self.usage.update(data.get("usage") or {})  # cumulative counts
            return []
        if kind == "message_stop":
            self.finished = True
            stop = matched_stop(self.stop_reason, self.stop_sequence)
            return [ChoiceDelta(0, finish_reason=stop_reason(self.stop_reason), stop_sequence=stop)]
        return []  # ping, content_block_stop, and event types added later

    def _block_start(self, index: int, block: dict[str, Any]) -> list[StreamEvent]:
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            return [ChoiceDelta(0, content=str(block["text"]))]
        if kind == "thinking":
            self._signed[index] = {"type": "thinking", "thinking": str(block.get("thinking", "")), "signature": ""}
            return [ChoiceDelta(0, reasoning=str(block["thinking"]))] if block.get("thinking") else []
        if kind == "redacted_thinking":
            self._signed[index] = dict(block)
            return []
        if kind == "tool_use":
            tool = self._tool_index[index] = len(self.tool_ids)
            self.tool_ids.append(str(block["id"]))
            ready = block.get("input")
            arguments = arguments_text(ready) if ready else ""
            return [ChoiceDelta(0, tool_calls=(ToolCallDelta(tool, str(block["id"]), str(block["name"]), arguments),))]
        return []

    def _block_delta(self, index: int, delta: dict[str, Any]) -> list[StreamEvent]:
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [ChoiceDelta(0, content=str(delta["text"]))]
        if kind == "thinking_delta" and index in self._signed:
            self._signed[index]["thinking"] += str(delta.get("thinking", ""))
            return [ChoiceDelta(0, reasoning=str(delta["thinking"]))] if delta.get("thinking") else []
        if kind == "signature_delta" and index in self._signed:
            self._signed[index]["signature"] += str(delta.get("signature", ""))
            # For a Messages API client, which sends the signed block back itself.
            return [ChoiceDelta(0, seal=Seal("anthropic", str(delta["signature"])))] if delta.get("signature") else []
        if kind == "input_json_delta" and index in self._tool_index and delta.get("partial_json"):
            call = ToolCallDelta(self._tool_index[index], arguments=str(delta["partial_json"]))
            return [ChoiceDelta(0, tool_calls=(call,))]
        return []
