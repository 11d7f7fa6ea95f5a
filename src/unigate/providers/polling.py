"""Waiting for an upstream's task: the image upstreams that answer a submission with a task id
(DashScope's Wan text-to-image, fal's queue, Black Forest Labs) are asked again and again until
the task ends, with a growing wait between two questions and an overall deadline.

``poll(check, policy=...)`` calls ``check`` after each wait; ``check`` returns the task's outcome
once it has ended (or raises its failure), ``None`` while it runs. The waits start at
``first_s``, grow by ``factor`` up to ``max_interval_s``; a wait that would end past
``deadline_s`` after the start raises ``UpstreamTimeout`` instead (504), so a task that never ends
never holds a request, or its credit reservation, for longer.

Cancellation is the caller's: the client left, the gateway cancels the awaiting task, the
pending ``sleep`` (or the pending ``check``) raises ``CancelledError`` and nothing is asked again.
Each adapter passes a ``sleep`` and a ``clock`` it was given, so tests neither wait nor depend on
the time it takes them to run.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from unigate.errors import UpstreamTimeout

__all__ = ["Clock", "PollPolicy", "poll"]

T = TypeVar("T")

Clock = Callable[[], float]
"""Seconds on a clock that only moves forward (``time.monotonic``)."""


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How often a task is asked about, and for how long at most."""

    first_s: float = 1.0
    """The wait before the first question: no task ends at once."""
    factor: float = 1.5
    max_interval_s: float = 5.0
    deadline_s: float = 300.0
    """Counted from the first wait; below the upstream total timeout and the reservation TTL."""


async def poll(
    check: Callable[[], Awaitable[T | None]],
    *,
    policy: PollPolicy,
    sleep: Callable[[float], Awaitable[None]],
    clock: Clock = time.monotonic,
    what: str,
) -> T:
    """Ask ``check`` after each wait of ``policy`` until it returns an outcome; ``what`` names the
    task in the timeout's message (``"The fal provider's request abc"``)."""
    start = clock()
    delay = policy.first_s
    while True:
        if clock() - start + delay > policy.deadline_s:
            raise UpstreamTimeout(f"{what} did not finish within {policy.deadline_s:g} s.")
        await sleep(delay)
        outcome = await check()
        if outcome is not None:
            return outcome
        delay = min(delay * policy.factor, policy.max_interval_s)
