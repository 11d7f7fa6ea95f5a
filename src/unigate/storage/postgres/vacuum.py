"""The vacuum of the tables every request rewrites, by the gateway process itself.

Every request inserts and deletes a reservation row and rewrites its account's row, so these
tables gather dead row versions at the request rate. Autovacuum visits a table at most once a
minute (and some servers run without it): meanwhile every reservation lookup wades through the
dead versions, and a process's throughput falls several times over within a minute of load. So
each process vacuums them itself after every ``every`` settlements it made, with ``VACUUM
(SKIP_LOCKED, TRUNCATE false)``: it takes no lock that blocks requests (without ``TRUNCATE
false`` it would briefly take an exclusive one to give empty pages at the end back to the
system) and skips a table another process is vacuuming.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

__all__ = ["VACUUM_EVERY", "Vacuum"]

log = logging.getLogger("unigate.storage")

VACUUM_EVERY = 5000
"""Settlements after which a process vacuums the tables every request rewrites."""

_HOT_TABLES = "reservations, accounts, api_keys"


class Vacuum:
    def __init__(self, pool: Callable[[], asyncpg.Pool], *, every: int = VACUUM_EVERY) -> None:
        self._pool = pool
        self._every = every
        self._settled = 0
        self._task: asyncio.Task[None] | None = None
        self.runs = 0
        """Vacuums this process completed (for tests)."""

    def settled(self, count: int) -> None:
        """``count`` more settlements; starts a vacuum when they add up and none is running."""
        self._settled += count
        if self._settled < self._every or (self._task is not None and not self._task.done()):
            return
        self._settled = 0
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        try:
            await self._pool().execute(f"VACUUM (SKIP_LOCKED, TRUNCATE false) {_HOT_TABLES}")
        except (asyncpg.PostgresError, OSError, RuntimeError):
            # Not the owner of the tables, the store closing, the server gone: requests go on;
            # autovacuum, where it runs, still does the job.
            log.warning("vacuum of %s failed", _HOT_TABLES, exc_info=True)
            return
        self.runs += 1
