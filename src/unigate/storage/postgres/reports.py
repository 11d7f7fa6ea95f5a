"""The service's account reports on PostgreSQL (``accounts/reports.py``), through the store's pool:
the account's ledger, a key's spend and request rows, recent latencies.

A key's rows are found through the ledger's ``(key_id, created_at)`` index, an account's through
its ``(account_id, id)`` index; days are cut by the server's own time zones (``AT TIME ZONE``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from unigate.accounts.reports import (
    Grouping,
    KeySpend,
    KeyWindow,
    LatencySample,
    LogQuery,
    LogRow,
    Position,
    Transaction,
    TransactionQuery,
    UsageGroup,
    fold,
    spend_of,
)

__all__ = ["PostgresReports"]

_TRANSACTIONS = """
SELECT at, source, id, kind, credits, model, reference FROM (
    SELECT u.created_at AS at, 0 AS source, u.id AS id, 'MODEL_USAGE' AS kind, -u.credits AS credits,
           u.model AS model, u.request_id AS reference
        FROM usage u
        WHERE u.account_id = $1 AND u.credits > 0
            AND ($2::timestamptz IS NULL OR u.created_at >= $2) AND ($3::timestamptz IS NULL OR u.created_at < $3)
    UNION ALL
    SELECT c.created_at, 1, c.id, c.kind, c.credits, NULL, c.reference
        FROM credit_entries c
        WHERE c.account_id = $1
            AND ($2::timestamptz IS NULL OR c.created_at >= $2) AND ($3::timestamptz IS NULL OR c.created_at < $3)
) AS t
WHERE ($4::text IS NULL OR kind = $4)
    AND ($5::text IS NULL OR ($5 = 'TOPUP' AND credits > 0) OR ($5 = 'CHARGE' AND credits < 0))
    AND ($6::timestamptz IS NULL OR (at, source, id) < ($6, $7::integer, $8::bigint))
ORDER BY at DESC, source DESC, id DESC
LIMIT $9
"""

_KEY_ROWS = "u.key_id = $1 AND u.created_at >= $2 AND u.created_at < $3"

_SUMS = (
    "SUM(u.credits), SUM(u.prompt_tokens), SUM(u.completion_tokens), COUNT(*),"
    " COUNT(*) FILTER (WHERE u.status = 'ok' OR u.credits > 0), COUNT(*) FILTER (WHERE u.status = 'ok')"
)
"""A group's sums in ``UsageGroup``'s order; the fifth is ``charged`` (``reports.charged``)."""


def _window(w: KeyWindow) -> list[Any]:
    return [w.key_id, w.start, w.end]


class PostgresReports:
    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool

    async def transactions(self, query: TransactionQuery) -> list[Transaction]:
        after = query.after
        rows = await self._pool().fetch(
            _TRANSACTIONS,
            query.account_id,
            query.start,
            query.end,
            query.kind,
            query.direction,
            None if after is None else after.at,
            None if after is None else after.source,
            None if after is None else after.id,
            query.limit,
        )
        return [
            Transaction(
                Position(r["at"], r["source"], r["id"]), r["kind"], int(r["credits"]), r["model"], r["reference"]
            )
            for r in rows
        ]

    async def key_spend(self, window: KeyWindow) -> tuple[KeySpend, list[KeySpend]]:
        rows = await self._pool().fetch(
            "SELECT u.model, SUM(u.credits), COUNT(*) FILTER (WHERE u.status = 'ok' OR u.credits > 0)"
            f" FROM usage u WHERE {_KEY_ROWS} GROUP BY u.model",
            *_window(window),
        )
        return spend_of([tuple(r) for r in rows])

    async def usage_groups(self, window: KeyWindow, group_by: Grouping, tz: str) -> list[UsageGroup]:
        if "day" in group_by:
            day = "to_char(u.created_at AT TIME ZONE $4::text, 'YYYY-MM-DD')"
            rows = await self._pool().fetch(
                f"SELECT {day}, u.model, {_SUMS} FROM usage u WHERE {_KEY_ROWS} GROUP BY 1, 2",
                *_window(window),
                tz,
            )
        else:
            rows = await self._pool().fetch(
                f"SELECT NULL::text, u.model, {_SUMS} FROM usage u WHERE {_KEY_ROWS} GROUP BY 2", *_window(window)
            )
        return fold([UsageGroup(*(r[0], r[1], *(int(x) for x in r[2:]))) for r in rows], group_by)

    async def request_log(self, query: LogQuery) -> tuple[list[LogRow], int]:
        clause, args = _KEY_ROWS, _window(query.window)
        if query.models:
            args.append(list(query.models))
            clause += f" AND u.model = ANY(${len(args)}::text[])"
        if query.succeeded is not None:
            clause += " AND u.status = 'ok'" if query.succeeded else " AND u.status <> 'ok'"
        pool = self._pool()
        total = await pool.fetchval(f"SELECT COUNT(*) FROM usage u WHERE {clause}", *args)
        n = len(args)
        rows = await pool.fetch(
            "SELECT u.created_at, u.request_id, u.model, u.status, u.credits, u.prompt_tokens, u.completion_tokens"
            f" FROM usage u WHERE {clause} ORDER BY u.created_at DESC, u.id DESC LIMIT ${n + 1} OFFSET ${n + 2}",
            *args,
            query.limit,
            query.offset,
        )
        return [LogRow(r[0], r[1], r[2], r[3], int(r[4]), r[5], r[6]) for r in rows], int(total)

    async def latency_samples(self, since: datetime, limit: int) -> list[LatencySample]:
        rows = await self._pool().fetch(
            "SELECT model, latency_ms, completion_tokens FROM (SELECT model, latency_ms, completion_tokens, status,"
            " created_at FROM usage ORDER BY id DESC LIMIT $1) AS recent WHERE status = 'ok' AND created_at >= $2",
            limit,
            since,
        )
        return [LatencySample(r[0], r[1], r[2]) for r in rows]
