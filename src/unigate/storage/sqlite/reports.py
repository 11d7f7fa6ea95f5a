"""The service's account reports on SQLite (``accounts/reports.py``): the account's ledger, a key's
spend and request rows, recent latencies.

A key's rows are found through the ledger's ``(key_id, created_at)`` index, an account's through
its keys (deleted ones included: their rows stay), so no report walks the whole ledger.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

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
    day_bounds,
    fold,
    spend_of,
)
from unigate.storage.sqlite.timestamps import iso

__all__ = ["SqliteReports"]

_TRANSACTIONS = """
SELECT at, source, id, kind, credits, model, reference FROM (
    SELECT u.created_at AS at, 0 AS source, u.id AS id, 'MODEL_USAGE' AS kind, -u.credits AS credits,
           u.model AS model, u.request_id AS reference
        FROM usage u
        WHERE u.key_id IN (SELECT k.id FROM api_keys k WHERE k.account_id = :account) AND u.account_id = :account
            AND u.credits > 0 AND (:start IS NULL OR u.created_at >= :start) AND (:end IS NULL OR u.created_at < :end)
    UNION ALL
    SELECT c.created_at, 1, c.id, c.kind, c.credits, NULL, c.reference
        FROM credit_entries c
        WHERE c.account_id = :account
            AND (:start IS NULL OR c.created_at >= :start) AND (:end IS NULL OR c.created_at < :end)
)
WHERE (:kind IS NULL OR kind = :kind)
    AND (:direction IS NULL OR (:direction = 'TOPUP' AND credits > 0) OR (:direction = 'CHARGE' AND credits < 0))
    AND (:at IS NULL OR at < :at OR (at = :at AND (source < :source OR (source = :source AND id < :id))))
ORDER BY at DESC, source DESC, id DESC
LIMIT :limit
"""

_KEY_ROWS = "u.key_id = ? AND u.created_at >= ? AND u.created_at < ?"

_SUMS = (
    "SUM(u.credits), SUM(u.prompt_tokens), SUM(u.completion_tokens), COUNT(*),"
    " SUM(u.status = 'ok' OR u.credits > 0), SUM(u.status = 'ok')"
)
"""A group's sums in ``UsageGroup``'s order; the fifth is ``charged`` (``reports.charged``)."""


def _window(w: KeyWindow) -> list[Any]:
    return [w.key_id, iso(w.start), iso(w.end)]


class SqliteReports:
    def __init__(self, db: Callable[[], sqlite3.Connection]) -> None:
        self._db = db

    async def transactions(self, query: TransactionQuery) -> list[Transaction]:
        after = query.after
        rows = (
            self._db()
            .execute(
                _TRANSACTIONS,
                {
                    "account": query.account_id,
                    "start": None if query.start is None else iso(query.start),
                    "end": None if query.end is None else iso(query.end),
                    "kind": query.kind,
                    "direction": query.direction,
                    "at": None if after is None else iso(after.at),
                    "source": None if after is None else after.source,
                    "id": None if after is None else after.id,
                    "limit": query.limit,
                },
            )
            .fetchall()
        )
        return [
            Transaction(Position(datetime.fromisoformat(at), source, rid), kind, credits, model, reference)
            for at, source, rid, kind, credits, model, reference in rows
        ]

    async def key_spend(self, window: KeyWindow) -> tuple[KeySpend, list[KeySpend]]:
        rows = (
            self._db()
            .execute(
                f"SELECT u.model, SUM(u.credits), SUM(u.status = 'ok' OR u.credits > 0) FROM usage u WHERE {_KEY_ROWS}"
                " GROUP BY u.model",
                _window(window),
            )
            .fetchall()
        )
        return spend_of(rows)

    async def usage_groups(self, window: KeyWindow, group_by: Grouping, tz: str) -> list[UsageGroup]:
        db = self._db()
        if "day" not in group_by:
            rows = db.execute(
                f"SELECT NULL, u.model, {_SUMS} FROM usage u WHERE {_KEY_ROWS} GROUP BY u.model", _window(window)
            ).fetchall()
        else:
            # The days' bounds in UTC come from Python's zone data: SQLite knows no time zones.
            days = day_bounds(window.start, window.end, tz)
            values = ", ".join("(?, ?, ?)" for _ in days)
            bounds = [x for day, lo, hi in days for x in (day, iso(lo), iso(hi))]
            rows = db.execute(
                f"WITH days(day, lo, hi) AS (VALUES {values}) SELECT d.day, u.model, {_SUMS} FROM usage u"
                f" JOIN days d ON u.created_at >= d.lo AND u.created_at < d.hi WHERE {_KEY_ROWS}"
                " GROUP BY d.day, u.model",
                [*bounds, *_window(window)],
            ).fetchall()
        return fold([UsageGroup(*row) for row in rows], group_by)

    async def request_log(self, query: LogQuery) -> tuple[list[LogRow], int]:
        clause, args = _KEY_ROWS, _window(query.window)
        if query.models:
            clause += f" AND u.model IN ({', '.join('?' for _ in query.models)})"
            args += query.models
        if query.succeeded is not None:
            clause += " AND u.status = 'ok'" if query.succeeded else " AND u.status <> 'ok'"
        db = self._db()
        total = db.execute(f"SELECT COUNT(*) FROM usage u WHERE {clause}", args).fetchone()[0]
        rows = db.execute(
            "SELECT u.created_at, u.request_id, u.model, u.status, u.credits, u.prompt_tokens, u.completion_tokens"
            f" FROM usage u WHERE {clause} ORDER BY u.created_at DESC, u.id DESC LIMIT ? OFFSET ?",
            [*args, query.limit, query.offset],
        ).fetchall()
        return [LogRow(datetime.fromisoformat(r[0]), *r[1:]) for r in rows], int(total)

    async def latency_samples(self, since: datetime, limit: int) -> list[LatencySample]:
        rows = (
            self._db()
            .execute(
                "SELECT model, latency_ms, completion_tokens FROM (SELECT model, latency_ms, completion_tokens, status,"
                " created_at FROM usage ORDER BY id DESC LIMIT ?) WHERE status = 'ok' AND created_at >= ?",
                (limit, iso(since)),
            )
            .fetchall()
        )
        return [LatencySample(*r) for r in rows]
