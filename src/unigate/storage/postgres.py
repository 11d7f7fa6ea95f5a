"""The PostgreSQL store: one database shared by several gateway processes.

An asyncpg pool, opened once. ``reserve``, ``settle`` and ``release_expired`` call server-side
functions (``postgres_schema.py``) that check the balance, the key's state and its spending limit
under row locks, so that replicas never overspend and a key disabled through any replica stops at
the next reservation on every other one. Reservations and settlements are group-committed: those
a process queued while its previous call was in flight go in one call and one transaction
(``core/batching.py``): every reservation of an account updates its balance row, so one
transaction per request would queue on that row's lock, each holding it until its commit is
flushed, and cap an account at a few hundred requests per second whatever the replicas. A
batch writes each account's balance once (schema V5, ``postgres_schema.py``); an item the
database refuses fails the whole call, which did nothing, and the items go again one by one
(``_call_many``).
Rows are locked in one order everywhere (schema V4): a batch goes sorted by (account, key), and
each function locks an account's row before its keys'. Before, two replicas' batches over several
accounts deadlocked within seconds of load, and PostgreSQL's abort lost the settlements of one.
Connections go back to the pool without ``RESET ALL``: this store never changes session state,
and the reset would cost a round trip per request. The two batchers do not use the pool at all:
each has a connection of its own (``postgres_lane.py``), so a process holds up to ``pool_size``
+ 2 connections.

Every request inserts and deletes a reservation row and rewrites its account's row, so these
tables gather dead row versions at the request rate. Autovacuum visits a table at most once a
minute (and some servers run without it): meanwhile every reservation lookup wades through the
dead versions, and one process's throughput fell from about 1,900 to 530 requests/s within a
minute of load on this project's benchmark. So each process vacuums them itself after every
``vacuum_every`` settlements it made, with ``VACUUM (SKIP_LOCKED, TRUNCATE false)``: it takes no
lock that blocks requests (without ``TRUNCATE false`` it would briefly take an exclusive one to
give empty pages at the end back to the system) and skips a table another process is vacuuming.

The database URL is asyncpg's (``postgresql://user@host:5432/db``); query parameters that
asyncpg does not know become server settings, so ``?search_path=tenant_a`` selects a schema
(created on the first ``open`` when it does not exist yet, see ``postgres_schema.ensure_schema``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from unigate.accounts import keys
from unigate.accounts.spending import SpendingLimit, as_retention, period_start
from unigate.accounts.store import (
    UNSET,
    ApiKey,
    KeyChanges,
    KeySettings,
    Refusal,
    Reservation,
    Settlement,
    UsageQuery,
    UsageRow,
)
from unigate.core.batching import Batcher
from unigate.core.ids import hex_id
from unigate.storage.postgres_lane import Lane
from unigate.storage.postgres_schema import migrate

__all__ = ["PostgresStore"]

log = logging.getLogger("unigate.storage")

_KEY_COLUMNS = (
    "id, prefix, account_id, name, disabled, scopes, created_at, updated_at, limit_retention, limit_credits, rpm, tpm"
)
_REFUSALS = {1: Refusal.KEY_REVOKED, 2: Refusal.KEY_LIMIT}


@dataclass(frozen=True, slots=True)
class _Reserve:
    id: str
    key: ApiKey
    amount: int
    model: str
    ttl_s: float


def _unsorted(order: list[int], outcomes: list[int | Exception]) -> list[int | Exception]:
    """Outcomes of items sent in ``order`` (their positions in the batch), back in batch order."""
    out: list[int | Exception] = [0] * len(order)
    for position, outcome in zip(order, outcomes, strict=True):
        out[position] = outcome
    return out


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool ``reset``: nothing to undo (asyncpg still rolls back a transaction left open)."""


VACUUM_EVERY = 5000
"""Settlements after which a process vacuums the tables every request rewrites (module docstring)."""

_HOT_TABLES = "reservations, accounts, api_keys"

COMMAND_TIMEOUT_S = 60

