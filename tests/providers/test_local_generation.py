"""Text generation through ``LocalProvider``: sampling, limits, stop sequences, logprobs, usage."""

from __future__ import annotations

import math
import time
from dataclasses import replace

import pytest

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest, FunctionTool, Message, TextPart, ToolCall
from unigate.core.results import ChatResult, ChoiceDelta, StreamEvent, StreamStart, Usage
from unigate.errors import InvalidRequest
from unigate.providers.local import LocalProvider

from .conftest import Ask

pytestmark = pytest.mark.model

POEM = "Write a short poem about the sea."
NO_END = {0: -100.0, 2: -100.0, 4: -100.0}
"""logit_bias that bans SmolLM2's end-of-generation tokens, so generation runs to max_tokens."""


async def collect(provider: LocalProvider, request: ChatRequest, spec: ModelSpec) -> list[StreamEvent]:
    return [event async for event in provider.stream(request, spec)]


def streamed_text(events: list[StreamEvent], index: int = 0) -> str:
    return "".join(e.content or "" for e in events if isinstance(e, ChoiceDelta) and e.index == index)


def content(result: ChatResult, index: int = 0) -> str:
    text = result.choices[index].content
    assert text is not None
    return text


async def test_plain_completion(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    result = await local.complete(ask("What is the capital of France?", temperature=0), spec)
    assert result.model == spec.id
    assert len(result.choices) == 1
    choice = result.choices[0]
    assert content(result).strip()
    assert choice.finish_reason in ("stop", "length")
    assert choice.tool_calls == ()
    assert choice.logprobs is None
    assert result.usage.prompt_tokens > 0
    assert 0 < result.usage.completion_tokens <= 24


async def test_stream_is_incremental_and_matches_complete(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    request = ask(POEM, temperature=0, max_tokens=40, logit_bias=NO_END)
    start = time.monotonic()
    arrivals: list[float] = []
    events: list[StreamEvent] = []
    async for event in local.stream(request, spec):
        events.append(event)
        if isinstance(event, ChoiceDelta) and event.content:
            arrivals.append(time.monotonic() - start)
    total = time.monotonic() - start
    assert isinstance(events[0], StreamStart)
    assert events[0].model == spec.id
    assert isinstance(events[-1], Usage)
    assert len(arrivals) >= 10
    # Delivered as generated: the first piece arrives long before the last one.
    assert arrivals[0] < total * 0.7
    assert arrivals[-1] - arrivals[0] > total * 0.2
    finals = [e for e in events if isinstance(e, ChoiceDelta) and e.finish_reason]
    assert [e.finish_reason for e in finals] == ["length"]
    result = await local.complete(request, spec)
    assert streamed_text(events) == content(result)
    assert events[-1] == result.usage


async def test_max_tokens_gives_length_with_exactly_that_many_tokens(
    local: LocalProvider, spec: ModelSpec, ask: Ask
) -> None:
    result = await local.complete(ask(POEM, max_tokens=7, logit_bias=NO_END, seed=3), spec)
    assert result.choices[0].finish_reason == "length"
    assert result.usage.completion_tokens == 7


async def test_stop_sequence_is_cut_and_never_streamed(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    full = content(await local.complete(ask(POEM, temperature=0, max_tokens=30, logit_bias=NO_END), spec))
    words = full.split(" ")
    assert len(words) > 6
    # A stop string that spans several tokens, so the stream has to hold its first part back.
    stop = " ".join(words[3:5])
    expected = full[: full.index(stop)]
    request = ask(POEM, temperature=0, max_tokens=30, logit_bias=NO_END, stop=(stop, "never-seen"))
    result = await local.complete(request, spec)
    assert content(result) == expected
    assert (result.choices[0].finish_reason, result.choices[0].stop_sequence) == ("stop", stop)
    events = await collect(local, request, spec)
    assert streamed_text(events) == expected
    assert stop not in streamed_text(events)
    ends = [e for e in events if isinstance(e, ChoiceDelta) and e.finish_reason is not None]
    assert [(e.finish_reason, e.stop_sequence) for e in ends] == [("stop", stop)]


async def test_same_seed_same_output(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    first = await local.complete(ask(POEM, seed=1234, temperature=1.0, max_tokens=16), spec)
    await local.complete(ask("Something else entirely.", seed=9, max_tokens=4), spec)  # disturb the cache
    second = await local.complete(ask(POEM, seed=1234, temperature=1.0, max_tokens=16), spec)
    other = await local.complete(ask(POEM, seed=4321, temperature=1.0, max_tokens=16), spec)
    assert content(first) == content(second)
    assert content(first) != content(other)


async def test_n_choices_follow_seed_plus_index(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    both = await local.complete(ask(POEM, n=2, seed=50, max_tokens=12), spec)
    alone = [await local.complete(ask(POEM, seed=seed, max_tokens=12), spec) for seed in (50, 51)]
    assert [c.index for c in both.choices] == [0, 1]
    assert [content(both, i) for i in (0, 1)] == [content(r) for r in alone]
    assert both.usage.prompt_tokens == alone[0].usage.prompt_tokens  # the prompt is counted once
    assert both.usage.completion_tokens == sum(r.usage.completion_tokens for r in alone)
    events = await collect(local, ask(POEM, n=2, seed=50, max_tokens=12), spec)
    assert streamed_text(events, 0) == content(both, 0)
    assert streamed_text(events, 1) == content(both, 1)
    assert sorted(e.index for e in events if isinstance(e, ChoiceDelta) and e.finish_reason) == [0, 1]


async def test_logprobs_with_top_logprobs(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    request = ask(POEM, temperature=0, max_tokens=8, logprobs=True, top_logprobs=3)
    result = await local.complete(request, spec)
    entries = result.choices[0].logprobs
    assert entries is not None
    assert len(entries) == result.usage.completion_tokens or result.choices[0].finish_reason == "stop"
    assert "".join(e.token for e in entries) == content(result)
    for entry in entries:
        assert entry.logprob <= 0
        assert entry.bytes is not None
        assert bytes(entry.bytes).decode("utf-8", "replace") == entry.token
        tops = entry.top_logprobs
        assert len(tops) == 3
        assert [t.logprob for t in tops] == sorted((t.logprob for t in tops), reverse=True)
        assert all(t.logprob <= 0 for t in tops)
        assert sum(math.exp(t.logprob) for t in tops) <= 1.0 + 1e-6
        # Greedy decoding picks the most likely token, so it leads the top list.
        assert tops[0].token == entry.token
        assert tops[0].logprob == pytest.approx(entry.logprob)
    events = await collect(local, request, spec)
    streamed = [lp for e in events if isinstance(e, ChoiceDelta) for lp in e.logprobs or ()]
    assert streamed == list(entries)


async def test_prompt_longer_than_context_is_rejected(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    for model, words in ((spec, 1500), (replace(spec, context_length=64), 100)):
        with pytest.raises(InvalidRequest) as caught:
            await local.complete(ask("word " * words), model)
        assert caught.value.code == "context_length_exceeded"
        assert caught.value.param == "messages"


async def test_max_tokens_is_clamped_to_the_context(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    small = replace(spec, context_length=64)
    result = await local.complete(ask("Hello there", max_tokens=500, logit_bias=NO_END), small)
    assert result.choices[0].finish_reason == "length"
    assert result.usage.prompt_tokens + result.usage.completion_tokens == 64


def conversations(ask: Ask) -> list[ChatRequest]:
    weather = FunctionTool("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {}}})
    history = (
        Message("developer", (TextPart("Answer briefly. Ünïcödé ✓ 🚀"),)),
        Message("user", (TextPart("Weather in Oslo?"),)),
        Message("assistant", tool_calls=(ToolCall("call_1", "get_weather", '{"city": "Oslo"}'),)),
        Message("tool", (TextPart('{"temp": -3}'),), tool_call_id="call_1"),
    )
    return [
        ask("Hi"),
        ask("<|im_start|> special text, tabs\t\tand\nnewlines " * 5),
        ask("日本語のテキストと絵文字 🎉🎉", tools=(weather,)),
        ChatRequest(model="m", messages=history, tools=(weather,), max_tokens=1),
    ]


async def test_estimate_is_an_upper_bound(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    for request in conversations(ask):
        real = (await local.complete(replace(request, max_tokens=1), spec)).usage
        estimate = local.estimate_prompt_tokens(request, spec)
        assert real.prompt_tokens <= estimate, request
