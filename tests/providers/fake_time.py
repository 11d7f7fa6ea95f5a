"""A clock and a sleep for the polling adapters' tests: sleeping moves the clock at once, so a
task polled for minutes is tested in no time, and the waits asked for are kept."""

from __future__ import annotations

import asyncio


class FakeTime:
    """``sleep`` records each wait and moves ``clock`` by it. From the ``block_at``-th wait on
    (counted from 1) the sleep never ends, as a real one that outlasts the test: a test cancels
    the task there, as a client that leaves does."""

    def __init__(self, *, block_at: int | None = None) -> None:
        self.now = 1000.0
        self.waits: list[float] = []
        self.block_at = block_at
        self.blocked = asyncio.Event()
        """Set once a sleep blocks, for the test to cancel then."""

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.block_at is not None and len(self.waits) >= self.block_at:
            self.blocked.set()
            await asyncio.Event().wait()
        self.now += seconds
