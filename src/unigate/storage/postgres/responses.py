"""Stored responses on PostgreSQL (``core/responses.py``'s ``ResponseStore``), through the
store's pool. Several replicas' keepers sweep the same table: the sweep of abandoned rows locks
the rows it ends with ``FOR UPDATE SKIP LOCKED``, and its ``UPDATE`` checks the status again
under the lock, so two replicas never end (and settle) one row. A chain is one recursive query."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import asyncpg

from unigate.core.responses import ResponseStatus, StoredResponse
from unigate.storage.response_rows import COLUMNS, JSON_COLUMNS, RUNNING_SQL, dump, response_from_row, response_values

__all__ = ["PostgresResponses"]

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM responses"
_INSERT = (
    f"INSERT INTO responses ({', '.join(COLUMNS)}) VALUES ("
    + ", ".join(f"${n}::jsonb" if c in JSON_COLUMNS else f"${n}" for n, c in enumerate(COLUMNS, start=1))
    + ")"
)
_CHAIN = f"""
WITH RECURSIVE chain(id, previous_id, depth) AS (
    SELECT id, previous_id, 0 FROM responses WHERE id = $1 AND account_id = $2
    UNION ALL
    SELECT r.id, r.previous_id, chain.depth + 1 FROM responses r JOIN chain ON r.id = chain.previous_id
    WHERE r.account_id = $2 AND chain.depth + 1 < $3
)
SELECT {", ".join(f"r.{c}" for c in COLUMNS)} FROM chain JOIN responses r ON r.id = chain.id ORDER BY chain.depth DESC
"""
_ABANDONED = f"""
WITH due AS (
    SELECT id FROM responses WHERE {RUNNING_SQL} AND lease_until < $1
    ORDER BY lease_until LIMIT $3 FOR UPDATE SKIP LOCKED
)
UPDATE responses r SET status = 'failed', error = $2::jsonb, ended = $1, lease_owner = NULL, lease_until = 0
FROM due WHERE r.id = due.id AND r.{RUNNING_SQL} AND r.lease_until < $1
RETURNING {", ".join(f"r.{c}" for c in COLUMNS)}
"""
_REMOVE = f"""
WITH gone AS (
    SELECT id FROM responses WHERE expires <= $1 AND NOT ({RUNNING_SQL})
    ORDER BY expires LIMIT $2 FOR UPDATE SKIP LOCKED
)
DELETE FROM responses r USING gone WHERE r.id = gone.id
"""


def _count(status: str) -> int:
    """The row count of an ``UPDATE n`` / ``DELETE n`` command status."""
    return int(status.rsplit(" ", 1)[-1])


class PostgresResponses:
    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool

    async def create_response(self, row: StoredResponse) -> None:
        await self._pool().execute(_INSERT, *response_values(row))

    async def get_response(self, response_id: str, account_id: int) -> StoredResponse | None:
        row = await self._pool().fetchrow(f"{_SELECT} WHERE id = $1 AND account_id = $2", response_id, account_id)
        return None if row is None else response_from_row(row)

    async def response_chain(self, response_id: str, account_id: int, *, limit: int) -> list[StoredResponse]:
        rows = await self._pool().fetch(_CHAIN, response_id, account_id, limit)
        return [response_from_row(r) for r in rows]

    async def keep_responses(self, ids: Sequence[str], *, until: float) -> None:
        if ids:
            await self._pool().execute(
                "UPDATE responses SET expires = $1 WHERE expires < $1 AND id = ANY($2::text[])", float(until), list(ids)
            )

    async def delete_response(self, response_id: str, account_id: int) -> bool:
        status = await self._pool().execute(
            "DELETE FROM responses WHERE id = $1 AND account_id = $2", response_id, account_id
        )
        return _count(status) == 1

    async def start_response(self, response_id: str, owner: str, *, now: float) -> bool:
        status = await self._pool().execute(
            "UPDATE responses SET status = 'in_progress' WHERE id = $1 AND lease_owner = $2 AND status = 'queued'",
            response_id,
            owner,
        )
        return _count(status) == 1

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
        result = await self._pool().execute(
            "UPDATE responses SET status = $3, body = COALESCE($4::jsonb, body), error = $5::jsonb, ended = $6,"
            f" lease_owner = NULL, lease_until = 0 WHERE id = $1 AND lease_owner = $2 AND {RUNNING_SQL}",
            response_id,
            owner,
            status,
            dump(body),
            dump(error),
            float(now),
        )
        return _count(result) == 1

    async def cancel_response(self, response_id: str, account_id: int, *, now: float) -> bool:
        result = await self._pool().execute(
            "UPDATE responses SET status = 'cancelled', ended = $3"
            f" WHERE id = $1 AND account_id = $2 AND background AND {RUNNING_SQL}",
            response_id,
            account_id,
            float(now),
        )
        return _count(result) == 1

    async def renew_responses(self, owner: str, ids: Sequence[str], *, until: float) -> None:
        if ids:
            await self._pool().execute(
                f"UPDATE responses SET lease_until = $2 WHERE lease_owner = $1 AND {RUNNING_SQL}"
                " AND id = ANY($3::text[])",
                owner,
                float(until),
                list(ids),
            )

    async def response_statuses(self, ids: Sequence[str]) -> dict[str, ResponseStatus]:
        if not ids:
            return {}
        rows = await self._pool().fetch("SELECT id, status FROM responses WHERE id = ANY($1::text[])", list(ids))
        return {row[0]: cast(ResponseStatus, row[1]) for row in rows}

    async def fail_abandoned(self, *, now: float, error: Mapping[str, Any], limit: int = 100) -> list[StoredResponse]:
        rows = await self._pool().fetch(_ABANDONED, float(now), dump(error), limit)
        return [response_from_row(r) for r in rows]

    async def remove_responses(self, *, now: float, limit: int = 500) -> int:
        return _count(await self._pool().execute(_REMOVE, float(now), limit))
