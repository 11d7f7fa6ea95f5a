"""The embedded model's context (``providers/local/context.py``): the exact prompt count that
``count_tokens`` gives and a reply reports, and the refusal of a prompt that does not fit, with
the sizes named, before the job is queued; Claude Code's recorded first request is the oversized
one."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

import pytest

from tests.providers.agent_requests import claude_code_body
from unigate.api.anthropic.schema import MessagesRequest
from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest, FunctionTool, Message, TextPart
from unigate.core.provider import TokenCounter
from unigate.errors import ContextLengthExceeded, Overloaded
from unigate.providers.local import LocalProvider

from .conftest import Ask
from .test_local_generation import NO_END

pytestmark = pytest.mark.model

WEATHER = FunctionTool("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {}}})
REFUSAL = re.compile(
    r"This model's maximum context length is (\d+) tokens\. However, your messages resulted in (\d+) tokens"
    r" \((\d+) in the messages, (\d+) in the tools\)\. Please reduce the length of the messages or tools\."
)


def claude_code_request() -> ChatRequest:
    """As ``/v1/messages`` reads it (its fields without a canonical place kept aside)."""
    body = claude_code_body("smollm2-135m")
    wire = MessagesRequest.model_validate(body)
    return wire.to_canonical(require_max_tokens=True, extensions=wire.extensions(body, {}))


async def test_the_count_is_what_a_reply_reports(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    assert isinstance(local, TokenCounter)
    for request in (
        ask("Hi"),
        ask("Weather in Oslo?", tools=(WEATHER,)),
        replace(ask("x"), messages=(Message("system", (TextPart("Be brief."),)), Message("user", (TextPart("Hi"),)))),
        replace(ask(""), raw_prompt="Once upon a time"),
    ):
        counted = await local.count_tokens(request, spec)
        result = await local.complete(replace(request, max_tokens=1), spec)
        assert counted == result.usage.prompt_tokens > 0
        assert counted <= local.estimate_prompt_tokens(request, spec)  # the estimate bounds it


async def test_claude_codes_first_request_is_refused_naming_the_sizes(local: LocalProvider, spec: ModelSpec) -> None:
    request = claude_code_request()
    counted = await local.count_tokens(request, spec)
    with pytest.raises(ContextLengthExceeded) as caught:
        await local.complete(request, spec)
    error = caught.value
    assert (error.status, error.code, error.param) == (400, "context_length_exceeded", "messages")
    match = REFUSAL.fullmatch(error.message)
    assert match is not None, error.message
    limit, total, messages, tools = (int(g) for g in match.groups())
    assert (limit, total) == (1024, counted)  # the engine's context: the fixture loads 1024 cells
    assert messages + tools == total
    without_tools = await local.count_tokens(replace(request, tools=(), tool_choice=None), spec)
    assert abs(messages - without_tools) < 64  # the tools' share, counted apart, up to the template's markup


async def test_a_prompt_that_takes_the_whole_context_leaves_no_room(
    local: LocalProvider, spec: ModelSpec, ask: Ask
) -> None:
    request = ask("Hello there, how are you today?", max_tokens=50, logit_bias=NO_END)
    size = await local.count_tokens(request, spec)
    with pytest.raises(ContextLengthExceeded) as caught:
        await local.complete(request, replace(spec, context_length=size))
    said = f"is {size} tokens. However, your messages resulted in {size} tokens, which leave no room for a reply."
    assert said in caught.value.message
    # One token of room: max_tokens reaches past the context, and the reply stops at its end.
    result = await local.complete(request, replace(spec, context_length=size + 1))
    assert (result.choices[0].finish_reason, result.usage.completion_tokens) == ("length", 1)


async def test_a_legacy_prompt_is_named_as_such(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    with pytest.raises(ContextLengthExceeded) as caught:
        await local.complete(replace(ask(""), raw_prompt="word " * 1500), spec)
    assert caught.value.param == "prompt"
    assert "However, your prompt resulted in" in caught.value.message
    assert "in the tools" not in caught.value.message


async def test_the_refusal_comes_before_the_queue(busy: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    running = busy.stream(ask("Tell me a very long story.", max_tokens=400, logit_bias=NO_END), spec)
    await anext(running)  # the only sequence is taken...
    queued = asyncio.create_task(busy.complete(ask("Hi", max_tokens=2), spec))
    await asyncio.sleep(0.1)  # ...and the only place in the queue
    with pytest.raises(Overloaded):
        await busy.complete(ask("Hi", max_tokens=2), spec)
    with pytest.raises(ContextLengthExceeded):
        await busy.complete(claude_code_request(), spec)  # refused for its size, not for the queue
    queued.cancel()
    await running.aclose()
    await asyncio.gather(queued, return_exceptions=True)
