"""The embedded SQLite store: the default, nothing to start.

Statements run directly on the event loop thread: in WAL mode with ``synchronous=NORMAL`` a short
write transaction costs less than a hop to a thread pool. Every write is a ``BEGIN IMMEDIATE``
transaction (``connection.py``). Reservations and settlements, two per request, are
group-committed: those of concurrent requests share one transaction (``batch.py``, which says how
durability is kept). ``data_version`` tells the key cache when another process changed the file.
WAL checkpoints (and their ``fsync``) run in a thread, not in a commit on the loop
(``checkpoint.py``).

The statements themselves are in ``accounts.py`` (accounts, keys, the management key),
``ledger.py`` (reservations, settlements, the usage ledger), ``console.py`` (the console's
sessions and reports), ``reports.py`` (the service's account reports), ``jobs.py`` (generation
jobs, ``jobs``) and ``responses.py`` (stored responses, ``responses``); this class holds the
connection and its group commit.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from unigate.accounts.reports import CreditKind
from unigate.accounts.store import (
    ApiKey,
    KeyChanges,
    KeySettings,
    Refusal,
    Reservation,
    Settlement,
    UsageQuery,
    UsageRow,
)
from unigate.storage.sqlite import accounts, ledger
from unigate.storage.sqlite.batch import GroupCommit
from unigate.storage.sqlite.checkpoint import Checkpointer
from unigate.storage.sqlite.connection import connect
from unigate.storage.sqlite.console import SqliteConsole
from unigate.storage.sqlite.jobs import SqliteJobs
from unigate.storage.sqlite.reports import SqliteReports
from unigate.storage.sqlite.responses import SqliteResponses
from unigate.storage.sqlite.schema import migrate

__all__ = ["SqliteStore"]


class SqliteStore:
    failures: tuple[type[Exception], ...] = (sqlite3.Error, OSError)

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None
        self._batch = GroupCommit(lambda: self.db)
        self._checkpointer: Checkpointer | None = None
        self.console = SqliteConsole(lambda: self.db)
        self.reports = SqliteReports(lambda: self.db)
        """The ledger as the service's account endpoints read it (``accounts/reports.py``)."""
        self.jobs = SqliteJobs(lambda: self.db)
        """The generation jobs (``core/jobs.py``'s ``JobStore``; ``storage.factory.job_store``)."""
        self.responses = SqliteResponses(lambda: self.db)
        """Stored responses (``core/responses.py``'s ``ResponseStore``; ``storage.factory.response_store``)."""

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = connect(self._path)
        migrate(db)
        db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run in a thread (checkpoint.py)
        self._checkpointer = Checkpointer(self._path)
        self._checkpointer.start()
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            self._batch.flush()  # settlements queued in this turn of the loop are not lost
            self._db.close()
            if self._checkpointer is not None:
                self._checkpointer.stop()
                self._checkpointer = None
            self._db = None

    @property
    def change_counter(self) -> Callable[[], int]:
        """SQLite's ``data_version``, which changes when another connection (another process)
        commits to the file; the key cache drops its entries then (``accounts/keycache.py``)."""
        return self._data_version

    def _data_version(self) -> int:
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    async def authenticate(self, key: str) -> ApiKey | None:
        return accounts.authenticate(self.db, key)

    async def check_management_key(self, key: str) -> bool:
        return accounts.check_management_key(self.db, key)

    async def ensure_management_key(self, key: str | None) -> str | None:
        return accounts.ensure_management_key(self.db, key)

    async def create_account(self, *, name: str | None, credits: int) -> int:
        return accounts.create_account(self.db, name=name, credits=credits)

    async def create_key(
        self, *, account_id: int, name: str | None, key: str | None = None, settings: KeySettings | None = None
    ) -> tuple[ApiKey, str]:
        return accounts.create_key(self.db, account_id=account_id, name=name, key=key, settings=settings)

    async def get_key(self, prefix: str) -> ApiKey | None:
        return accounts.get_key(self.db, prefix)

    async def list_keys(self, *, account_id: int | None = None) -> list[ApiKey]:
        return accounts.list_keys(self.db, account_id=account_id)

    async def update_key(self, prefix: str, changes: KeyChanges) -> ApiKey | None:
        return accounts.update_key(self.db, prefix, changes)

    async def delete_key(self, prefix: str) -> bool:
        return accounts.delete_key(self.db, prefix)

    async def monthly_usage(self, key_ids: Sequence[int]) -> dict[int, int]:
        return accounts.monthly_usage(self.db, key_ids)

    async def balance(self, account_id: int) -> int:
        return accounts.balance(self.db, account_id)

    async def add_credits(
        self, account_id: int, credits: int, *, kind: CreditKind = "ADJUSTMENT", reference: str | None = None
    ) -> int:
        return accounts.add_credits(self.db, account_id, credits, kind=kind, reference=reference)

    async def reserve(self, *, key: ApiKey, amount: int, ttl_s: float, model: str = "") -> Reservation | Refusal:
        def run(db: sqlite3.Connection) -> Reservation | Refusal:
            return ledger.reserve(db, key.id, amount, ttl_s, model)

        queued = self._batch.submit(run, skip_if_abandoned=True)
        try:
            outcome: Reservation | Refusal = await queued
        except asyncio.CancelledError:
            # The caller left after its reservation was committed but before it saw it: release it
            # now rather than at the expiry sweep.
            held = queued.result() if queued.done() and not queued.cancelled() else None
            if isinstance(held, Reservation):
                release = Settlement(model, 0, 0, 0, 0, "cancelled")
                self._batch.submit(lambda db: ledger.settle(db, held.id, release))
            raise
        return outcome

    async def settle(self, reservation: Reservation, settlement: Settlement) -> None:
        # Not skipped if the caller is cancelled while it waits: a settlement always happens.
        await self._batch.submit(lambda db: ledger.settle(db, reservation.id, settlement))

    async def extend_reservations(self, ids: Sequence[str], ttl_s: float) -> None:
        if ids:
            ledger.extend_reservations(self.db, ids, ttl_s)

    async def release_expired(self, now: datetime | None = None) -> int:
        return ledger.release_expired(self.db, now)

    async def usage(self, query: UsageQuery) -> list[UsageRow]:
        return ledger.usage(self.db, query)
