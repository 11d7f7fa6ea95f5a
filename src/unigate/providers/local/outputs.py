"""One output shaper per choice: the local model's text chunks in, ``ChoiceDelta``s out, as plain
content, checked JSON content, or a tool call; and the deltas folded back into a ``Choice`` for
a request that does not stream.

Tool choice: ``required`` and a named function are enforced by a grammar (``_GrammarCall``,
``_NamedCall``); ``auto`` generates freely and returns a call only when the whole reply is one
well-formed call (``_AutoCall``; with a JSON ``response_format`` the grammar allows the content or
a call, so ``_GrammarCall`` reads it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from unigate.core.chat import ChatRequest, FunctionTool, NamedToolChoice, ToolCall
from unigate.core.results import Choice, ChoiceDelta, FinishReason, TokenLogprob, ToolCallDelta
from unigate.errors import UpstreamError
from unigate.providers.local.grammar import tool_call_prefix
from unigate.providers.local.prompt import parse_call
from unigate.providers.local.schemas import ContentCheck, content_check, content_schema, valid_arguments
from unigate.providers.wire import new_call_id

__all__ = ["Collected", "Output", "output_for"]

Reason = Literal["stop", "length"]


class Output(Protocol):
    """Shapes one choice's text into deltas; ``end`` gets how generation finished."""

    def feed(self, text: str, logprobs: tuple[TokenLogprob, ...]) -> list[ChoiceDelta]: ...

    def end(self, reason: Reason, cut: str | None, *, closed: bool = False) -> list[ChoiceDelta]:
        """``cut`` is the caller's stop sequence the text was cut at, if one was; ``closed``: the
        budget ended it (``length``) with the grammar's value whole (``closing.py``)."""
        ...


def output_for(request: ChatRequest, index: int) -> Output:
    """The shaper of choice ``index`` of ``request``."""
    choice = request.effective_tool_choice()
    content = _Content(index, logprobs=request.logprobs, check=content_check(request))
    if isinstance(choice, NamedToolChoice):
        tool = next(t for t in request.tools if t.name == choice.name)
        return _NamedCall(index, tool)
    if choice == "required":
        return _GrammarCall(index, request.tools, content=None)
    if choice == "auto" and request.tools:
        if content_schema(request) is not None:
            return _GrammarCall(index, request.tools, content=content)
        return _AutoCall(index, request.tools, content=content)
    return content


def _finish(index: int, reason: Reason, cut: str | None) -> ChoiceDelta:
    """The last delta of a choice that ended without a complete call."""
    return ChoiceDelta(index, finish_reason=reason, stop_sequence=cut if reason == "stop" else None)


def _invalid_output() -> UpstreamError:
    return UpstreamError("The local model produced output that does not match the requested format.")


class _Content:
    """Text (or JSON) content, streamed as generated and checked once complete."""

    def __init__(self, index: int, *, logprobs: bool, check: ContentCheck | None) -> None:
        self._index = index
        self._logprobs = logprobs
        self._check = check
        self._text: list[str] = []

    def feed(self, text: str, logprobs: tuple[TokenLogprob, ...]) -> list[ChoiceDelta]:
        if self._check is not None:
            self._text.append(text)
        return [ChoiceDelta(self._index, content=text, logprobs=logprobs if self._logprobs else None)]

    def end(self, reason: Reason, cut: str | None, *, closed: bool = False) -> list[ChoiceDelta]:
        # A grammar guarantees the JSON when the model ended it or the budget closed it (not when
        # cut short or at a stop string); failing then is our grammar's bug, never invalid JSON.
        whole = (reason == "stop" and not cut) or closed
        if whole and self._check is not None and not self._check("".join(self._text)):
            raise _invalid_output()
        return [_finish(self._index, reason, cut)]


class _NamedCall:
    """A forced call of one function: the grammar generates its arguments object directly."""

    def __init__(self, index: int, tool: FunctionTool) -> None:
        self._index = index
        self._tool = tool
        self._arguments: list[str] = []

    def feed(self, text: str, logprobs: tuple[TokenLogprob, ...]) -> list[ChoiceDelta]:
        first = not self._arguments
        self._arguments.append(text)
        delta = ToolCallDelta(0, new_call_id(), self._tool.name, text) if first else ToolCallDelta(0, arguments=text)
        return [ChoiceDelta(self._index, tool_calls=(delta,))]

    def end(self, reason: Reason, cut: str | None, *, closed: bool = False) -> list[ChoiceDelta]:
        deltas = [] if self._arguments else self.feed("", ())
        complete = reason == "stop" and not cut
        if (complete or closed) and not valid_arguments("".join(self._arguments), self._tool):
            raise _invalid_output()
        return [
            *deltas,
            ChoiceDelta(self._index, finish_reason="tool_calls") if complete else _finish(self._index, reason, cut),
        ]


