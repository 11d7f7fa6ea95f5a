"""Group commit for PostgreSQL: the reservations and settlements a process queued while its
previous call was in flight go in one call and one transaction, both kinds together
(``primitives/batching.py``; ``unigate_tick``, migration 6), on a connection of its own
(``lane.py``).

Every reservation of an account updates its balance row, so one transaction per request would
queue on that row's lock, each holding it until its commit is flushed, and cap an account's
throughput whatever the replicas. A batch writes each account's balance once (migration 5), and
a call costs the client more CPU than the few items it carries. An item the database refuses
fails the whole call, which then did nothing, and the items go again one by one (``run``). Rows
are locked in one order everywhere (migration 4): a batch goes sorted by (account, key), and
``unigate_tick`` takes the accounts of both kinds of items in ascending order, since batches of
two replicas that lock in request order deadlock, and PostgreSQL's abort would lose the
settlements of one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from unigate.accounts.store import ApiKey, Refusal, Reservation, Settlement
from unigate.primitives.batching import Batcher
from unigate.primitives.ids import hex_id
from unigate.primitives.records import record
from unigate.storage.postgres.lane import Lane

__all__ = ["DEADLOCK_ATTEMPTS", "GroupCommit"]

log = logging.getLogger("unigate.storage")

DEADLOCK_ATTEMPTS = 3
"""Calls of one batch that PostgreSQL may abort for a deadlock before its callers get the error."""

_REFUSALS = {1: Refusal.KEY_REVOKED, 2: Refusal.KEY_LIMIT, 3: Refusal.BALANCE}


@record
class _Reserve:
    id: str
    key: ApiKey
    amount: int
    model: str
    ttl_s: float

    @property
    def lock_order(self) -> tuple[int, int]:
        return self.key.account_id, self.key.id


@record
class _Settle:
    reservation: Reservation
    settlement: Settlement

    @property
    def lock_order(self) -> tuple[int, int]:
        return self.reservation.account_id, self.reservation.key_id


def _in_lock_order(item: tuple[int, _Reserve | _Settle]) -> tuple[int, int]:
    return item[1].lock_order


_TICK = "SELECT * FROM unigate_tick($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"


def _tick_arguments(settles: list[_Settle], reserves: list[_Reserve]) -> list[list[Any]]:
    """``unigate_tick``'s columns: the settlements, then the reservations, each list in lock order."""
    held = [x.reservation for x in settles]
    charges = [x.settlement for x in settles]
    return [
        [r.account_id for r in held],
        [r.id for r in held],
        [c.credits for c in charges],
        [c.model for c in charges],
        [c.prompt_tokens for c in charges],
        [c.completion_tokens for c in charges],
        [c.latency_ms for c in charges],
        [c.status for c in charges],
        [x.key.account_id for x in reserves],
        [x.id for x in reserves],
        [x.key.id for x in reserves],
        [x.amount for x in reserves],
        [x.model for x in reserves],
        [x.ttl_s for x in reserves],
    ]


class GroupCommit:
    def __init__(self, url: str, *, command_timeout: float, settled: Callable[[int], None]) -> None:
        self._lane = Lane(url, command_timeout=command_timeout)
        self._settled = settled
        self.batcher = Batcher[_Reserve | _Settle](self.run)

    async def reserve(self, *, key: ApiKey, amount: int, ttl_s: float, model: str) -> Reservation | Refusal:
        item = _Reserve(hex_id(12), key, amount, model, float(ttl_s))

        def release(outcome: int) -> None:
            # Committed for a caller that left before it saw it: released now, not at the sweep.
            if outcome == 0:
                held = Reservation(item.id, key.account_id, key.id, amount)
                self.batcher.submit(_Settle(held, Settlement(model, 0, 0, 0, 0, "cancelled")))

        queued = self.batcher.submit(item, abandoned=release)
        try:
            outcome: int = await queued
        except asyncio.CancelledError:
            if queued.done() and not queued.cancelled() and queued.exception() is None:
                release(queued.result())  # it resolved, but the caller was cancelled before resuming
            raise
        if outcome != 0:
            return _REFUSALS[outcome]
        return Reservation(item.id, key.account_id, key.id, amount)

    async def settle(self, reservation: Reservation, settlement: Settlement) -> None:
        # Not skipped if the caller is cancelled while it waits: a settlement always happens.
        await self.batcher.submit(_Settle(reservation, settlement))

    async def close(self) -> None:
        # A call in flight (a settlement of a caller that left, say) finishes before the lane closes.
        await self.batcher.wait_idle()
        await self._lane.close()

    async def run(self, items: list[_Reserve | _Settle]) -> list[int | Exception]:
        """One call for a batch of reservations and settlements (``unigate_tick``); each item's
        outcome in the batch's order: a reservation's refusal code (0 when held), a settlement's
        charge (-1 when its reservation was gone). A deadlock, with a statement outside the lock
        order say, aborts the whole call: it did nothing, so it runs again. So does an item the
        database refuses (a constraint, a value out of range): the call did nothing, and its items
        go again one by one, so that the failure stays with its own item."""
        settles = sorted(((i, x) for i, x in enumerate(items) if isinstance(x, _Settle)), key=_in_lock_order)
        reserves = sorted(((i, x) for i, x in enumerate(items) if isinstance(x, _Reserve)), key=_in_lock_order)
        arguments = _tick_arguments([x for _, x in settles], [x for _, x in reserves])
        try:
            row = await self._call_retrying_deadlocks(arguments, len(items))
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
            if len(items) == 1:
                return [RuntimeError(f"the database refused the operation: {exc}")]
            return [(await self.run([item]))[0] for item in items]
        if settles:
            self._settled(len(settles))
        outcomes: list[int | Exception] = [0] * len(items)
        for (position, _), charged in zip(settles, row["settled"], strict=True):
            outcomes[position] = int(charged)
        for (position, _), refusal in zip(reserves, row["reserved"], strict=True):
            outcomes[position] = int(refusal)
        return outcomes

    async def _call_retrying_deadlocks(self, arguments: list[list[Any]], count: int) -> asyncpg.Record:
        """The call, sent again when PostgreSQL aborted it for a deadlock (it then did nothing)."""
        for attempt in range(DEADLOCK_ATTEMPTS):
            try:
                row = await self._lane.fetchrow(_TICK, *arguments)
                break
            except asyncpg.DeadlockDetectedError:
                if attempt == DEADLOCK_ATTEMPTS - 1:
                    raise
                log.warning("a batch of %d met a deadlock and runs again", count)
        assert row is not None
        return row
