"""Structured output from the local model parses and validates at any ``max_tokens`` that holds the
shortest value (issue 22, item 2): JSON content, a JSON schema with required nested properties,
and forced tool calls, streamed and not, all running together in one batch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest, JsonObjectFormat, JsonSchemaFormat, NamedToolChoice
from unigate.core.results import ChoiceDelta, Usage
from unigate.errors import InvalidRequest
from unigate.providers.local import LocalProvider

from .conftest import Ask, open_provider
from .test_local_structured import TIME, WEATHER

pytestmark = pytest.mark.model

HOME: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "home": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "floor": {"type": "integer", "minimum": 0, "maximum": 99}},
            "required": ["city", "floor"],
        },
    },
    "required": ["name", "home"],
    "additionalProperties": False,
}
"""Its shortest value, ``{"name":"","home":{"city":"","floor":0}}``, takes 14 tokens."""


@pytest.fixture(scope="module")
def batched() -> Iterator[LocalProvider]:
    """Four sequences decoded together; one thread, which stays fast on a shared, busy machine."""
    yield from open_provider(n_ctx=1024, n_threads=1, parallel=4)


def cases(ask: Ask) -> list[tuple[ChatRequest, Any]]:
    """(request, schema its output must validate against); every budget below what the model
    would write, so each choice is closed by the budget."""
    cat, person, weather = "Describe a cat as JSON.", "Describe a person and their home as JSON.", "Weather in Paris?"
    tools, forced = (WEATHER, TIME), NamedToolChoice("get_weather")
    return [
        (ask(cat, response_format=JsonObjectFormat(), max_tokens=5, n=2, seed=7), {"type": "object"}),
        (ask(cat, response_format=JsonObjectFormat(), max_tokens=20, seed=7, logprobs=True), {"type": "object"}),
        (ask(person, response_format=JsonSchemaFormat("person", HOME), max_tokens=20, seed=7), HOME),
        (ask(weather, tools=tools, tool_choice=forced, max_tokens=10, seed=7), WEATHER.parameters),
        (ask(weather, tools=tools, tool_choice="required", max_tokens=20, seed=7), None),
    ]


async def streamed(provider: LocalProvider, request: ChatRequest, spec: ModelSpec) -> list[tuple[str, str, str]]:
    """(text or arguments, tool name, finish_reason) of each choice, folded from the stream."""
    texts: dict[int, list[str]] = {}
    names: dict[int, str] = {}
    reasons: dict[int, str] = {}
    async for event in provider.stream(request, spec):
        if isinstance(event, ChoiceDelta):
            texts.setdefault(event.index, []).append(event.content or "")
            for call in event.tool_calls:
                texts[event.index].append(call.arguments)
                names[event.index] = call.name or names.get(event.index, "")
            if event.finish_reason is not None:
                reasons[event.index] = event.finish_reason
        elif isinstance(event, Usage):
            assert event.completion_tokens <= request.n * (request.max_tokens or 0)
    return [("".join(texts[i]), names.get(i, ""), reasons[i]) for i in range(request.n)]


async def completed(provider: LocalProvider, request: ChatRequest, spec: ModelSpec) -> list[tuple[str, str, str]]:
    result = await provider.complete(request, spec)
    assert result.usage.completion_tokens <= request.n * (request.max_tokens or 0)
    folded: list[tuple[str, str, str]] = []
    for choice in result.choices:
        if request.logprobs:  # the closing's tokens were decoded too: their logprobs are the model's
            assert "".join(entry.token for entry in choice.logprobs or ()) == choice.content
        (call,) = choice.tool_calls or (None,)
        text = choice.content if call is None else call.arguments
        folded.append((text or "", "" if call is None else call.name, choice.finish_reason))
    return folded


async def test_output_closes_within_small_budgets_streamed_and_not(
    batched: LocalProvider, spec: ModelSpec, ask: Ask
) -> None:
    seeded = cases(ask)
    for request, _ in seeded:
        batched.check(request, spec)
    # Five jobs at once, so closing runs per choice within the batch; the streams first, then the
    # same requests whole, which find their prompts still cached.
    streams = await asyncio.gather(*(streamed(batched, request, spec) for request, _ in seeded))
    completes = await asyncio.gather(*(completed(batched, request, spec) for request, _ in seeded))
    tools: dict[str, Any] = {t.name: t.parameters for t in (WEATHER, TIME)}
    for (request, schema), stream, complete in zip(seeded, streams, completes, strict=True):
        assert stream == complete  # the same seed: the same choices either way
        for text, name, reason in complete:
            value = json.loads(text)
            assert Draft202012Validator(schema or tools[name]).is_valid(value), text
            assert reason == "length", (request.max_tokens, text)  # the budget ended it, not the model


async def test_a_budget_below_the_shortest_value_is_refused(batched: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    request = ask("Describe a person as JSON.", response_format=JsonSchemaFormat("person", HOME), max_tokens=13)
    with pytest.raises(InvalidRequest) as caught:
        batched.check(request, spec)
    assert caught.value.param == "max_tokens"
    assert "14 tokens" in str(caught.value)
    enough = ask("Describe a person as JSON.", response_format=JsonSchemaFormat("person", HOME), max_tokens=14)
    batched.check(enough, spec)
    batched.check(ask("Describe a cat as JSON.", response_format=JsonObjectFormat(), max_tokens=1), spec)
