"""The local engine's queue, wait limit, cancellation and isolation between concurrent requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

import pytest

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest
from unigate.core.results import ChoiceDelta, StreamEvent, StreamStart
from unigate.errors import Overloaded, UpstreamError
from unigate.providers.local import LocalProvider
from unigate.providers.local.batch import BatchWorker

from .conftest import Ask

pytestmark = pytest.mark.model

NO_END = {0: -100.0, 2: -100.0, 4: -100.0}


def endless(ask: Ask) -> ChatRequest:
    """A request that would keep the worker busy for several seconds."""
    return ask("Tell me a very long story.", max_tokens=400, logit_bias=NO_END, temperature=0)


async def started(provider: LocalProvider, request: ChatRequest, spec: ModelSpec) -> AsyncGenerator[StreamEvent]:
    """A stream whose job a worker has taken (its first event arrived)."""
    stream = provider.stream(request, spec)
    assert isinstance(await anext(stream), StreamStart)
    return stream


async def time_to_start(provider: LocalProvider, spec: ModelSpec, ask: Ask) -> float:
    begin = time.monotonic()
    stream = await started(provider, ask("Hi", max_tokens=2), spec)
    elapsed = time.monotonic() - begin
    await stream.aclose()
    return elapsed


async def test_full_queue_and_long_wait_are_overloaded(busy: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    running = await started(busy, endless(ask), spec)
    waiting = asyncio.create_task(busy.complete(ask("Hi", max_tokens=2), spec))
    await asyncio.sleep(0.1)
    begin = time.monotonic()
    with pytest.raises(Overloaded) as full:
        await busy.complete(ask("Hi", max_tokens=2), spec)
    assert time.monotonic() - begin < 0.3  # refused at once, not after the 0.6s wait limit
    assert "queue is full" in full.value.message
    assert full.value.headers == {"Retry-After": "1"}
    with pytest.raises(Overloaded) as late:
        await waiting
    assert "waited more than 0.6s" in late.value.message
    assert late.value.headers == {"Retry-After": "1"}
    await running.aclose()
    # The expired job never ran: the worker is free for the next request at once.
    assert await time_to_start(busy, spec, ask) < 1.0


async def test_closing_a_stream_frees_the_worker(busy: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    stream = await started(busy, endless(ask), spec)
    for _ in range(3):
        assert isinstance(await anext(stream), ChoiceDelta)
    await stream.aclose()
    assert await time_to_start(busy, spec, ask) < 1.0


async def test_cancelling_the_task_frees_the_worker(busy: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    task = asyncio.create_task(busy.complete(endless(ask), spec))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await time_to_start(busy, spec, ask) < 1.0


async def test_cancelled_queued_job_is_dropped(busy: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    running = await started(busy, endless(ask), spec)
    queued = asyncio.create_task(busy.complete(ask("Hi", max_tokens=2), spec))
    await asyncio.sleep(0.05)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    # Its slot is free again: with max_queue=1 another job may wait.
    replacement = asyncio.create_task(busy.complete(ask("Hi", max_tokens=2), spec))
    await asyncio.sleep(0.05)
    await running.aclose()
    assert (await replacement).usage.completion_tokens > 0


PROMPTS = [("Name three fruits.", 1), ("What is two plus two?", 2), ("Describe a red car.", 3)]


@pytest.mark.parametrize("provider_name", ["local", "pair"])
async def test_concurrent_requests_do_not_interfere(
    provider_name: str, request: pytest.FixtureRequest, spec: ModelSpec, ask: Ask
) -> None:
    provider: LocalProvider = request.getfixturevalue(provider_name)
    requests = [ask(text, seed=seed, max_tokens=24, temperature=0.9) for text, seed in PROMPTS]
    alone = [(await provider.complete(r, spec)).choices[0].content for r in requests]
    together = await asyncio.gather(*(provider.complete(r, spec) for r in requests))
    assert [r.choices[0].content for r in together] == alone
    streamed = await asyncio.gather(*(_text(provider, r, spec) for r in reversed(requests)))
    assert streamed == alone[::-1]


async def _text(provider: LocalProvider, request: ChatRequest, spec: ModelSpec) -> str:
    return "".join([e.content or "" async for e in provider.stream(request, spec) if isinstance(e, ChoiceDelta)])


def running_jobs(provider: LocalProvider) -> int:
    return len(provider._engine._running)


async def test_requests_are_decoded_together(local: LocalProvider, spec: ModelSpec, ask: Ask) -> None:
    """A short request finishes while a long one is still generating: it did not queue behind it
    (one sequence at a time, it could only start once the long one had ended)."""
    long = await started(local, endless(ask), spec)
    assert isinstance(await anext(long), ChoiceDelta)
    short = await local.complete(ask("Hi", max_tokens=2, temperature=0), spec)
    assert short.usage.completion_tokens == 2
    assert running_jobs(local) == 1  # the long one, 400 tokens, still going
    await long.aclose()


async def test_a_worker_bug_fails_its_jobs_and_the_worker_keeps_serving(
    local: LocalProvider, spec: ModelSpec, ask: Ask, monkeypatch: pytest.MonkeyPatch
) -> None:
    step = BatchWorker._step
    broken: list[bool] = []

    def fails_once(worker: BatchWorker) -> None:
        if not broken:
            broken.append(True)
            raise RuntimeError("a bug")
        step(worker)

    monkeypatch.setattr(BatchWorker, "_step", fails_once)
    with pytest.raises(UpstreamError, match="failed while generating"):
        await local.complete(ask("Hi", max_tokens=4), spec)
    assert (await local.complete(ask("Hi", max_tokens=2, logit_bias=NO_END), spec)).usage.completion_tokens == 2
