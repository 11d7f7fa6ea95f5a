"""Reservations and the usage ledger on PostgreSQL, beyond the group commit (``batch.py``): the
extension and expiry sweep of reservations, and the ledger's rows, read here for the store and for
the console (``console.py``) alike."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from unigate.accounts.store import UsageQuery, UsageRow

__all__ = ["USAGE_ROWS", "extend_reservations", "release_expired", "usage", "usage_row"]

USAGE_ROWS = (
    "SELECT u.id, u.created_at, u.account_id, u.key_id, COALESCE(k.prefix, '') AS key_prefix, u.model,"
    " u.prompt_tokens, u.completion_tokens, u.credits, u.latency_ms, u.status"
    " FROM usage u LEFT JOIN api_keys k ON k.id = u.key_id"
)
"""The ledger's rows as ``usage_row`` reads them; the caller adds its ``WHERE``, order and limit."""


def usage_row(r: asyncpg.Record) -> UsageRow:
    return UsageRow(
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


async def extend_reservations(pool: asyncpg.Pool, ids: Sequence[str], ttl_s: float) -> None:
    # SKIP LOCKED: a reservation being settled is on its way out, and waiting for its row while
    # holding others could close a cycle with a settlement batch.
    await pool.execute(
        "UPDATE reservations SET expires_at = clock_timestamp() + $2 * interval '1 second'"
        " WHERE id IN (SELECT id FROM reservations WHERE id = ANY($1::text[]) FOR UPDATE SKIP LOCKED)",
        list(ids),
        float(ttl_s),
    )


async def release_expired(pool: asyncpg.Pool, now: datetime | None) -> int:
    released = await pool.fetchval("SELECT unigate_release_expired(COALESCE($1::timestamptz, clock_timestamp()))", now)
    return int(released)


async def usage(pool: asyncpg.Pool, query: UsageQuery) -> list[UsageRow]:
    rows = await pool.fetch(
        f"{USAGE_ROWS} WHERE ($1::bigint IS NULL OR u.account_id = $1) AND ($2::bigint IS NULL OR u.key_id = $2)"
        " AND ($3::bigint IS NULL OR u.id < $3) ORDER BY u.id DESC LIMIT $4",
        query.account_id,
        query.key_id,
        query.after,
        query.limit,
    )
    return [usage_row(r) for r in rows]
