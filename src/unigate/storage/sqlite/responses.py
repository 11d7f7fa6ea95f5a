"""Stored responses on SQLite (``core/responses.py``'s ``ResponseStore``), on the store's
connection; every write is a ``BEGIN IMMEDIATE`` transaction of its own (``connection.py``), as
the jobs' are. A chain is one recursive query."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from unigate.core.responses import ResponseStatus, StoredResponse
from unigate.storage.response_rows import COLUMNS, RUNNING_SQL, dump, response_from_row, response_values
from unigate.storage.sqlite.connection import write

__all__ = ["SqliteResponses"]

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM responses"
_RETURNING = f"RETURNING {', '.join(COLUMNS)}"
_INSERT = f"INSERT INTO responses ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_CHAIN = f"""
WITH RECURSIVE chain(id, previous_id, depth) AS (
    SELECT id, previous_id, 0 FROM responses WHERE id = :id AND account_id = :account
    UNION ALL
    SELECT r.id, r.previous_id, chain.depth + 1 FROM responses r JOIN chain ON r.id = chain.previous_id
    WHERE r.account_id = :account AND chain.depth + 1 < :limit
)
SELECT {", ".join(f"r.{c}" for c in COLUMNS)} FROM chain JOIN responses r ON r.id = chain.id ORDER BY chain.depth DESC
"""


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class SqliteResponses:
    def __init__(self, db: Callable[[], sqlite3.Connection]) -> None:
        self._db = db

    async def create_response(self, row: StoredResponse) -> None:
        db = self._db()
        with write(db):
            db.execute(
                f"INSERT INTO responses ({', '.join(COLUMNS)}) VALUES ({_marks(len(COLUMNS))})", response_values(row)
            )

    async def get_response(self, response_id: str, account_id: int) -> StoredResponse | None:
        row = self._db().execute(f"{_SELECT} WHERE id = ? AND account_id = ?", (response_id, account_id)).fetchone()
        return None if row is None else response_from_row(row)

    async def response_chain(self, response_id: str, account_id: int, *, limit: int) -> list[StoredResponse]:
        rows = self._db().execute(_CHAIN, {"id": response_id, "account": account_id, "limit": limit})
        return [response_from_row(r) for r in rows]

    async def keep_responses(self, ids: Sequence[str], *, until: float) -> None:
        if not ids:
            return
        db = self._db()
        with write(db):
            db.execute(
                f"UPDATE responses SET expires = ? WHERE expires < ? AND id IN ({_marks(len(ids))})",
                (until, until, *ids),
            )

    async def delete_response(self, response_id: str, account_id: int) -> bool:
        db = self._db()
        with write(db):
            cur = db.execute("DELETE FROM responses WHERE id = ? AND account_id = ?", (response_id, account_id))
        return cur.rowcount == 1

    async def start_response(self, response_id: str, owner: str, *, now: float) -> bool:
        return self._update(
            "status = 'in_progress'", (), "id = ? AND lease_owner = ? AND status = 'queued'", (response_id, owner)
        )

    async def finish_response(
        self,
        response_id: str,
        owner: str,
        *,
        status: ResponseStatus,
        body: Mapping[str, Any] | None,
        error: Mapping[str, Any] | None,
        now: float,
    ) -> bool:
        return self._update(
            "status = ?, body = COALESCE(?, body), error = ?, ended = ?, lease_owner = NULL, lease_until = 0",
            (status, dump(body), dump(error), now),
            f"id = ? AND lease_owner = ? AND {RUNNING_SQL}",
            (response_id, owner),
        )

    async def cancel_response(self, response_id: str, account_id: int, *, now: float) -> bool:
        return self._update(
            "status = 'cancelled', ended = ?",
            (now,),
            f"id = ? AND account_id = ? AND background = 1 AND {RUNNING_SQL}",
            (response_id, account_id),
        )

    async def renew_responses(self, owner: str, ids: Sequence[str], *, until: float) -> None:
        if ids:
            where = f"lease_owner = ? AND {RUNNING_SQL} AND id IN ({_marks(len(ids))})"
            self._update("lease_until = ?", (until,), where, (owner, *ids))

    async def response_statuses(self, ids: Sequence[str]) -> dict[str, ResponseStatus]:
        if not ids:
            return {}
        rows = self._db().execute(f"SELECT id, status FROM responses WHERE id IN ({_marks(len(ids))})", tuple(ids))
        return {row[0]: cast(ResponseStatus, row[1]) for row in rows}

    async def fail_abandoned(self, *, now: float, error: Mapping[str, Any], limit: int = 100) -> list[StoredResponse]:
        db = self._db()
        due = f"{RUNNING_SQL} AND lease_until < :now"
        with write(db):
            rows = db.execute(
                "UPDATE responses SET status = 'failed', error = :error, ended = :now,"
                " lease_owner = NULL, lease_until = 0"
                f" WHERE {due} AND id IN (SELECT id FROM responses WHERE {due} ORDER BY lease_until LIMIT :limit)"
                f" {_RETURNING}",
                {"now": now, "error": dump(error), "limit": limit},
            ).fetchall()
        return [response_from_row(r) for r in rows]

    async def remove_responses(self, *, now: float, limit: int = 500) -> int:
        db = self._db()
        with write(db):
            cur = db.execute(
                "DELETE FROM responses WHERE id IN (SELECT id FROM responses"
                f" WHERE expires <= ? AND NOT ({RUNNING_SQL}) ORDER BY expires LIMIT ?)",
                (now, limit),
            )
        return cur.rowcount

    def _update(self, assignments: str, values: tuple[Any, ...], where: str, keys: tuple[Any, ...]) -> bool:
        db = self._db()
        with write(db):
            cur = db.execute(f"UPDATE responses SET {assignments} WHERE {where}", (*values, *keys))
        return cur.rowcount >= 1
