"""Accounts, their keys and the management key on PostgreSQL: the statements behind the key and
credit methods of ``PostgresStore`` (``store.py``), each through the store's pool."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from unigate.accounts import keys
from unigate.accounts.reports import CreditKind
from unigate.accounts.spending import SpendingLimit, as_retention, period_start
from unigate.accounts.store import UNSET, ApiKey, KeyChanges, KeySettings

__all__ = [
    "add_credits",
    "authenticate",
    "balance",
    "check_management_key",
    "create_account",
    "create_key",
    "delete_key",
    "ensure_management_key",
    "get_key",
    "list_keys",
    "monthly_usage",
    "update_key",
]

_KEY_COLUMNS = (
    "id, prefix, account_id, name, disabled, scopes, created_at, updated_at, limit_retention, limit_credits, rpm, tpm"
)


async def authenticate(pool: asyncpg.Pool, key: str) -> ApiKey | None:
    row = await pool.fetchrow(
        f"SELECT {_KEY_COLUMNS}, digest FROM api_keys WHERE prefix = $1 AND deleted_at IS NULL", keys.prefix_of(key)
    )
    if row is None or not keys.matches(key, row["digest"]) or row["disabled"]:
        return None
    return _key(row)


async def check_management_key(pool: asyncpg.Pool, key: str) -> bool:
    stored = await pool.fetchval("SELECT v FROM meta WHERE k = 'management_key'")
    return stored is not None and keys.matches(key, stored)


async def ensure_management_key(pool: asyncpg.Pool, key: str | None) -> str | None:
    if key is not None:
        await pool.execute(
            "INSERT INTO meta (k, v) VALUES ('management_key', $1) ON CONFLICT (k) DO UPDATE SET v = $1",
            keys.digest(key),
        )
        return None
    generated = keys.new_management_key()
    inserted = await pool.fetchval(
        "INSERT INTO meta (k, v) VALUES ('management_key', $1) ON CONFLICT (k) DO NOTHING RETURNING k",
        keys.digest(generated),
    )
    return generated if inserted is not None else None


async def create_account(pool: asyncpg.Pool, *, name: str | None, credits: int) -> int:
    if credits < 0:
        raise ValueError("an account cannot start with a negative balance")
    account_id = await pool.fetchval(
        "WITH a AS (INSERT INTO accounts (name, balance) VALUES ($1, $2) RETURNING id),"
        " e AS (INSERT INTO credit_entries (account_id, kind, credits) SELECT id, 'INIT', $2 FROM a WHERE $2 > 0)"
        " SELECT id FROM a",
        name,
        credits,
    )
    return int(account_id)


async def create_key(
    pool: asyncpg.Pool, *, account_id: int, name: str | None, key: str | None, settings: KeySettings | None
) -> tuple[ApiKey, str]:
    s = settings or KeySettings()
    for _ in range(8):
        plain = key or keys.new_key()
        try:
            row = await pool.fetchrow(
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


async def get_key(pool: asyncpg.Pool, prefix: str) -> ApiKey | None:
    row = await pool.fetchrow(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE prefix = $1 AND deleted_at IS NULL", prefix)
    return None if row is None else _key(row)


async def list_keys(pool: asyncpg.Pool, *, account_id: int | None) -> list[ApiKey]:
    rows = await pool.fetch(
        f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE deleted_at IS NULL AND ($1::bigint IS NULL OR account_id = $1)"
        " ORDER BY id",
        account_id,
    )
    return [_key(row) for row in rows]


async def update_key(pool: asyncpg.Pool, prefix: str, changes: KeyChanges) -> ApiKey | None:
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
    async with pool.acquire() as conn, conn.transaction():
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
        # A new limit, or a new period: count the spend afresh (a key without a limit has none):
        # the ledger's since the period began, plus the reservations in flight, which now belong
        # to the new period.
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


async def delete_key(pool: asyncpg.Pool, prefix: str) -> bool:
    deleted = await pool.fetchval(
        "UPDATE api_keys SET deleted_at = now(), disabled = true, updated_at = now()"
        " WHERE prefix = $1 AND deleted_at IS NULL RETURNING id",
        prefix,
    )
    return deleted is not None


async def monthly_usage(pool: asyncpg.Pool, key_ids: Sequence[int]) -> dict[int, int]:
    if not key_ids:
        return {}
    rows = await pool.fetch(
        "SELECT key_id, SUM(credits) AS spent FROM usage WHERE key_id = ANY($1::bigint[])"
        " AND created_at >= $2 GROUP BY key_id",
        list(key_ids),
        period_start("month", datetime.now(UTC)),
    )
    spent = {int(r["key_id"]): int(r["spent"]) for r in rows}
    return {k: spent.get(k, 0) for k in key_ids}


async def balance(pool: asyncpg.Pool, account_id: int) -> int:
    found = await pool.fetchval("SELECT balance FROM accounts WHERE id = $1", account_id)
    if found is None:
        raise LookupError(f"no account {account_id}")
    return int(found)


async def add_credits(
    pool: asyncpg.Pool, account_id: int, credits: int, *, kind: CreditKind, reference: str | None
) -> int:
    """The balance after the change; its credit entry is written in the same statement."""
    try:
        found = await pool.fetchval(
            "WITH a AS (UPDATE accounts SET balance = balance + $2 WHERE id = $1 RETURNING id, balance),"
            " e AS (INSERT INTO credit_entries (account_id, kind, credits, reference)"
            " SELECT id, $3, $2, $4 FROM a WHERE $2 <> 0)"
            " SELECT balance FROM a",
            account_id,
            credits,
            kind,
            reference,
        )
    except asyncpg.CheckViolationError:
        raise ValueError("the balance cannot fall below zero") from None
    if found is None:
        raise LookupError(f"no account {account_id}")
    return int(found)


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
