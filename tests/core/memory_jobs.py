"""An in-memory ``JobStore`` with the stores' semantics (leases, fencing, due order), for tests of
the job flow that need no database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from unigate.core.jobs import Job, JobChanges, JobKind, JobStatus


class MemoryJobs:
    def __init__(self) -> None:
        self.rows: dict[str, Job] = {}

    async def create_job(self, job: Job) -> None:
        assert job.id not in self.rows
        self.rows[job.id] = job

    async def get_job(self, job_id: str, account_id: int) -> Job | None:
        job = self.rows.get(job_id)
        return job if job is not None and job.account_id == account_id else None

    async def list_jobs(self, account_id: int, *, limit: int = 50, kind: JobKind | None = None) -> list[Job]:
        mine = [j for j in self.rows.values() if j.account_id == account_id and (kind is None or j.kind is kind)]
        return sorted(mine, key=lambda j: j.created, reverse=True)[:limit]

    async def claim_jobs(self, owner: str, *, now: float, lease_s: float, limit: int) -> list[Job]:
        due = [j for j in self.rows.values() if j.phase != "done" and j.next_at <= now and j.lease_until <= now]
        claimed = []
        for job in sorted(due, key=lambda j: j.next_at)[:limit]:
            job = replace(job, lease_owner=owner, lease_until=now + lease_s)
            self.rows[job.id] = job
            claimed.append(job)
        return claimed

    async def update_job(self, job_id: str, owner: str, changes: JobChanges, *, now: float) -> bool:
        job = self.rows.get(job_id)
        if job is None or job.lease_owner != owner or job.lease_until <= now:
            return False
        values = {
            name: getattr(changes, name)
            for name in JobChanges.__dataclass_fields__
            if name != "clear_lease" and getattr(changes, name) is not None
        }
        if changes.clear_lease:
            values |= {"lease_owner": None, "lease_until": 0.0}
        self.rows[job_id] = replace(job, **values, updated=now)
        return True

    async def remove_jobs(self, *, now: float, limit: int = 500) -> list[Job]:
        gone = [j for j in self.rows.values() if j.phase == "done" and j.expires is not None and j.expires < now]
        for job in gone[:limit]:
            del self.rows[job.id]
        return gone[:limit]

    async def count_jobs(self, statuses: Sequence[JobStatus]) -> int:
        return sum(1 for j in self.rows.values() if j.status in statuses)
