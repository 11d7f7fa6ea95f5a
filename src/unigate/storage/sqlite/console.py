"""The console's sessions and ledger reports on SQLite (``accounts/console_views.py``).

Reads run on the store's connection, like the store's own; the session writes are single
statements, each its own transaction.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

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
from unigate.storage.sqlite.ledger import USAGE_ROWS, usage_row
from unigate.storage.sqlite.timestamps import iso, now

__all__ = ["SqliteConsole"]


def _where(f: UsageFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = ["u.created_at >= ?"]
    args: list[Any] = [iso(f.since)]
    for column, value in (
        ("u.account_id", f.account_id),
        ("u.key_id", f.key_id),
        ("u.model", f.model),
        ("u.status", f.status),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    return " AND ".join(clauses), args


_VALID_SESSION = """
SELECT s.kind, s.key_prefix, s.csrf, s.expires_at FROM console_sessions s
WHERE s.id = ? AND s.expires_at > ? AND (
    (s.kind = 'management' AND s.credential = (SELECT v FROM meta WHERE k = 'management_key'))
    OR (s.kind = 'key' AND EXISTS (
        SELECT 1 FROM api_keys k WHERE k.prefix = s.key_prefix AND k.digest = s.credential
            AND k.disabled = 0 AND k.deleted_at IS NULL)))
"""


class SqliteConsole:
    def __init__(self, db: Callable[[], sqlite3.Connection]) -> None:
        self._db = db

    async def create_session(
        self, *, kind: SessionKind, key_prefix: str | None, credential: str, ttl_s: float
    ) -> tuple[str, Session]:
        created = now()
        token, session = new_session(kind=kind, key_prefix=key_prefix, ttl_s=ttl_s, now=created)
        self._db().execute(
            "INSERT INTO console_sessions (id, kind, key_prefix, credential, csrf, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (session.id, kind, key_prefix, credential, session.csrf, iso(created), iso(session.expires_at)),
        )
        return token, session

    async def session(self, token: str) -> Session | None:
        sid = session_id(token)
        row = self._db().execute(_VALID_SESSION, (sid, iso(now()))).fetchone()
        if row is None:
            return None
        return Session(sid, row[0], row[1], row[2], datetime.fromisoformat(row[3]))

    async def delete_session(self, token: str) -> None:
        self._db().execute("DELETE FROM console_sessions WHERE id = ?", (session_id(token),))

    async def purge_sessions(self) -> int:
        return self._db().execute("DELETE FROM console_sessions WHERE expires_at <= ?", (iso(now()),)).rowcount

    async def usage_report(self, where: UsageFilter) -> UsageReport:
        db = self._db()
        clause, args = _where(where)
        days = [
            DayTotal(day, requests, errors, credits)
            for day, requests, errors, credits in db.execute(
                "SELECT substr(u.created_at, 1, 10) AS day, COUNT(*), SUM(u.status = 'error'), SUM(u.credits)"
                f" FROM usage u WHERE {clause} GROUP BY day ORDER BY day",
                args,
            )
        ]
        latencies: dict[str, list[int]] = defaultdict(list)
        every: list[int] = []
        for model, latency in db.execute(
            f"SELECT u.model, u.latency_ms FROM usage u WHERE {clause} AND u.status = 'ok' ORDER BY u.id DESC LIMIT ?",
            [*args, LATENCY_SAMPLE],
        ):
            latencies[model].append(latency)
            every.append(latency)
        models = [
            ModelTotal(model, requests, errors, credits, prompt, completion, percentiles(latencies.get(model, [])))
            for model, requests, errors, credits, prompt, completion in db.execute(
                "SELECT u.model, COUNT(*), SUM(u.status = 'error'), SUM(u.credits), SUM(u.prompt_tokens),"
                f" SUM(u.completion_tokens) FROM usage u WHERE {clause} GROUP BY u.model ORDER BY SUM(u.credits) DESC,"
                " COUNT(*) DESC",
                args,
            )
        ]
        return UsageReport(days, models, percentiles(every))

    async def usage_rows(self, where: UsageFilter, *, after: int | None = None, limit: int = 50) -> list[UsageRow]:
        clause, args = _where(where)
        if after is not None:
            clause += " AND u.id < ?"
            args.append(after)
        rows = self._db().execute(f"{USAGE_ROWS} WHERE {clause} ORDER BY u.id DESC LIMIT ?", [*args, limit]).fetchall()
        return [usage_row(r) for r in rows]

    async def total_balance(self) -> tuple[int, int]:
        count, credits = self._db().execute("SELECT COUNT(*), COALESCE(SUM(balance), 0) FROM accounts").fetchone()
        return int(count), int(credits)
