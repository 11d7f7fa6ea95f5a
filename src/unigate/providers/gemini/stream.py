"""Streamed ``GenerateContentResponse`` chunks (``streamGenerateContent?alt=sse``) as canonical
stream events. Each chunk is a whole response holding the candidates' new parts; of the usage
that chunks report, the last one counts."""

from __future__ import annotations

from typing import Any

from unigate.core.results import ChoiceDelta, StreamEvent, StreamStart, ToolCallDelta, Usage
from unigate.providers.gemini.response import blocked, finish_reason, function_call, logprobs, usage
from unigate.providers.wire import int_or_zero

__all__ = ["StreamDecoder"]


class StreamDecoder:
    """Streamed ``GenerateContentResponse`` chunks to canonical events."""

    def __init__(self, *, n: int, fallback_model: str) -> None:
        self.n = n
        self.fallback_model = fallback_model
        self.started = False
        self.seen: set[int] = set()
        self.finished: set[int] = set()
        self.usage: Usage | None = None
        self.generated = 0
        """UTF-8 bytes generated, for an estimate if no chunk reports usage."""
        self.signatures: dict[str, str] = {}
        self._calls: dict[int, int] = {}

    def feed(self, data: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if not self.started:
            self.started = True
            events.append(StreamStart(str(data.get("modelVersion") or self.fallback_model)))
        if data.get("usageMetadata"):
            self.usage = usage(data["usageMetadata"])
        if blocked(data):
            for i in range(self.n):
                if i not in self.finished:
                    self.seen.add(i)
                    self.finished.add(i)
                    events.append(ChoiceDelta(i, finish_reason="content_filter"))
        for candidate in data.get("candidates") or ():
            index = int_or_zero(candidate.get("index"))
            if index in self.finished:
                continue
            self.seen.add(index)
            for part in (candidate.get("content") or {}).get("parts") or ():
                event = self._part(index, part)
                if event is not None:
                    events.append(event)
                    for text in (event.content, event.reasoning, *(c.arguments for c in event.tool_calls)):
                        self.generated += len(text.encode()) if text else 0
            entries = logprobs(candidate.get("logprobsResult"))
            if entries:
                events.append(ChoiceDelta(index, logprobs=entries))
            if candidate.get("finishReason"):
                self.finished.add(index)
                reason = finish_reason(candidate["finishReason"], called=index in self._calls)
                events.append(ChoiceDelta(index, finish_reason=reason))
        return events

    def _part(self, index: int, part: dict[str, Any]) -> ChoiceDelta | None:
        if "functionCall" in part:
            call = function_call(part)
            if part.get("thoughtSignature"):
                self.signatures[call.id] = str(part["thoughtSignature"])
            position = self._calls.get(index, 0)
            self._calls[index] = position + 1
            return ChoiceDelta(index, tool_calls=(ToolCallDelta(position, call.id, call.name, call.arguments),))
        text = part.get("text")
        if not text:
            return None  # e.g. an empty part that only carries a thoughtSignature
        if part.get("thought"):
            return ChoiceDelta(index, reasoning=str(text))
        return ChoiceDelta(index, content=str(text))

    def complete(self) -> bool:
        return bool(self.finished) and self.seen <= self.finished
