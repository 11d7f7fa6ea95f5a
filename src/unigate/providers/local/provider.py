"""``LocalProvider``: the embedded llama.cpp model behind the ``Provider`` protocol.

The request becomes one engine job (prompt rendered with the model's own chat template, sampler
settings, an optional grammar); the engine's text chunks become ``ChoiceDelta``s through one
output shaper per choice (``outputs.py``). ``complete`` is ``stream`` folded up, so both always
agree.

A legacy completion's ``raw_prompt`` is continued as it is, without the chat template.

The prompt is counted exactly before it is queued, and refused when it does not fit the context;
a reply whose ``max_tokens`` reaches past it ends there (``context.py``). ``count_tokens`` gives
the same count to ``/v1/messages/count_tokens``.

Tool choice: ``required`` and a named function are enforced by a grammar; ``auto`` describes the
tools in the system prompt and generates freely, returning a call only when the whole reply is
one well-formed call (with a JSON ``response_format`` the grammar allows the content or a call).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Any

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest, NamedToolChoice
from unigate.core.results import ChatResult, ChoiceDelta, StreamEvent, StreamStart, Usage
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from unigate.providers.local.closing import shortest_value
from unigate.providers.local.context import context_exceeded, context_limit
from unigate.providers.local.engine import LocalEngine
from unigate.providers.local.grammar import SchemaNotSupported, grammar_for
from unigate.providers.local.jobs import Generation, PromptReady, SamplerSettings, TextChunk
from unigate.providers.local.outputs import Collected, output_for
from unigate.providers.local.prompt import CHATML_TEMPLATE, ChatTemplate, prompt_messages, tool_instructions
from unigate.providers.local.schemas import SCHEMA_PARAM, content_schema, parameters, tool_schemas, validator

__all__ = ["LocalProvider"]


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
        grammar = self._grammar(request)
        limit = _max_tokens(request, model)
        if grammar is not None and limit is not None and self._engine.loaded:
            # closing.py ends the value within the budget, which must hold its shortest text.
            need = self._engine.count_tokens(shortest_value(grammar))
            if need > limit:
                raise InvalidRequest(
                    f"max_tokens is {limit}, but the shortest output the requested format allows takes {need} tokens.",
                    param="max_tokens",
                )

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
        choices = [Collected() for _ in range(request.n)]
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

    async def count_tokens(self, request: ChatRequest, model: ModelSpec) -> int:
        """The prompt's exact size: what a reply to ``request`` reports as its prompt tokens."""
        return len(await asyncio.to_thread(self._prompt_tokens, request))

    def _prompt_tokens(self, request: ChatRequest) -> tuple[int, ...]:
        """The prompt rendered and tokenized (in a thread: both are slow on a long prompt)."""
        if self._template is None:
            raise UpstreamError("The local model is not running.")
        raw = request.raw_prompt
        return self._engine.prompt_tokens(self._template.render_request(request) if raw is None else raw)

    async def _measured(self, request: ChatRequest, model: ModelSpec) -> tuple[int, ...]:
        """The prompt's token ids, once they are known to fit the context (``context.py``)."""
        tokens = await asyncio.to_thread(self._prompt_tokens, request)
        limit = context_limit(self._engine.n_ctx, model.context_length)
        if len(tokens) < limit:
            return tokens
        raw = request.raw_prompt is not None
        shown = None if raw else tool_instructions(request.tools, request.effective_tool_choice())
        tools = 0 if shown is None else await asyncio.to_thread(self._engine.count_tokens, shown)
        raise context_exceeded(limit, len(tokens), tools=min(tools, len(tokens)), raw=raw)

    async def stream(self, request: ChatRequest, model: ModelSpec) -> AsyncGenerator[StreamEvent, None]:
        generation = Generation(
            tokens=await self._measured(request, model),
            n=request.n,
            max_tokens=_max_tokens(request, model),
            context_limit=model.context_length,
            sampler=_sampler(request),
            stop=request.sampling.stop,
            grammar=self._grammar(request),
            logprobs=request.logprobs,
            top_logprobs=(request.top_logprobs or 0) if request.logprobs else 0,
        )
        outputs = [output_for(request, i) for i in range(request.n)]
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
                    for delta in outputs[event.index].end(
                        event.finish_reason, event.stop_sequence, closed=event.closed
                    ):
                        yield delta
        finally:
            handle.cancel()
        if ended < request.n:
            raise UpstreamError("The local model stopped before finishing the reply.")
        yield usage

    def _grammar(self, request: ChatRequest) -> str | None:
        """The grammar the request needs, compiled (cached); raises for schemas we cannot enforce."""
        content = content_schema(request)
        choice = request.effective_tool_choice()
        tools = {t.name: t for t in request.tools}
        for tool in request.tools:
            validator(json.dumps(parameters(tool)), param="tools")
        if isinstance(choice, NamedToolChoice):
            if choice.name not in tools:
                raise InvalidRequest(f"tool_choice names an unknown function {choice.name!r}.", param="tool_choice")
            return self._compile(content=parameters(tools[choice.name]), compact=True, param="tools")
        if choice == "required":
            if not tools:
                raise InvalidRequest("tool_choice 'required' needs tools.", param="tool_choice")
            return self._compile(tools=tool_schemas(request.tools), param="tools")
        if content is None:
            return None
        grammar = self._compile(content=content, param=SCHEMA_PARAM)
        if choice == "auto" and tools:
            self._compile(tools=tool_schemas(request.tools), param="tools")
            grammar = self._compile(content=content, tools=tool_schemas(request.tools), param="tools")
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
        try:
            shortest_value(grammar)
        except (ValueError, RecursionError):
            raise UnsupportedParameter("This schema accepts no value of finite size.", param=param) from None
        return grammar


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
