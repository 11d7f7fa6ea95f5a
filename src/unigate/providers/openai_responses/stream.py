"""A streamed Responses API answer (``stream: true``): its semantic events as canonical stream
events, for its one choice (index 0).

https://platform.openai.com/docs/api-reference/responses-streaming

``response.created`` starts the stream; ``response.output_text.delta`` is text,
``response.reasoning_summary_text.delta`` reasoning (a new summary part begins a new paragraph),
``response.output_item.added`` of a ``function_call`` opens a tool call (its id and name) whose
``response.function_call_arguments.delta`` events carry the arguments. The stream ends with
``response.completed`` or ``response.incomplete`` (the finish, the usage) or fails with
``response.failed`` or an ``error`` event; there is no ``[DONE]``. The ``.done`` events repeat
what the deltas said and are not read, except a reasoning item's, which carries what is put back
on the next turn (``request.py``).
"""

from __future__ import annotations

from typing import Any

from unigate.core.results import ChoiceDelta, Seal, StreamEvent, StreamStart, ToolCallDelta, Usage
from unigate.providers.openai_responses.request import Reasoning
from unigate.providers.openai_responses.response import (
    SUMMARY_SEPARATOR,
    finish_reason,
    parse_usage,
    reasoning_item,
)
from unigate.providers.wire import int_or_zero, new_call_id

__all__ = ["ENDS", "FAILURES", "EventDecoder"]

ENDS = frozenset({"response.completed", "response.incomplete"})
FAILURES = frozenset({"response.failed", "error"})
"""Events that end the stream with an error: the provider raises it (``failure``)."""


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class EventDecoder:
    """Responses stream events to canonical events; one choice (index 0)."""

    def __init__(self, *, fallback_model: str) -> None:
        self.fallback_model = fallback_model
        self.started = False
        self.finished = False
        self.usage: Usage | None = None
        self.generated = 0
        """UTF-8 bytes generated, for an estimate if the stream reports no usage."""
        self.call_ids: list[str] = []
        self._calls: dict[int, int] = {}
        """Output index of each ``function_call`` item → its tool call index."""
        self._summary: tuple[Any, Any] | None = None
        """The (item, summary part) that the last reasoning delta belonged to."""
        self._reasoning: list[dict[str, Any]] = []

    @property
    def reasoning(self) -> Reasoning:
        return tuple(self._reasoning)

    def feed(self, kind: str, data: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if not self.started:
            self.started = True
            response = _object(data.get("response"))
            events.append(StreamStart(str(response.get("model") or self.fallback_model)))
        out = self._feed(kind, data)
        if out is not None:
            for text in (out.content, out.reasoning, *(c.arguments for c in out.tool_calls)):
                self.generated += len(text.encode()) if text else 0
            events.append(out)
        return events

    def _feed(self, kind: str, data: dict[str, Any]) -> ChoiceDelta | None:
        if kind == "response.output_text.delta" and data.get("delta"):
            return ChoiceDelta(0, content=str(data["delta"]))
        if kind == "response.reasoning_summary_text.delta" and data.get("delta"):
            part = (data.get("item_id"), data.get("summary_index"))
            separator = SUMMARY_SEPARATOR if self._summary not in (None, part) else ""
            self._summary = part
            return ChoiceDelta(0, reasoning=separator + str(data["delta"]))
        if kind == "response.output_item.added":
            item = _object(data.get("item"))
            if item.get("type") != "function_call":
                return None
            opened = self._calls[int_or_zero(data.get("output_index"))] = len(self.call_ids)
            call_id = str(item.get("call_id") or new_call_id())
            self.call_ids.append(call_id)
            arguments = item.get("arguments")
            text = arguments if isinstance(arguments, str) else ""
            call = ToolCallDelta(opened, call_id, str(item.get("name") or ""), text)
            return ChoiceDelta(0, tool_calls=(call,))
        if kind == "response.function_call_arguments.delta" and data.get("delta"):
            index = self._calls.get(int_or_zero(data.get("output_index")))
            if index is None:
                return None  # arguments of a call that never opened: nothing to attach them to
            return ChoiceDelta(0, tool_calls=(ToolCallDelta(index, arguments=str(data["delta"])),))
        if kind == "response.output_item.done":
            item = _object(data.get("item"))
            if item.get("type") == "reasoning" and (kept := reasoning_item(item)) is not None:
                self._reasoning.append(kept)
                # For a Responses client, which sends the item back itself (store: false).
                return ChoiceDelta(0, seal=Seal("openai_responses", str(kept["encrypted_content"])))
            return None
        if kind in ENDS:
            self.finished = True
            response = _object(data.get("response"))
            self.usage = parse_usage(response.get("usage"))
            return ChoiceDelta(0, finish_reason=finish_reason(response, called=bool(self.call_ids)))
        return None  # created, in_progress, content parts, the .done events, hosted tools' events
