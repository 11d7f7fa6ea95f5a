"""``LocalProvider``: the embedded llama.cpp model behind the ``Provider`` protocol.

The request becomes one engine job (prompt rendered with the model's own chat template, sampler
settings, an optional grammar); the engine's text chunks become ``ChoiceDelta``s through one
output shaper per choice. ``complete`` is ``stream`` folded up, so both always agree.

A legacy completion's ``raw_prompt`` is continued as it is, without the chat template.

Tool choice: ``required`` and a named function are enforced by a grammar; ``auto`` describes the
tools in the system prompt and generates freely, returning a call only when the whole reply is
one well-formed call (with a JSON ``response_format`` the grammar allows the content or a call).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from jsonschema import Draft202012Validator, SchemaError

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import (
    ChatRequest,
    FunctionTool,
    JsonObjectFormat,
    JsonSchemaFormat,
    NamedToolChoice,
    ToolCall,
)
from unigate.core.results import (
    ChatResult,
    Choice,
    ChoiceDelta,
    FinishReason,
    StreamEvent,
    StreamStart,
    TokenLogprob,
    ToolCallDelta,
    Usage,
)
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from unigate.primitives.ids import hex_id
from unigate.providers.local.engine import Generation, LocalEngine, PromptReady, SamplerSettings, TextChunk
from unigate.providers.local.grammar import SchemaNotSupported, grammar_for, tool_call_prefix
from unigate.providers.local.prompt import CHATML_TEMPLATE, ChatTemplate, parse_call, prompt_messages

__all__ = ["LocalProvider"]

_SCHEMA_PARAM = "response_format.json_schema.schema"
_NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
"""OpenAI: omitting ``parameters`` defines a function that takes no arguments."""

Reason = Literal["stop", "length"]
ContentCheck = Callable[[str], bool]


class LocalProvider:
    """Serves chat completions from a GGUF model in this process (see ``LocalEngine``)."""

    def __init__(
        self,
        *,
        model_path: Path,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        instances: int = 1,
        parallel: int = 4,
        max_queue: int = 64,
        max_wait_s: float = 30.0,
        name: str = "local",
    ) -> None:
        self.name = name
        self._engine = LocalEngine(
            model_path=model_path,
            n_ctx=n_ctx,
            n_threads=n_threads,
            instances=instances,
            parallel=parallel,
            max_queue=max_queue,
            max_wait_s=max_wait_s,
        )
        self._template: ChatTemplate | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self._engine.load)
        engine = self._engine
        source = engine.chat_template or CHATML_TEMPLATE
        self._template = ChatTemplate(source, bos_token=engine.bos_token, eos_token=engine.eos_token)

    async def close(self) -> None:
        await asyncio.to_thread(self._engine.shutdown)
        self._template = None

    def check(self, request: ChatRequest, model: ModelSpec) -> None:
        if request.n < 1:
            raise InvalidRequest("n must be at least 1.", param="n")
        if request.top_logprobs is not None and not 0 <= request.top_logprobs <= 20:
            raise InvalidRequest("top_logprobs must be between 0 and 20.", param="top_logprobs")
        bias = request.sampling.logit_bias or {}
        n_vocab = self._engine.n_vocab
        if n_vocab and any(not 0 <= token < n_vocab for token in bias):
            raise InvalidRequest(f"logit_bias token ids must be below {n_vocab}.", param="logit_bias")
        self._grammar(request)

    def estimate_prompt_tokens(self, request: ChatRequest, model: ModelSpec) -> int:
        """UTF-8 bytes of the rendered prompt, plus room for BOS/EOS.

        Every token of this byte-level BPE vocabulary spans at least one byte, so this bounds the
        real count from above without running the tokenizer. Before ``start`` (no template yet)
        it adds a generous allowance for template markup instead.
        """
        if request.raw_prompt is not None:
            return len(request.raw_prompt.encode("utf-8")) + 2
        if self._template is None:
            turns = prompt_messages(request)
            return sum(len(t["content"].encode()) + len(t["role"]) + 32 for t in turns) + 512
        return len(self._template.render_request(request).encode("utf-8")) + 2

    async def complete(self, request: ChatRequest, model: ModelSpec) -> ChatResult:
        choices = [_Collected() for _ in range(request.n)]
        usage = Usage()
        events = self.stream(request, model)
        try:
            async for event in events:
                if isinstance(event, ChoiceDelta):
                    choices[event.index].add(event)
                elif isinstance(event, Usage):
                    usage = event
        finally:
            await events.aclose()
        return ChatResult(
            model=model.id,
            choices=[c.choice(i, logprobs=request.logprobs) for i, c in enumerate(choices)],
            usage=usage,
        )

    async def stream(self, request: ChatRequest, model: ModelSpec) -> AsyncGenerator[StreamEvent, None]:
        if self._template is None:
            raise UpstreamError("The local model is not running.")
        generation = Generation(
            prompt=self._template.render_request(request) if request.raw_prompt is None else request.raw_prompt,
            n=request.n,
            max_tokens=_max_tokens(request, model),
            context_limit=model.context_length,
            sampler=_sampler(request),
            stop=request.sampling.stop,
            grammar=self._grammar(request),
            logprobs=request.logprobs,
            top_logprobs=(request.top_logprobs or 0) if request.logprobs else 0,
        )
        outputs = [self._output(request, i) for i in range(request.n)]
        usage = Usage()
        ended = 0
        handle = self._engine.submit(generation)
        try:
            async for event in handle:
                if isinstance(event, PromptReady):
                    usage.prompt_tokens = event.prompt_tokens
                    yield StreamStart(model=model.id)
                elif isinstance(event, TextChunk):
                    for delta in outputs[event.index].feed(event.text, event.logprobs):
                        yield delta
                else:
                    usage.completion_tokens += event.completion_tokens
                    ended += 1
                    for delta in outputs[event.index].end(event.finish_reason, event.stop_sequence):
                        yield delta
        finally:
            handle.cancel()
        if ended < request.n:
            raise UpstreamError("The local model stopped before finishing the reply.")
        yield usage

    def _grammar(self, request: ChatRequest) -> str | None:
        """The grammar the request needs, compiled (cached); raises for schemas we cannot enforce."""
        content = _content_schema(request)
        choice = request.effective_tool_choice()
        tools = {t.name: t for t in request.tools}
        for tool in request.tools:
            _validator(json.dumps(_parameters(tool)), param="tools")
        if isinstance(choice, NamedToolChoice):
            if choice.name not in tools:
                raise InvalidRequest(f"tool_choice names an unknown function {choice.name!r}.", param="tool_choice")
            return self._compile(content=_parameters(tools[choice.name]), compact=True, param="tools")
        if choice == "required":
            if not tools:
                raise InvalidRequest("tool_choice 'required' needs tools.", param="tool_choice")
            return self._compile(tools=_tool_schemas(request.tools), param="tools")
        if content is None:
            return None
        grammar = self._compile(content=content, param=_SCHEMA_PARAM)
        if choice == "auto" and tools:
            self._compile(tools=_tool_schemas(request.tools), param="tools")
            grammar = self._compile(content=content, tools=_tool_schemas(request.tools), param="tools")
        return grammar

    def _compile(
        self, *, content: Any = None, tools: Sequence[tuple[str, Any]] = (), compact: bool = False, param: str
    ) -> str:
        try:
            grammar = grammar_for(content=content, tools=tools, compact=compact)
        except SchemaNotSupported as exc:
            raise UnsupportedParameter(f"This schema is not supported by the local model: {exc}", param=param) from None
        if self._engine.loaded and not self._engine.grammar_parses(grammar):
            raise UnsupportedParameter("This schema is not supported by the local model.", param=param)
        return grammar

    def _output(self, request: ChatRequest, index: int) -> _Output:
        choice = request.effective_tool_choice()
        content = _Content(index, logprobs=request.logprobs, check=_content_check(request))
        if isinstance(choice, NamedToolChoice):
            tool = next(t for t in request.tools if t.name == choice.name)
            return _NamedCall(index, tool)
        if choice == "required":
            return _GrammarCall(index, request.tools, content=None)
        if choice == "auto" and request.tools:
            if _content_schema(request) is not None:
                return _GrammarCall(index, request.tools, content=content)
            return _AutoCall(index, request.tools, content=content)
        return content


def _content_schema(request: ChatRequest) -> Any:
    rf = request.response_format
    if isinstance(rf, JsonSchemaFormat):
        schema = rf.schema if rf.schema is not None else {"type": "object"}
        _validator(json.dumps(schema), param=_SCHEMA_PARAM)
        return schema
    if isinstance(rf, JsonObjectFormat):
        return {"type": "object"}
    return None


def _content_check(request: ChatRequest) -> ContentCheck | None:
    schema = _content_schema(request)
    if schema is None:
        return None
    validator = _validator(json.dumps(schema), param=_SCHEMA_PARAM)

    def check(text: str) -> bool:
        try:
            return bool(validator.is_valid(json.loads(text)))
        except ValueError:
            return False

    return check


@functools.lru_cache(maxsize=256)
def _cached_validator(schema_text: str) -> Draft202012Validator:
    schema = json.loads(schema_text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _validator(schema_text: str, *, param: str) -> Draft202012Validator:
    try:
        return _cached_validator(schema_text)
    except SchemaError as exc:
        raise InvalidRequest(f"Invalid JSON schema: {exc.message}", param=param) from None


def _parameters(tool: FunctionTool) -> dict[str, Any]:
    return tool.parameters if tool.parameters is not None else _NO_PARAMETERS


def _tool_schemas(tools: Sequence[FunctionTool]) -> list[tuple[str, Any]]:
    return [(t.name, _parameters(t)) for t in tools]


def _sampler(request: ChatRequest) -> SamplerSettings:
    s = request.sampling
    return SamplerSettings(
        temperature=1.0 if s.temperature is None else s.temperature,
        top_p=1.0 if s.top_p is None else s.top_p,
        top_k=s.top_k or 0,
        min_p=s.min_p or 0.0,
        repeat_penalty=s.repetition_penalty or 1.0,
        frequency_penalty=s.frequency_penalty or 0.0,
        presence_penalty=s.presence_penalty or 0.0,
        seed=s.seed,
        logit_bias=tuple(sorted((s.logit_bias or {}).items())),
    )


def _max_tokens(request: ChatRequest, model: ModelSpec) -> int | None:
    limits = [n for n in (request.max_tokens, model.max_output) if n is not None]
    return min(limits) if limits else None


def _call_id() -> str:
    return "call_" + hex_id(12)


def _invalid_output() -> UpstreamError:
    return UpstreamError("The local model produced output that does not match the requested format.")


class _Output(Protocol):
    """Shapes one choice's text into deltas; ``end`` gets how generation finished."""

    def feed(self, text: str, logprobs: tuple[TokenLogprob, ...]) -> list[ChoiceDelta]: ...

    def end(self, reason: Reason, cut: bool) -> list[ChoiceDelta]: ...


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

    def end(self, reason: Reason, cut: bool) -> list[ChoiceDelta]:
        # A grammar guarantees the JSON only when the model itself ended it (not length or a stop
        # string); failing then is our grammar's bug, never invalid JSON sent as "stop".
        if reason == "stop" and not cut and self._check is not None and not self._check("".join(self._text)):
            raise _invalid_output()
        return [ChoiceDelta(self._index, finish_reason=reason)]


