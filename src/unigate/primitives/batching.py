"""Batching calls to a server: at most one call in flight per ``Batcher``; what callers queue
meanwhile goes in the next call, so batches grow with the load and the round trip (and, for a
database, the commit flush) is paid once per batch instead of once per request.

Used for PostgreSQL group commit (``storage/postgres.py``: reservations, and apart settlements,
each batch one call and one transaction) and for Redis rate-limit admissions
(``limits/redis.py``: one script call per batch).

A caller learns its outcome only after the call holding its item has returned, so for a database
durability is unchanged: nobody is told of a reservation or settlement before its transaction
is committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Batcher"]

T = TypeVar("T")

MAX_BATCH = 500


@dataclass(slots=True)
class _Queued(Generic[T]):
    item: T
    future: asyncio.Future[Any]
    abandoned: Callable[[Any], None] | None


class Batcher(Generic[T]):
    def __init__(self, run: Callable[[list[T]], Awaitable[Sequence[Any]]]) -> None:
        """``run(items)`` sends one batch and returns one outcome per item, in order: a value, or
        an ``Exception`` instance for an item that failed alone."""
        self._run = run
        self._queue: list[_Queued[T]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0

    def submit(self, item: T, *, abandoned: Callable[[Any], None] | None = None) -> asyncio.Future[Any]:
        """Queue ``item``; the future resolves once the call holding it has returned (for a
        database: once its transaction has committed).

        Without ``abandoned`` the item runs whatever happens to its caller. With it, the item is
        dropped if its caller left (the future was cancelled) before it was sent, and if the
        caller left while it was in flight, ``abandoned`` gets its outcome (to undo it)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(item, future, abandoned))
        if self._worker is None:
            self._worker = asyncio.create_task(self._drain())
        return future

    async def wait_idle(self) -> None:
        """Return once every queued item has been sent and its call has returned."""
        while self._worker is not None:
            await asyncio.wait([self._worker])

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                batch = [q for q in batch if not (q.abandoned is not None and q.future.cancelled())]
                if not batch:
                    continue
                try:
                    outcomes = await self._run([q.item for q in batch])
                except BaseException as exc:  # nothing of the batch happened (or we cannot know)
                    for q in batch:
                        if not q.future.done():
                            q.future.set_exception(exc if isinstance(exc, Exception) else ConnectionError(str(exc)))
                    if not isinstance(exc, Exception):
                        raise
                    continue
                self.batches += 1
                for q, outcome in zip(batch, outcomes, strict=True):
                    if q.future.done():  # the caller left; the item still happened
                        if q.abandoned is not None and not isinstance(outcome, Exception):
                            q.abandoned(outcome)
                        continue
                    if isinstance(outcome, Exception):
                        q.future.set_exception(outcome)
                    else:
                        q.future.set_result(outcome)
        finally:
            self._worker = None
