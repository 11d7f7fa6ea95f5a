"""Group commit for SQLite: the reservations and settlements of concurrent requests share one
transaction.

A ``COMMIT`` costs more than the statements of a reservation or a settlement (WAL append, lock
handover, ``data_version`` bump), and a busy gateway makes two per request. Here each operation
is queued; on the next turn of the event loop one ``BEGIN IMMEDIATE`` ... ``COMMIT`` runs every
operation queued meanwhile, and only after the ``COMMIT`` do the callers get their results. If
one operation fails, the transaction is rolled back and run again with each operation in its own
``SAVEPOINT``, so that the failed one alone is undone (operations touch nothing but the
database, so running them again is safe).

Durability is unchanged: no caller learns that its reservation or settlement happened before the
transaction holding it is committed, so no response is sent for a charge that could still be
lost; a crash before the ``COMMIT`` loses operations that nobody was told about (a request whose
reservation is lost was never started; one whose settlement is lost keeps its reservation row,
which the expiry sweep settles as ``abandoned``). The whole batch runs synchronously on the loop
thread, so no other statement interleaves with it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["GroupCommit"]

Operation = Callable[[sqlite3.Connection], Any]


@dataclass(slots=True)
class _Queued:
    run: Operation
    future: asyncio.Future[Any]
    skip_if_abandoned: bool


class GroupCommit:
    def __init__(self, db: Callable[[], sqlite3.Connection]) -> None:
        self._db = db
        self._queue: list[_Queued] = []
        self.batches = 0
        """Transactions committed so far (for tests and the benchmark's curiosity)."""

    def submit(self, run: Operation, *, skip_if_abandoned: bool = False) -> asyncio.Future[Any]:
        """Queue ``run(db)``; the future resolves after the transaction holding it commits.

        With ``skip_if_abandoned`` the operation is dropped if its future was cancelled (the caller
        left) before the batch ran; otherwise it runs whatever happens to the caller (a
        settlement must happen even when the request's task is cancelled while it waits).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queue:
            loop.call_soon(self.flush)
        self._queue.append(_Queued(run, future, skip_if_abandoned))
        return future

    def flush(self) -> None:
        """Run what is queued now (the store does before it closes; otherwise the loop does)."""
        queue, self._queue = self._queue, []
        queue = [q for q in queue if not (q.skip_if_abandoned and q.future.cancelled())]
        if not queue:
            return
        try:
            db = self._db()
            try:
                outcomes = self._run(db, queue, isolated=False)
            except Exception:
                # Operations do nothing outside the database, so the batch can run again with each
                # one in a savepoint, to find the one that failed and keep the others.
                outcomes = self._run(db, queue, isolated=True)
        except Exception as exc:  # no transaction (store closed, locked, disk full): nothing happened
            for q in queue:
                if not q.future.done():
                    q.future.set_exception(exc)
            return
        self.batches += 1
        for q, (ok, value) in zip(queue, outcomes, strict=True):
            if q.future.done():
                continue  # the caller left; the operation still happened
            if ok:
                q.future.set_result(value)
            else:
                q.future.set_exception(value)

    @staticmethod
    def _run(db: sqlite3.Connection, queue: list[_Queued], *, isolated: bool) -> list[tuple[bool, Any]]:
        """One transaction over ``queue``. Not ``isolated``: the first failure rolls it all back
        and raises. ``isolated``: each operation in a savepoint, a failure undoes it alone."""
        outcomes: list[tuple[bool, Any]] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for q in queue:
                if not isolated:
                    outcomes.append((True, q.run(db)))
                    continue
                db.execute("SAVEPOINT op")
                try:
                    outcomes.append((True, q.run(db)))
                except Exception as exc:
                    db.execute("ROLLBACK TO op")
                    outcomes.append((False, exc))
                db.execute("RELEASE op")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return outcomes