class _GrammarCall:
    """Output from a grammar of ``{"name":"<tool>","arguments":{...}}`` (or, given ``content``,
    that content instead): the exact prefix tells which function, then arguments stream with
    their last character held back, since it may be the wrapper's closing brace."""

    def __init__(self, index: int, tools: Sequence[FunctionTool], *, content: _Content | None) -> None:
        self._index = index
        self._prefixes = {tool_call_prefix(t.name): t for t in tools}
        self._content = content
        self._state: Literal["undecided", "call", "content"] = "undecided"
        self._buffer = ""
        self._held: list[TokenLogprob] = []
        self._tool: FunctionTool | None = None
        self._arguments = ""
        self._sent = 0

    def feed(self, text: str, logprobs: tuple[TokenLogprob, ...]) -> list[ChoiceDelta]:
        if self._state == "content" and self._content is not None:
            return self._content.feed(text, logprobs)
        if self._state == "call":
            return self._more_arguments(text)
        self._buffer += text
        self._held += logprobs
        for prefix, tool in self._prefixes.items():
            if self._buffer.startswith(prefix):
                self._state, self._tool = "call", tool
                header = ChoiceDelta(self._index, tool_calls=(ToolCallDelta(0, new_call_id(), tool.name),))
                return [header, *self._more_arguments(self._buffer[len(prefix) :])]
        if self._content is not None and not any(p.startswith(self._buffer) for p in self._prefixes):
            self._state = "content"
            return self._content.feed(self._buffer, tuple(self._held))
        return []

    def _more_arguments(self, text: str) -> list[ChoiceDelta]:
        self._arguments += text
        ready = self._arguments[self._sent : len(self._arguments) - 1]
        self._sent += len(ready)
        return [ChoiceDelta(self._index, tool_calls=(ToolCallDelta(0, arguments=ready),))] if ready else []

    def end(self, reason: Reason, cut: str | None, *, closed: bool = False) -> list[ChoiceDelta]:
        complete = reason == "stop" and not cut
        if self._state != "call":
            if self._content is None:
                if complete:  # the grammar allows nothing but a call
                    raise _invalid_output()
                return [_finish(self._index, reason, cut)]
            deltas = (
                []
                if self._state == "content" or not self._buffer
                else self._content.feed(self._buffer, tuple(self._held))
            )
            return [*deltas, *self._content.end(reason, cut, closed=closed)]
        assert self._tool is not None
        arguments = self._arguments
        if complete or closed:
            if not arguments.endswith("}") or not valid_arguments(arguments[:-1], self._tool):
                raise _invalid_output()
            arguments = arguments[:-1]
        tail = arguments[self._sent :]
        deltas = [ChoiceDelta(self._index, tool_calls=(ToolCallDelta(0, arguments=tail),))] if tail else []
        return [
            *deltas,
            ChoiceDelta(self._index, finish_reason="tool_calls") if complete else _finish(self._index, reason, cut),
        ]


class _AutoCall:
    """Free generation that may be a call: text streams at once unless it opens with ``{``, which
    is held until the end and returned as a call if it is exactly one well-formed call."""

    def __init__(self, index: int, tools: Sequence[FunctionTool], *, content: _Content) -> None:
        self._index = index
        self._tools = tools
        self._content = content
        self._state: Literal["undecided", "text", "json"] = "undecided"
        self._buffer = ""
        self._held: list[TokenLogprob] = []

    def feed(self, text: str, logprobs: tuple[TokenLogprob, ...]) -> list[ChoiceDelta]:
        if self._state == "text":
            return self._content.feed(text, logprobs)
        self._buffer += text
        self._held += logprobs
        if self._state == "undecided":
            lead = self._buffer.lstrip()
            if lead.startswith("{"):
                self._state = "json"
            elif lead:
                self._state = "text"
                return self._flush()
        return []

    def end(self, reason: Reason, cut: str | None, *, closed: bool = False) -> list[ChoiceDelta]:
        if self._state == "json" and reason == "stop":
            call = parse_call(self._buffer.strip(), self._tools)
            if call is not None:
                name, arguments = call
                delta = ToolCallDelta(0, new_call_id(), name, arguments)
                return [
                    ChoiceDelta(self._index, tool_calls=(delta,)),
                    ChoiceDelta(self._index, finish_reason="tool_calls"),
                ]
        return [*self._flush(), *self._content.end(reason, cut, closed=closed)]

    def _flush(self) -> list[ChoiceDelta]:
        text, logprobs = self._buffer, tuple(self._held)
        self._buffer, self._held = "", []
        return self._content.feed(text, logprobs) if text or logprobs else []


class Collected:
    """One choice folded from its deltas, for ``complete``."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.logprobs: list[TokenLogprob] = []
        self.call_id = ""
        self.call_name = ""
        self.arguments: list[str] = []
        self.is_call = False
        self.finish_reason: FinishReason = "stop"
        self.stop_sequence: str | None = None

    def add(self, delta: ChoiceDelta) -> None:
        if delta.content is not None:
            self.content.append(delta.content)
        self.logprobs += delta.logprobs or ()
        for call in delta.tool_calls:
            self.is_call = True
            self.call_id = call.id or self.call_id
            self.call_name = call.name or self.call_name
            self.arguments.append(call.arguments)
        if delta.finish_reason is not None:
            self.finish_reason = delta.finish_reason
            self.stop_sequence = delta.stop_sequence

    def choice(self, index: int, *, logprobs: bool) -> Choice:
        if self.is_call:
            call = ToolCall(id=self.call_id, name=self.call_name, arguments="".join(self.arguments))
            return Choice(
                index=index,
                content=None,
                finish_reason=self.finish_reason,
                tool_calls=(call,),
                stop_sequence=self.stop_sequence,
            )
        return Choice(
            index=index,
            content="".join(self.content),
            finish_reason=self.finish_reason,
            stop_sequence=self.stop_sequence,
            logprobs=tuple(self.logprobs) if logprobs else None,
        )
