"""The speech models' worker lane (``providers/speech_local/lane.py``) with jobs that block until
the test lets them go: the bounded queue, the wait limit, cancellation, a failed load, closing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable

import pytest

from unigate.errors import Overloaded, UpstreamError
from unigate.providers.speech_local.lane import DONE, Lane, Ticket


@pytest.fixture
async def lane() -> AsyncIterator[Lane[str]]:
    lane: Lane[str] = Lane("test model", thread="test-lane", max_queue=2, max_wait_s=30)
    lane.start(lambda: "model", eager=False)
    yield lane
    await lane.close()


def gated(gate: threading.Event, ran: list[str], name: str) -> Callable[[Ticket], None]:
    """A job that waits for ``gate``, then posts ``name`` (noting that it ran)."""

    def job(ticket: Ticket) -> None:
        ran.append(name)
        gate.wait(10)
        ticket.post(name)

    return job


async def test_one_more_than_max_queue_is_refused_at_once(lane: Lane[str]) -> None:
    gate, ran = threading.Event(), list[str]()
    first = lane.submit(gated(gate, ran, "a"))
    second = lane.submit(gated(gate, ran, "b"))
    with pytest.raises(Overloaded) as caught:
        lane.submit(gated(gate, ran, "c"))
    assert caught.value.status == 503
    assert caught.value.headers == {"Retry-After": "1"}
    gate.set()
    assert [await first.next(), await first.next()] == ["a", DONE]
    assert [await second.next(), await second.next()] == ["b", DONE]
    third = lane.submit(gated(gate, ran, "c"))  # room again once they are done
    assert await third.next() == "c"
    assert ran == ["a", "b", "c"]


async def test_a_job_cancelled_while_queued_never_runs(lane: Lane[str]) -> None:
    gate, ran = threading.Event(), list[str]()
    running = lane.submit(gated(gate, ran, "a"))
    queued = lane.submit(gated(gate, ran, "b"))
    queued.cancel()
    with pytest.raises(UpstreamError):
        await queued.next()
    assert await queued.next() is DONE
    lane.submit(gated(gate, ran, "c"))  # its place is free at once
    gate.set()
    assert await running.next() == "a"
    await asyncio.sleep(0.2)
    assert ran == ["a", "c"]


async def test_a_running_job_sees_its_cancellation(lane: Lane[str]) -> None:
    started, steps = threading.Event(), list[int]()

    def job(ticket: Ticket) -> None:
        started.set()
        for step in range(200):
            if ticket.cancelled.is_set():
                return
            steps.append(step)
            threading.Event().wait(0.01)

    ticket = lane.submit(job)
    await asyncio.to_thread(started.wait, 5)
    ticket.cancel()
    assert await asyncio.wait_for(ticket.next(), 5) is DONE
    assert 0 < len(steps) < 200


async def test_a_job_that_waited_too_long_gets_a_503_instead_of_running() -> None:
    lane: Lane[str] = Lane("test model", thread="test-lane", max_queue=4, max_wait_s=0.2)
    lane.start(lambda: "model", eager=False)
    gate, ran = threading.Event(), list[str]()
    try:
        lane.submit(gated(gate, ran, "a"))
        late = lane.submit(gated(gate, ran, "b"))
        await asyncio.sleep(0.4)
        gate.set()
        with pytest.raises(Overloaded, match=r"waited more than 0\.2s"):
            await late.next()
        assert ran == ["a"]
    finally:
        await lane.close()


async def test_jobs_get_the_model_and_a_failed_load_is_each_requests_error() -> None:
    loads: list[int] = []

    def broken() -> str:
        loads.append(1)
        raise OSError("model.bin is truncated")

    lane: Lane[str] = Lane("test model", thread="test-lane", max_queue=4, max_wait_s=30)
    lane.start(broken, eager=False)
    try:
        for _ in range(2):
            ticket = lane.submit(lambda t: t.post(lane.model()))
            with pytest.raises(UpstreamError, match=r"The test model failed to load: model\.bin is truncated"):
                await ticket.next()
        assert loads == [1]  # tried once, not per request
    finally:
        await lane.close()


async def test_an_eager_start_loads_before_the_first_job(lane: Lane[str]) -> None:
    eager: Lane[str] = Lane("test model", thread="test-lane", max_queue=4, max_wait_s=30)
    loaded = eager.start(lambda: "loaded", eager=True)
    assert loaded is not None
    await asyncio.wrap_future(loaded)
    ticket = eager.submit(lambda t: t.post(eager.model()))
    assert await ticket.next() == "loaded"
    await eager.close()


async def test_an_unexpected_error_is_a_502_naming_the_model(lane: Lane[str]) -> None:
    def job(ticket: Ticket) -> None:
        raise RuntimeError("onnxruntime said no")

    ticket = lane.submit(job)
    with pytest.raises(UpstreamError, match="The test model failed: RuntimeError: onnxruntime said no"):
        await ticket.next()
    assert await ticket.next() is DONE


async def test_closing_ends_the_waiting_jobs_and_refuses_new_ones() -> None:
    lane: Lane[str] = Lane("test model", thread="test-lane", max_queue=4, max_wait_s=30)
    lane.start(lambda: "model", eager=False)
    gate, ran = threading.Event(), list[str]()
    running = lane.submit(gated(gate, ran, "a"))
    waiting = lane.submit(gated(gate, ran, "b"))
    closing = asyncio.create_task(lane.close())
    await asyncio.sleep(0.1)
    gate.set()
    await closing
    assert await running.next() == "a"
    with pytest.raises(UpstreamError, match="stopped before this request ran"):
        await waiting.next()
    with pytest.raises(UpstreamError, match="not running"):
        lane.submit(gated(gate, ran, "c"))
    assert ran == ["a"]
