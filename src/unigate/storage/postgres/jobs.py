"""Generation jobs on PostgreSQL (``core/jobs.py``'s ``JobStore``), through the store's pool.

Several replicas poll the same table. A claim locks the due rows it takes with ``FOR UPDATE SKIP
LOCKED`` in a CTE and leases them in the ``UPDATE`` that follows, in one statement: a row another
replica is claiming is skipped, not waited for, and one whose lease another replica took since
this statement's snapshot fails the lock's recheck of the ``WHERE``, so two replicas never hold
one row. ``update_job`` applies only where its owner's lease still holds (the row lock makes the
check and the write one step). The sweep skips locked rows the same way, so that two replicas'
sweeps never return (and remove the files of) the same row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from unigate.core.jobs import Job, JobChanges, JobKind, JobStatus
from unigate.storage.job_rows import COLUMNS, JSON_COLUMNS, job_from_row, job_values, set_columns

__all__ = ["PostgresJobs"]

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM jobs"
_RETURNING = f"RETURNING {', '.join(f'j.{c}' for c in COLUMNS)}"


def _placeholder(column: str, number: int) -> str:
    return f"${number}::jsonb" if column in JSON_COLUMNS else f"${number}"


# The JSON columns come back as text (asyncpg's default for jsonb), which job_from_row reads.
_INSERT = (
    f"INSERT INTO jobs ({', '.join(COLUMNS)})"
    f" VALUES ({', '.join(_placeholder(c, n) for n, c in enumerate(COLUMNS, start=1))})"
)

_CLAIM = f"""
WITH due AS (
    SELECT id FROM jobs
    WHERE phase <> 'done' AND next_at <= $2 AND (lease_owner IS NULL OR lease_until <= $2)
    ORDER BY next_at LIMIT $4
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs j SET lease_owner = $1, lease_until = $3, updated = $2 FROM due WHERE j.id = due.id {_RETURNING}
"""

_REMOVE = f"""
WITH gone AS (
    SELECT id FROM jobs WHERE phase = 'done' AND expires <= $1 ORDER BY expires LIMIT $2 FOR UPDATE SKIP LOCKED
)
DELETE FROM jobs j USING gone WHERE j.id = gone.id {_RETURNING}
"""


class PostgresJobs:
    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool

    async def create_job(self, job: Job) -> None:
        await self._pool().execute(_INSERT, *job_values(job))

    async def get_job(self, job_id: str, account_id: int) -> Job | None:
        row = await self._pool().fetchrow(f"{_SELECT} WHERE id = $1 AND account_id = $2", job_id, account_id)
        return None if row is None else job_from_row(row)

    async def list_jobs(self, account_id: int, *, limit: int = 50, kind: JobKind | None = None) -> list[Job]:
        rows = await self._pool().fetch(
            f"{_SELECT} WHERE account_id = $1 AND ($2::text IS NULL OR kind = $2)"
            " ORDER BY created DESC, id DESC LIMIT $3",
            account_id,
            None if kind is None else kind.value,
            limit,
        )
        return [job_from_row(r) for r in rows]

    async def claim_jobs(self, owner: str, *, now: float, lease_s: float, limit: int) -> list[Job]:
        rows = await self._pool().fetch(_CLAIM, owner, float(now), float(now + lease_s), limit)
        # RETURNING gives the rows in no promised order.
        return sorted((job_from_row(r) for r in rows), key=lambda job: (job.next_at, job.created))

    async def update_job(self, job_id: str, owner: str, changes: JobChanges, *, now: float) -> bool:
        columns = set_columns(changes, now=now)
        values: list[Any] = [value for _, value in columns]
        assignments = ", ".join(f"{name} = {_placeholder(name, n)}" for n, (name, _) in enumerate(columns, start=1))
        n = len(values)
        status = await self._pool().execute(
            f"UPDATE jobs SET {assignments} WHERE id = ${n + 1} AND lease_owner = ${n + 2} AND lease_until > ${n + 3}",
            *values,
            job_id,
            owner,
            float(now),
        )
        return bool(status == "UPDATE 1")

    async def remove_jobs(self, *, now: float, limit: int = 500) -> list[Job]:
        rows = await self._pool().fetch(_REMOVE, float(now), limit)
        return [job_from_row(r) for r in rows]

    async def count_jobs(self, statuses: Sequence[JobStatus]) -> int:
        count = await self._pool().fetchval(
            "SELECT COUNT(*) FROM jobs WHERE status = ANY($1::text[])", [JobStatus(s).value for s in statuses]
        )
        return int(count)
