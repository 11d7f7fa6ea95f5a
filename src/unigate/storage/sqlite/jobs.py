"""Generation jobs on SQLite (``core/jobs.py``'s ``JobStore``), on the store's connection.

Every write is a ``BEGIN IMMEDIATE`` transaction of its own (``connection.py``), run on the loop
thread like the store's other statements, so none interleaves with a group commit (``batch.py``
runs a whole batch in one call). A SQLite database is one process's gateway, so a claim is one
``UPDATE ... WHERE id IN (SELECT ... LIMIT) RETURNING``; its ``WHERE`` checks the lease again all
the same, and ``update_job`` applies only under a lease its owner still holds, as on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from unigate.core.jobs import Job, JobChanges, JobKind, JobStatus
from unigate.storage.job_rows import COLUMNS, job_from_row, job_values, set_columns
from unigate.storage.sqlite.connection import write

__all__ = ["SqliteJobs"]

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM jobs"
_RETURNING = f"RETURNING {', '.join(COLUMNS)}"
_CLAIMABLE = "phase <> 'done' AND next_at <= :now AND (lease_owner IS NULL OR lease_until <= :now)"


class SqliteJobs:
    def __init__(self, db: Callable[[], sqlite3.Connection]) -> None:
        self._db = db

    async def create_job(self, job: Job) -> None:
        db = self._db()
        with write(db):
            db.execute(
                f"INSERT INTO jobs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", job_values(job)
            )

    async def get_job(self, job_id: str, account_id: int) -> Job | None:
        row = self._db().execute(f"{_SELECT} WHERE id = ? AND account_id = ?", (job_id, account_id)).fetchone()
        return None if row is None else job_from_row(row)

    async def list_jobs(self, account_id: int, *, limit: int = 50, kind: JobKind | None = None) -> list[Job]:
        rows = self._db().execute(
            f"{_SELECT} WHERE account_id = ? AND (? IS NULL OR kind = ?) ORDER BY created DESC, id DESC LIMIT ?",
            (account_id, kind and kind.value, kind and kind.value, limit),
        )
        return [job_from_row(r) for r in rows]

    async def claim_jobs(self, owner: str, *, now: float, lease_s: float, limit: int) -> list[Job]:
        db = self._db()
        with write(db):
            rows = db.execute(
                f"UPDATE jobs SET lease_owner = :owner, lease_until = :until, updated = :now WHERE {_CLAIMABLE}"
                f" AND id IN (SELECT id FROM jobs WHERE {_CLAIMABLE} ORDER BY next_at LIMIT :limit) {_RETURNING}",
                {"owner": owner, "until": now + lease_s, "now": now, "limit": limit},
            ).fetchall()
        # RETURNING gives the rows in no promised order.
        return sorted((job_from_row(r) for r in rows), key=lambda job: (job.next_at, job.created))

    async def update_job(self, job_id: str, owner: str, changes: JobChanges, *, now: float) -> bool:
        columns = set_columns(changes, now=now)
        db = self._db()
        with write(db):
            cur = db.execute(
                f"UPDATE jobs SET {', '.join(f'{name} = ?' for name, _ in columns)}"
                " WHERE id = ? AND lease_owner = ? AND lease_until > ?",
                (*(value for _, value in columns), job_id, owner, now),
            )
            return cur.rowcount == 1

    async def remove_jobs(self, *, now: float, limit: int = 500) -> list[Job]:
        db = self._db()
        with write(db):
            rows = db.execute(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE phase = 'done' AND expires <= ?"
                f" ORDER BY expires LIMIT ?) {_RETURNING}",
                (now, limit),
            ).fetchall()
        return [job_from_row(r) for r in rows]

    async def count_jobs(self, statuses: Sequence[JobStatus]) -> int:
        values = [JobStatus(s).value for s in statuses]
        if not values:
            return 0
        row = (
            self._db()
            .execute(f"SELECT COUNT(*) FROM jobs WHERE status IN ({', '.join('?' * len(values))})", values)
            .fetchone()
        )
        return int(row[0])
