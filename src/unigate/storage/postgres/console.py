"""The console's sessions and ledger reports on PostgreSQL (``accounts/console_views.py``),
through the store's pool."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from unigate.accounts.console_views import (
    LATENCY_SAMPLE,
    DayTotal,
    ModelTotal,
    Session,
    SessionKind,
    UsageFilter,
    UsageReport,
    new_session,
    percentiles,
    session_id,
)
from unigate.accounts.store import UsageRow
from unigate.storage.postgres.ledger import USAGE_ROWS, usage_row

__all__ = ["PostgresConsole"]


def _where(f: UsageFilter) -> tuple[str, list[Any]]:
    args: list[Any] = [f.since]
    clauses = ["u.created_at >= $1"]
    for column, value in (
        ("u.account_id", f.account_id),
        ("u.key_id", f.key_id),
        ("u.model", f.model),
        ("u.status", f.status),
    ):
        if value is not None:
            args.append(value)
            clauses.append(f"{column} = ${len(args)}")
    return " AND ".join(clauses), args


_VALID_SESSION = """
SELECT s.kind, s.key_prefix, s.csrf, s.expires_at FROM console_sessions s
WHERE s.id = $1 AND s.expires_at > clock_timestamp() AND (
    (s.kind = 'management' AND s.credential = (SELECT v FROM meta WHERE k = 'management_key'))
    OR (s.kind = 'key' AND EXISTS (
        SELECT 1 FROM api_keys k WHERE k.prefix = s.key_prefix AND k.digest = s.credential
            AND NOT k.disabled AND k.deleted_at IS NULL)))
"""


class PostgresConsole:
    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool

    async def create_session(
        self, *, kind: SessionKind, key_prefix: str | None, credential: str, ttl_s: float
    ) -> tuple[str, Session]:
        token, session = new_session(kind=kind, key_prefix=key_prefix, ttl_s=ttl_s, now=datetime.now(UTC))
        await self._pool().execute(
            "INSERT INTO console_sessions (id, kind, key_prefix, credential, csrf, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            session.id,
            kind,
            key_prefix,
            credential,
            session.csrf,
            session.expires_at,
        )
        return token, session

    async def session(self, token: str) -> Session | None:
        sid = session_id(token)
        row = await self._pool().fetchrow(_VALID_SESSION, sid)
        if row is None:
            return None
        return Session(sid, row["kind"], row["key_prefix"], row["csrf"], row["expires_at"])

    async def delete_session(self, token: str) -> None:
        await self._pool().execute("DELETE FROM console_sessions WHERE id = $1", session_id(token))

    async def purge_sessions(self) -> int:
        status = await self._pool().execute("DELETE FROM console_sessions WHERE expires_at <= clock_timestamp()")
        return int(status.rsplit(" ", 1)[-1])

    async def usage_report(self, where: UsageFilter) -> UsageReport:
        pool = self._pool()
        clause, args = _where(where)
        day_rows = await pool.fetch(
            "SELECT to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, COUNT(*) AS requests,"
            " COUNT(*) FILTER (WHERE u.status = 'error') AS errors, SUM(u.credits) AS credits"
            f" FROM usage u WHERE {clause} GROUP BY day ORDER BY day",
            *args,
        )
        latency_rows = await pool.fetch(
            f"SELECT u.model, u.latency_ms FROM usage u WHERE {clause} AND u.status = 'ok'"
            f" ORDER BY u.id DESC LIMIT ${len(args) + 1}",
            *args,
            LATENCY_SAMPLE,
        )
        latencies: dict[str, list[int]] = defaultdict(list)
        for row in latency_rows:
            latencies[row["model"]].append(row["latency_ms"])
        model_rows = await pool.fetch(
            "SELECT u.model, COUNT(*) AS requests, COUNT(*) FILTER (WHERE u.status = 'error') AS errors,"
            " SUM(u.credits) AS credits, SUM(u.prompt_tokens) AS prompt, SUM(u.completion_tokens) AS completion"
            f" FROM usage u WHERE {clause} GROUP BY u.model ORDER BY SUM(u.credits) DESC, COUNT(*) DESC",
            *args,
        )
        models = [
            ModelTotal(
                r["model"],
                r["requests"],
                r["errors"],
                int(r["credits"]),
                int(r["prompt"]),
                int(r["completion"]),
                percentiles(latencies.get(r["model"], [])),
            )
            for r in model_rows
        ]
        days = [DayTotal(r["day"], r["requests"], r["errors"], int(r["credits"])) for r in day_rows]
        every = [r["latency_ms"] for r in latency_rows]
        return UsageReport(days, models, percentiles(every))

    async def usage_rows(self, where: UsageFilter, *, after: int | None = None, limit: int = 50) -> list[UsageRow]:
        clause, args = _where(where)
        if after is not None:
            args.append(after)
            clause += f" AND u.id < ${len(args)}"
        args.append(limit)
        rows = await self._pool().fetch(f"{USAGE_ROWS} WHERE {clause} ORDER BY u.id DESC LIMIT ${len(args)}", *args)
        return [usage_row(r) for r in rows]

    async def total_balance(self) -> tuple[int, int]:
        row = await self._pool().fetchrow("SELECT COUNT(*) AS n, COALESCE(SUM(balance), 0) AS credits FROM accounts")
        assert row is not None
        return int(row["n"]), int(row["credits"])