class _NamedCall:
    """A forced call of one function: the grammar generates its arguments object directly."""

    def __init__(self, index: int, tool: FunctionTool) -> None:
        self._index = index
        self._tool = tool
        self._arguments: list[str] = []

    def feed(self, text: str, logprobs: tuple[TokenLogprob, ...]) -> list[ChoiceDelta]:
        first = not self._arguments
        self._arguments.append(text)
        delta = ToolCallDelta(0, _call_id(), self._tool.name, text) if first else ToolCallDelta(0, arguments=text)
        return [ChoiceDelta(self._index, tool_calls=(delta,))]

    def end(self, reason: Reason, cut: bool) -> list[ChoiceDelta]:
        deltas = [] if self._arguments else self.feed("", ())
        complete = reason == "stop" and not cut
        if complete and not _valid_arguments("".join(self._arguments), self._tool):
            raise _invalid_output()
        return [*deltas, ChoiceDelta(self._index, finish_reason="tool_calls" if complete else reason)]


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
                header = ChoiceDelta(self._index, tool_calls=(ToolCallDelta(0, _call_id(), tool.name),))
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

    def end(self, reason: Reason, cut: bool) -> list[ChoiceDelta]:
        complete = reason == "stop" and not cut
        if self._state != "call":
            if self._content is None:
                if complete:  # the grammar allows nothing but a call
                    raise _invalid_output()
                return [ChoiceDelta(self._index, finish_reason=reason)]
            deltas = (
                []
                if self._state == "content" or not self._buffer
                else self._content.feed(self._buffer, tuple(self._held))
            )
            return [*deltas, *self._content.end(reason, cut)]
        assert self._tool is not None
        arguments = self._arguments
        if complete:
            if not arguments.endswith("}") or not _valid_arguments(arguments[:-1], self._tool):
                raise _invalid_output()
            arguments = arguments[:-1]
        tail = arguments[self._sent :]
        deltas = [ChoiceDelta(self._index, tool_calls=(ToolCallDelta(0, arguments=tail),))] if tail else []
        return [*deltas, ChoiceDelta(self._index, finish_reason="tool_calls" if complete else reason)]


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

    def end(self, reason: Reason, cut: bool) -> list[ChoiceDelta]:
        if self._state == "json" and reason == "stop":
            call = parse_call(self._buffer.strip(), self._tools)
            if call is not None:
                name, arguments = call
                delta = ToolCallDelta(0, _call_id(), name, arguments)
                return [
                    ChoiceDelta(self._index, tool_calls=(delta,)),
                    ChoiceDelta(self._index, finish_reason="tool_calls"),
                ]
        return [*self._flush(), *self._content.end(reason, cut)]

    def _flush(self) -> list[ChoiceDelta]:
        text, logprobs = self._buffer, tuple(self._held)
        self._buffer, self._held = "", []
        return self._content.feed(text, logprobs) if text or logprobs else []


def _valid_arguments(text: str, tool: FunctionTool) -> bool:
    try:
        arguments = json.loads(text)
    except ValueError:
        return False
    return isinstance(arguments, dict) and bool(Draft202012Validator(_parameters(tool)).is_valid(arguments))


class _Collected:
    """One choice folded from its deltas, for ``complete``."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.logprobs: list[TokenLogprob] = []
        self.call_id = ""
        self.call_name = ""
        self.arguments: list[str] = []
        self.is_call = False
        self.finish_reason: FinishReason = "stop"

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

    def choice(self, index: int, *, logprobs: bool) -> Choice:
        if self.is_call:
            call = ToolCall(id=self.call_id, name=self.call_name, arguments="".join(self.arguments))
            return Choice(index=index, content=None, finish_reason=self.finish_reason, tool_calls=(call,))
        return Choice(
            index=index,
            content="".join(self.content),
            finish_reason=self.finish_reason,
            logprobs=tuple(self.logprobs) if logprobs else None,
        )
