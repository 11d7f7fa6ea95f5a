"""The PostgreSQL store: one database shared by several gateway processes.

An asyncpg pool, opened once. ``reserve``, ``settle`` and ``release_expired`` call server-side
functions (``migrations/``, ``schema.py``) that check the balance, the key's state and its
spending limit under row locks, so that replicas never overspend and a key disabled through any
replica stops at the next reservation on every other one. Reservations and settlements are
group-committed (``batch.py``, which says why and how) on a connection of their own
(``lane.py``), so a process holds up to ``pool_size`` + 1 connections. The tables that every
request rewrites are vacuumed by the process itself as its settlements add up (``vacuum.py``).
Connections go back to the pool without ``RESET ALL``: this store never changes session state,
and the reset would cost a round trip per request.

The statements themselves are in ``accounts.py`` (accounts, keys, the management key),
``batch.py`` and ``ledger.py`` (reservations, settlements, the usage ledger), ``console.py``
(the console's sessions and reports), ``reports.py`` (the service's account reports),
``jobs.py`` (generation jobs, ``jobs``) and ``responses.py`` (stored responses, ``responses``);
this class holds the connections.

The database URL is asyncpg's (``postgresql://user@host:5432/db``); query parameters that
asyncpg does not know become server settings, so ``?search_path=tenant_a`` selects a schema
(created on the first ``open`` when it does not exist yet, see ``schema.ensure_schema``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

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
from unigate.storage.postgres import accounts, ledger
from unigate.storage.postgres.batch import GroupCommit
from unigate.storage.postgres.console import PostgresConsole
from unigate.storage.postgres.jobs import PostgresJobs
from unigate.storage.postgres.reports import PostgresReports
from unigate.storage.postgres.responses import PostgresResponses
from unigate.storage.postgres.schema import migrate
from unigate.storage.postgres.vacuum import VACUUM_EVERY, Vacuum

__all__ = ["PostgresStore"]

COMMAND_TIMEOUT_S = 60


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool ``reset``: nothing to undo (asyncpg still rolls back a transaction left open)."""


class PostgresStore:
    # OSError covers refused and reset connections; TimeoutError the command timeout.
    failures: tuple[type[Exception], ...] = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

    change_counter: None = None
    """No cheap sign here that another replica wrote: with Redis the replicas publish their key
    changes (``accounts/key_events.py``); without it the key cache stays off."""

    def __init__(self, url: str, *, pool_size: int = 10, vacuum_every: int = VACUUM_EVERY) -> None:
        self._url = url
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._vacuum = Vacuum(lambda: self.pool, every=vacuum_every)
        self._batch = GroupCommit(url, command_timeout=COMMAND_TIMEOUT_S, settled=self._vacuum.settled)
        self.console = PostgresConsole(lambda: self.pool)
        self.reports = PostgresReports(lambda: self.pool)
        """The ledger as the service's account endpoints read it (``accounts/reports.py``)."""
        self.jobs = PostgresJobs(lambda: self.pool)
        """The generation jobs (``core/jobs.py``'s ``JobStore``; ``storage.factory.job_store``)."""
        self.responses = PostgresResponses(lambda: self.pool)
        """Stored responses (``core/responses.py``'s ``ResponseStore``; ``storage.factory.response_store``)."""

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    @property
    def vacuums(self) -> int:
        """Vacuums of the hot tables this process ran (for tests)."""
        return self._vacuum.runs

    async def open(self) -> None:
        pool = await asyncpg.create_pool(
            self._url, min_size=1, max_size=self._pool_size, reset=_keep_session, command_timeout=COMMAND_TIMEOUT_S
        )
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        await self._vacuum.stop()
        await self._batch.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def authenticate(self, key: str) -> ApiKey | None:
        return await accounts.authenticate(self.pool, key)

    async def check_management_key(self, key: str) -> bool:
        return await accounts.check_management_key(self.pool, key)

    async def ensure_management_key(self, key: str | None) -> str | None:
        return await accounts.ensure_management_key(self.pool, key)

    async def create_account(self, *, name: str | None, credits: int) -> int:
        return await accounts.create_account(self.pool, name=name, credits=credits)

    async def create_key(
        self, *, account_id: int, name: str | None, key: str | None = None, settings: KeySettings | None = None
    ) -> tuple[ApiKey, str]:
        return await accounts.create_key(self.pool, account_id=account_id, name=name, key=key, settings=settings)

    async def get_key(self, prefix: str) -> ApiKey | None:
        return await accounts.get_key(self.pool, prefix)

    async def list_keys(self, *, account_id: int | None = None) -> list[ApiKey]:
        return await accounts.list_keys(self.pool, account_id=account_id)

    async def update_key(self, prefix: str, changes: KeyChanges) -> ApiKey | None:
        return await accounts.update_key(self.pool, prefix, changes)

    async def delete_key(self, prefix: str) -> bool:
        return await accounts.delete_key(self.pool, prefix)

    async def monthly_usage(self, key_ids: Sequence[int]) -> dict[int, int]:
        return await accounts.monthly_usage(self.pool, key_ids)

    async def balance(self, account_id: int) -> int:
        return await accounts.balance(self.pool, account_id)

    async def add_credits(
        self, account_id: int, credits: int, *, kind: CreditKind = "ADJUSTMENT", reference: str | None = None
    ) -> int:
        return await accounts.add_credits(self.pool, account_id, credits, kind=kind, reference=reference)

    async def reserve(self, *, key: ApiKey, amount: int, ttl_s: float, model: str = "") -> Reservation | Refusal:
        return await self._batch.reserve(key=key, amount=amount, ttl_s=ttl_s, model=model)

    async def settle(self, reservation: Reservation, settlement: Settlement) -> None:
        await self._batch.settle(reservation, settlement)

    async def extend_reservations(self, ids: Sequence[str], ttl_s: float) -> None:
        if ids:
            await ledger.extend_reservations(self.pool, ids, ttl_s)

    async def release_expired(self, now: datetime | None = None) -> int:
        return await ledger.release_expired(self.pool, now)

    async def usage(self, query: UsageQuery) -> list[UsageRow]:
        return await ledger.usage(self.pool, query)