DEADLOCK_ATTEMPTS = 3
"""Calls of one batch that PostgreSQL may abort for a deadlock before its callers get the error."""


class PostgresStore:
    # OSError covers refused and reset connections; TimeoutError the command timeout.
    failures: tuple[type[Exception], ...] = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

    def __init__(self, url: str, *, pool_size: int = 10, vacuum_every: int = VACUUM_EVERY) -> None:
        self._url = url
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._reserves = Batcher[_Reserve](self._reserve_many)
        self._settles = Batcher[tuple[Reservation, Settlement]](self._settle_many)
        self._reserve_lane = Lane(url, command_timeout=COMMAND_TIMEOUT_S)
        self._settle_lane = Lane(url, command_timeout=COMMAND_TIMEOUT_S)
        self._vacuum_every = vacuum_every
        self._settled_since_vacuum = 0
        self._vacuum: asyncio.Task[None] | None = None
        self.vacuums = 0
        """Vacuums of the hot tables this process ran (for tests)."""

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

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
        if self._vacuum is not None:
            self._vacuum.cancel()
            await asyncio.gather(self._vacuum, return_exceptions=True)
            self._vacuum = None
        # Calls in flight (a settlement of a caller that left, say) finish before their lanes close.
        await self._reserves.wait_idle()
        await self._settles.wait_idle()
        await self._reserve_lane.close()
        await self._settle_lane.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _count_settlements(self, count: int) -> None:
        self._settled_since_vacuum += count
        if self._settled_since_vacuum < self._vacuum_every or (self._vacuum is not None and not self._vacuum.done()):
            return
        self._settled_since_vacuum = 0
        self._vacuum = asyncio.get_running_loop().create_task(self._vacuum_hot_tables())

    async def _vacuum_hot_tables(self) -> None:
        try:
            await self.pool.execute(f"VACUUM (SKIP_LOCKED, TRUNCATE false) {_HOT_TABLES}")
        except (asyncpg.PostgresError, OSError, RuntimeError):
            # Not the owner of the tables, the store closing, the server gone: requests go on;
            # autovacuum, where it runs, still does the job.
            log.warning("vacuum of %s failed", _HOT_TABLES, exc_info=True)
            return
        self.vacuums += 1

    # ---- keys --------------------------------------------------------------------------------

    async def authenticate(self, key: str) -> ApiKey | None:
        row = await self.pool.fetchrow(
            f"SELECT {_KEY_COLUMNS}, digest FROM api_keys WHERE prefix = $1 AND deleted_at IS NULL",
            keys.prefix_of(key),
        )
        if row is None or not keys.matches(key, row["digest"]) or row["disabled"]:
            return None
        return _key(row)

    async def check_management_key(self, key: str) -> bool:
        stored = await self.pool.fetchval("SELECT v FROM meta WHERE k = 'management_key'")
        return stored is not None and keys.matches(key, stored)

    async def ensure_management_key(self, key: str | None) -> str | None:
        if key is not None:
            await self.pool.execute(
                "INSERT INTO meta (k, v) VALUES ('management_key', $1) ON CONFLICT (k) DO UPDATE SET v = $1",
                keys.digest(key),
            )
            return None
        generated = keys.new_management_key()
        inserted = await self.pool.fetchval(
            "INSERT INTO meta (k, v) VALUES ('management_key', $1) ON CONFLICT (k) DO NOTHING RETURNING k",
            keys.digest(generated),
        )
        return generated if inserted is not None else None

    async def create_account(self, *, name: str | None, credits: int) -> int:
        if credits < 0:
            raise ValueError("an account cannot start with a negative balance")
        account_id = await self.pool.fetchval(
            "INSERT INTO accounts (name, balance) VALUES ($1, $2) RETURNING id", name, credits
        )
        return int(account_id)

    async def create_key(
        self, *, account_id: int, name: str | None, key: str | None = None, settings: KeySettings | None = None
    ) -> tuple[ApiKey, str]:
        s = settings or KeySettings()
        for _ in range(8):
            plain = key or keys.new_key()
            try:
                row = await self.pool.fetchrow(
                    "INSERT INTO api_keys (prefix, digest, account_id, name, scopes, limit_retention, limit_credits,"
                    f" rpm, tpm) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_KEY_COLUMNS}",
                    keys.prefix_of(plain),
                    keys.digest(plain),
                    account_id,
                    name,
                    list(s.scopes),
                    s.limit.retention if s.limit else None,
                    s.limit.threshold if s.limit else None,
                    s.rpm,
                    s.tpm,
                )
            except asyncpg.ForeignKeyViolationError:
                raise LookupError(f"no account {account_id}") from None
            except asyncpg.UniqueViolationError:
                if key is not None:
                    raise ValueError("a key with this prefix exists already") from None
                continue  # a prefix collision of a generated key: draw again
            assert row is not None
            return _key(row), plain
        raise RuntimeError("could not draw a unique key prefix")

    async def get_key(self, prefix: str) -> ApiKey | None:
        row = await self.pool.fetchrow(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE prefix = $1 AND deleted_at IS NULL", prefix
        )
        return None if row is None else _key(row)

    async def list_keys(self, *, account_id: int | None = None) -> list[ApiKey]:
        rows = await self.pool.fetch(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE deleted_at IS NULL AND ($1::bigint IS NULL OR account_id = $1)"
            " ORDER BY id",
            account_id,
        )
        return [_key(row) for row in rows]

    async def update_key(self, prefix: str, changes: KeyChanges) -> ApiKey | None:
        sets: list[str] = []
        args: list[object] = []

        def put(column: str, value: object) -> None:
            args.append(value)
            sets.append(f"{column} = ${len(args) + 1}")

        if changes.name is not UNSET:
            put("name", changes.name)
        if changes.disabled is not UNSET:
            put("disabled", changes.disabled)
        if changes.scopes is not UNSET:
            put("scopes", list(changes.scopes))
        if changes.limit is not UNSET:
            put("limit_retention", changes.limit.retention if changes.limit else None)
            put("limit_credits", changes.limit.threshold if changes.limit else None)
        if changes.rpm is not UNSET:
            put("rpm", changes.rpm)
        if changes.tpm is not UNSET:
            put("tpm", changes.tpm)
        sets.append("updated_at = now()")
        async with self.pool.acquire() as conn, conn.transaction():
            key_id = await conn.fetchval("SELECT id FROM api_keys WHERE prefix = $1 AND deleted_at IS NULL", prefix)
            if key_id is None:
                return None
            # Lock order as in unigate_settle_many: reservations, then the key.
            await conn.execute("SELECT 1 FROM reservations WHERE key_id = $1 FOR UPDATE", key_id)
            old_retention = await conn.fetchval("SELECT limit_retention FROM api_keys WHERE id = $1 FOR UPDATE", key_id)
            row = await conn.fetchrow(
                f"UPDATE api_keys SET {', '.join(sets)} WHERE id = $1 RETURNING {_KEY_COLUMNS}", key_id, *args
            )
            assert row is not None
            # A new limit, or a new period: count the spend afresh (a key without a limit has
            # none): the ledger's since the period began, plus the reservations in flight, which
            # now belong to the new period.
            if isinstance(changes.limit, SpendingLimit) and changes.limit.retention != old_retention:
                start = period_start(changes.limit.retention, datetime.now(UTC))
                await conn.execute("UPDATE reservations SET period_start = $2 WHERE key_id = $1", key_id, start)
                await conn.execute(
                    "UPDATE api_keys SET period_start = $2, period_spent ="
                    " (SELECT COALESCE(SUM(credits), 0) FROM usage WHERE key_id = $1 AND created_at >= $2)"
                    " + (SELECT COALESCE(SUM(amount), 0) FROM reservations WHERE key_id = $1) WHERE id = $1",
                    key_id,
                    start,
                )
        return _key(row)

    async def delete_key(self, prefix: str) -> bool:
        deleted = await self.pool.fetchval(
            "UPDATE api_keys SET deleted_at = now(), disabled = true, updated_at = now()"
            " WHERE prefix = $1 AND deleted_at IS NULL RETURNING id",
            prefix,
        )
        return deleted is not None

    async def monthly_usage(self, key_ids: Sequence[int]) -> dict[int, int]:
        if not key_ids:
            return {}
        rows = await self.pool.fetch(
            "SELECT key_id, SUM(credits) AS spent FROM usage WHERE key_id = ANY($1::bigint[])"
            " AND created_at >= $2 GROUP BY key_id",
            list(key_ids),
            period_start("month", datetime.now(UTC)),
        )
        spent = {int(r["key_id"]): int(r["spent"]) for r in rows}
        return {k: spent.get(k, 0) for k in key_ids}

    # ---- credits -----------------------------------------------------------------------------

    async def balance(self, account_id: int) -> int:
        balance = await self.pool.fetchval("SELECT balance FROM accounts WHERE id = $1", account_id)
        if balance is None:
            raise LookupError(f"no account {account_id}")
        return int(balance)

    async def add_credits(self, account_id: int, credits: int) -> int:
        try:
            balance = await self.pool.fetchval(
                "UPDATE accounts SET balance = balance + $2 WHERE id = $1 RETURNING balance", account_id, credits
            )
        except asyncpg.CheckViolationError:
            raise ValueError("the balance cannot fall below zero") from None
        if balance is None:
            raise LookupError(f"no account {account_id}")
        return int(balance)

    async def reserve(self, *, key: ApiKey, amount: int, ttl_s: float, model: str = "") -> Reservation | Refusal:
        item = _Reserve(hex_id(12), key, amount, model, float(ttl_s))

        def release(outcome: int) -> None:
            # Committed for a caller that left before it saw it: released now, not at the sweep.
            if outcome == 0:
                held = Reservation(item.id, key.account_id, key.id, amount)
                self._settles.submit((held, Settlement(model, 0, 0, 0, 0, "cancelled")))

        queued = self._reserves.submit(item, abandoned=release)
        try:
            outcome: int = await queued
        except asyncio.CancelledError:
            if queued.done() and not queued.cancelled() and queued.exception() is None:
                release(queued.result())  # it resolved, but the caller was cancelled before resuming
            raise
        if outcome == 3:
            return Refusal.BALANCE
        if outcome != 0:
            return _REFUSALS[outcome]
        return Reservation(item.id, key.account_id, key.id, amount)

    async def _reserve_many(self, items: list[_Reserve]) -> list[int | Exception]:
        return await self._call_in_lock_order(
            self._reserve_lane,
            "SELECT * FROM unigate_reserve_many($1, $2, $3, $4, $5)",
            [(i.key.account_id, i.key.id) for i in items],
            [i.id for i in items],
            [i.key.id for i in items],
            [i.amount for i in items],
            [i.model for i in items],
            [i.ttl_s for i in items],
        )

    async def settle(self, reservation: Reservation, settlement: Settlement) -> None:
        # Not skipped if the caller is cancelled while it waits: a settlement always happens.
        await self._settles.submit((reservation, settlement))

    async def _settle_many(self, items: list[tuple[Reservation, Settlement]]) -> list[int | Exception]:
        self._count_settlements(len(items))
        return await self._call_in_lock_order(
            self._settle_lane,
            "SELECT * FROM unigate_settle_many($1, $2, $3, $4, $5, $6, $7)",
            [(r.account_id, r.key_id) for r, _ in items],
            [r.id for r, _ in items],
            [s.credits for _, s in items],
            [s.model for _, s in items],
            [s.prompt_tokens for _, s in items],
            [s.completion_tokens for _, s in items],
            [s.latency_ms for _, s in items],
            [s.status for _, s in items],
        )

    async def _call_in_lock_order(
        self, lane: Lane, sql: str, rows: list[tuple[int, int]], *columns: list[Any]
    ) -> list[int | Exception]:
        """``columns`` sent sorted by ``rows`` (each item's account and key: the lock order of the
        module docstring); the outcomes come back in the batch's order."""
        order = sorted(range(len(rows)), key=rows.__getitem__)
        return _unsorted(order, await self._call_many(lane, sql, *([column[i] for i in order] for column in columns)))

    async def _call_many(self, lane: Lane, sql: str, *columns: list[Any]) -> list[int | Exception]:
        """One batch call, its items already in lock order. A deadlock, with a statement outside
        that order say, aborts the whole call: it did nothing, so it runs again. So does an item
        the database refuses (a constraint, a value out of range): the call did nothing, and its
        items go again one by one, so that the failure stays with its own item."""
        try:
            row = await self._call_once(lane, sql, columns)
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
            if len(columns[0]) == 1:
                return [RuntimeError(f"the database refused the operation: {exc}")]
            outcomes: list[int | Exception] = []
            for i in range(len(columns[0])):
                outcomes += await self._call_many(lane, sql, *([column[i]] for column in columns))
            return outcomes
        # ``errors`` (all NULL since schema V5) stays in the result for replicas of the release before.
        return [int(result) for result in row["results"]]

    async def _call_once(self, lane: Lane, sql: str, columns: tuple[list[Any], ...]) -> asyncpg.Record:
        for attempt in range(DEADLOCK_ATTEMPTS):
            try:
                row = await lane.fetchrow(sql, *columns)
                break
            except asyncpg.DeadlockDetectedError:
                if attempt == DEADLOCK_ATTEMPTS - 1:
                    raise
                log.warning("a batch of %d met a deadlock and runs again", len(columns[0]))
        assert row is not None
        return row

    async def extend_reservations(self, ids: Sequence[str], ttl_s: float) -> None:
        if ids:
            # SKIP LOCKED: a reservation being settled is on its way out, and waiting for its row
            # while holding others could close a cycle with a settlement batch.
            await self.pool.execute(
                "UPDATE reservations SET expires_at = clock_timestamp() + $2 * interval '1 second'"
                " WHERE id IN (SELECT id FROM reservations WHERE id = ANY($1::text[]) FOR UPDATE SKIP LOCKED)",
                list(ids),
                float(ttl_s),
            )

    async def release_expired(self, now: datetime | None = None) -> int:
        released = await self.pool.fetchval(
            "SELECT unigate_release_expired(COALESCE($1::timestamptz, clock_timestamp()))", now
        )
        return int(released)

    async def usage(self, query: UsageQuery) -> list[UsageRow]:
        rows = await self.pool.fetch(
            "SELECT u.id, u.created_at, u.account_id, u.key_id, COALESCE(k.prefix, '') AS key_prefix, u.model,"
            " u.prompt_tokens, u.completion_tokens, u.credits, u.latency_ms, u.status"
            " FROM usage u LEFT JOIN api_keys k ON k.id = u.key_id"
            " WHERE ($1::bigint IS NULL OR u.account_id = $1) AND ($2::bigint IS NULL OR u.key_id = $2)"
            " AND ($3::bigint IS NULL OR u.id < $3) ORDER BY u.id DESC LIMIT $4",
            query.account_id,
            query.key_id,
            query.after,
            query.limit,
        )
        return [
            UsageRow(
                id=r["id"],
                created_at=r["created_at"],
                account_id=r["account_id"],
                key_id=r["key_id"],
                key_prefix=r["key_prefix"],
                model=r["model"],
                prompt_tokens=r["prompt_tokens"],
                completion_tokens=r["completion_tokens"],
                credits=r["credits"],
                latency_ms=r["latency_ms"],
                status=r["status"],
            )
            for r in rows
        ]


def _key(row: asyncpg.Record) -> ApiKey:
    limit = row["limit_credits"]
    return ApiKey(
        id=row["id"],
        prefix=row["prefix"],
        account_id=row["account_id"],
        name=row["name"],
        disabled=row["disabled"],
        scopes=tuple(row["scopes"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        limit=None if limit is None else SpendingLimit(as_retention(row["limit_retention"]), int(limit)),
        rpm=row["rpm"],
        tpm=row["tpm"],
    )
