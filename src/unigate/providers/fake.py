"""A deterministic provider for tests: it echoes the last user message, one word per token.

It sits beside the real providers (enabled with ``UNIGATE_FAKE_MODELS=1``), never instead of them.
Special user messages drive failure paths: ``FAIL`` raises an upstream error before any output,
``FAIL-MIDSTREAM`` fails after the first token, ``OVERLOADED`` is refused as a full queue would
be. ``token_delay_s`` paces tokens so that tests can disconnect mid-stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest, JsonObjectFormat, JsonSchemaFormat, NamedToolChoice, ToolCall
from unigate.core.results import (
    ChatResult,
    Choice,
    ChoiceDelta,
    StreamEvent,
    StreamStart,
    ToolCallDelta,
    Usage,
)
from unigate.errors import Overloaded, UpstreamError

__all__ = ["FakeProvider"]


class FakeProvider:
    name = "fake"

    def __init__(self, *, token_delay_s: float = 0.0) -> None:
        self.token_delay_s = token_delay_s
        self.calls = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def check(self, request: ChatRequest, model: ModelSpec) -> None:
        return None

    def estimate_prompt_tokens(self, request: ChatRequest, model: ModelSpec) -> int:
        return sum(len(m.text().split()) for m in request.messages) + 1

    def _prompt_tokens(self, request: ChatRequest) -> int:
        return sum(len(m.text().split()) for m in request.messages)

    def _words(self, request: ChatRequest) -> tuple[list[str], bool, str | None]:
        """The answer's tokens, whether it ended by itself (``stop``), not by ``max_tokens``, and
        the stop sequence (a whole word here) that ended it: the earliest in the text."""
        last = next((m.text() for m in reversed(request.messages) if m.role == "user"), "")
        if isinstance(request.response_format, JsonObjectFormat | JsonSchemaFormat):
            last = json.dumps({"echo": last})
        words = last.split()
        limit = len(words) if request.max_tokens is None else request.max_tokens
        hits = [(words.index(stop), stop) for stop in request.sampling.stop if stop in words]
        if hits:
            at, stop = min(hits, key=lambda hit: hit[0])
            if at <= limit:
                return words[:at], True, stop
        if len(words) > limit:
            return words[:limit], False, None
        return words, True, None

    def _tool_call(self, request: ChatRequest) -> ToolCall | None:
        choice = request.effective_tool_choice()
        if choice == "required":
            return ToolCall("call_fake0", request.tools[0].name, "{}")
        if isinstance(choice, NamedToolChoice):
            return ToolCall("call_fake0", choice.name, "{}")
        return None

    @staticmethod
    def _refuse(request: ChatRequest) -> None:
        last = request.messages[-1].text()
        if last == "FAIL":
            raise UpstreamError("The fake upstream failed as asked.")
        if last == "OVERLOADED":
            raise Overloaded("The fake model is busy.", headers={"Retry-After": "1"})

    async def complete(self, request: ChatRequest, model: ModelSpec) -> ChatResult:
        self.calls += 1
        self._refuse(request)
        words, ended, stop = self._words(request)
        call = self._tool_call(request)
        choices = []
        for i in range(request.n):
            if call is not None:
                choices.append(Choice(i, None, "tool_calls", tool_calls=(call,)))
            else:
                choices.append(Choice(i, " ".join(words), "stop" if ended else "length", stop_sequence=stop))
        if self.token_delay_s:
            await asyncio.sleep(self.token_delay_s * len(words))
        usage = Usage(self._prompt_tokens(request), request.n * (1 if call else len(words)))
        return ChatResult(model.upstream_model, choices, usage)

    async def stream(self, request: ChatRequest, model: ModelSpec) -> AsyncIterator[StreamEvent]:
        self.calls += 1
        self._refuse(request)
        last = request.messages[-1].text()
        yield StreamStart(model.upstream_model)
        words, ended, stop = self._words(request)
        call = self._tool_call(request)
        generated = 0
        for i in range(request.n):
            if call is not None:
                yield ChoiceDelta(i, tool_calls=(ToolCallDelta(0, call.id, call.name, call.arguments),))
                yield ChoiceDelta(i, finish_reason="tool_calls")
                generated += 1
                continue
            for j, word in enumerate(words):
                if self.token_delay_s:
                    await asyncio.sleep(self.token_delay_s)
                yield ChoiceDelta(i, content=word if j == 0 else " " + word)
                generated += 1
                if last == "FAIL-MIDSTREAM":
                    raise UpstreamError("The fake upstream broke off mid-stream.")
            yield ChoiceDelta(i, finish_reason="stop" if ended else "length", stop_sequence=stop)
        yield Usage(self._prompt_tokens(request), generated)
