"""The PostgreSQL store: one database shared by several gateway processes.

An asyncpg pool, opened once. ``reserve``, ``settle`` and ``release_expired`` call server-side
functions (``postgres_schema.py``) that check the balance, the key's state and its spending limit
under row locks, so that replicas never overspend and a key disabled through any replica stops at
the next reservation on every other one. Reservations and settlements are group-committed: those a
process queued while its previous call was in flight go in one call and one transaction, both kinds
together (``primitives/batching.py``; ``unigate_tick``, schema V6: a call costs the client more CPU than
the few items it carries). Every reservation of an account updates its balance row, so one
transaction per request would queue on that row's lock, each holding it until its commit is
flushed, and cap an account at a few hundred requests per second whatever the replicas. A batch
writes each account's balance once (schema V5, ``postgres_schema.py``); an item the database
refuses fails the whole call, which did nothing, and the items go again one by one (``_tick``).
Rows are locked in one order everywhere (schema V4): a batch goes sorted by (account, key), and
each function locks an account's row before its keys' (a settlement its reservation's row first);
``unigate_tick`` takes the accounts of both kinds of items in ascending order. Before, two
replicas' batches over several accounts deadlocked within seconds of load, and PostgreSQL's abort
lost the settlements of one.
Connections go back to the pool without ``RESET ALL``: this store never changes session state,
and the reset would cost a round trip per request. The batcher does not use the pool at all: it
has a connection of its own (``postgres_lane.py``), so a process holds up to ``pool_size`` + 1
connections.

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
from unigate.primitives.batching import Batcher
from unigate.primitives.ids import hex_id
from unigate.primitives.records import record
from unigate.storage.postgres.lane import Lane
from unigate.storage.postgres.schema import migrate

__all__ = ["PostgresStore"]

log = logging.getLogger("unigate.storage")

_KEY_COLUMNS = (
    "id, prefix, account_id, name, disabled, scopes, created_at, updated_at, limit_retention, limit_credits, rpm, tpm"
)
_REFUSALS = {1: Refusal.KEY_REVOKED, 2: Refusal.KEY_LIMIT}


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
        self._batcher = Batcher[_Reserve | _Settle](self._tick)
        self._lane = Lane(url, command_timeout=COMMAND_TIMEOUT_S)
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
        # A call in flight (a settlement of a caller that left, say) finishes before the lane closes.
        await self._batcher.wait_idle()
        await self._lane.close()
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
                self._batcher.submit(_Settle(held, Settlement(model, 0, 0, 0, 0, "cancelled")))

        queued = self._batcher.submit(item, abandoned=release)
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

    async def settle(self, reservation: Reservation, settlement: Settlement) -> None:
        # Not skipped if the caller is cancelled while it waits: a settlement always happens.
        await self._batcher.submit(_Settle(reservation, settlement))

    async def _tick(self, items: list[_Reserve | _Settle]) -> list[int | Exception]:
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
            return [(await self._tick([item]))[0] for item in items]
        if settles:
            self._count_settlements(len(settles))
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
