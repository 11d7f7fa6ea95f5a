"""The job rows (``core/jobs.py``'s ``JobStore``), on SQLite and on PostgreSQL: an account sees
only its own jobs, newest first; pollers claim due rows under a lease that two of them never
share, and only the lease's holder may change a row; ended rows go after their expiry."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.storage.conftest import scalar
from unigate.accounts.store import Store
from unigate.core.jobs import GenerationRequest, Job, JobChanges, JobKind, JobStatus, JobStore
from unigate.storage.factory import job_store
from unigate.storage.postgres.store import PostgresStore
from unigate.storage.sqlite.store import SqliteStore

T = 1_700_000_000.0
"""The tests' clock: every time a store is given comes from here, none from its own."""

_ids = iter(range(1, 1_000_000))


def new_job(account_id: int, *, kind: JobKind = JobKind.VIDEO, created: float = T, **fields: object) -> Job:
    number = next(_ids)
    request = GenerationRequest(
        model=f"vendor/model-{number}",
        kind=kind,
        prompt="a cat surfing",
        options={"duration": 5, "aspect_ratio": "16:9"},
        duration_s=5.0,
        variant="720p:silent",
    )
    job = Job(
        id=f"job-{number:06d}",
        account_id=account_id,
        key_id=account_id * 10,
        model=request.model,
        kind=kind,
        request=request.to_json(),
        reservation_id=f"res-{number}",
        reserved=1_000,
        created=created,
        deadline=created + 3600,
        next_at=created,
        updated=created,
    )
    return dataclasses.replace(job, **fields)  # type: ignore[arg-type]


async def account(store: Store) -> int:
    return await store.create_account(name="jobs", credits=0)


async def created(jobs: JobStore, *made: Job) -> list[Job]:
    for job in made:
        await jobs.create_job(job)
    return list(made)


async def test_a_job_is_found_by_its_own_account_only(store: Store) -> None:
    jobs = job_store(store)
    mine, theirs = await account(store), await account(store)
    job = new_job(mine, lease_owner="creator", lease_until=T + 30, submitted=True, callback_url="https://x.test/h")
    await jobs.create_job(job)
    assert await jobs.get_job(job.id, mine) == job
    assert await jobs.get_job(job.id, theirs) is None
    assert await jobs.get_job("job-none", mine) is None
    found = await jobs.get_job(job.id, mine)
    assert found is not None
    assert found.generation == job.generation


async def test_json_columns_round_trip(store: Store) -> None:
    jobs = job_store(store)
    mine = await account(store)
    state = {"status_url": "https://api.test/v1/tasks/9?x=1", "region": "eu", "n": [1, 2.5, None, True]}
    job = new_job(mine, upstream_id="up-9", upstream_state=state, lease_owner="a", lease_until=T + 60)
    job = dataclasses.replace(
        job, request={**job.request, "prompt": 'ünïcødé "quoted" \n', "options": {"seed": 7, "nested": {"a": []}}}
    )
    await jobs.create_job(job)
    assert await jobs.get_job(job.id, mine) == job
    result = {
        "files": {"video": {"file_id": "f" * 40, "content_type": "video/mp4", "size": 12345, "filename": "v.mp4"}},
        "details": {"seed": 42, "timings": {"inference": 3.25}},
        "duration_s": 5.0,
    }
    error = {"name": "UpstreamError", "message": "the upstream said: «no»"}
    changes = JobChanges(
        status=JobStatus.COMPLETED, upstream_state={"k": "v"}, result=result, error=error, charged=900, ended=T + 9
    )
    assert await jobs.update_job(job.id, "a", changes, now=T + 10)
    found = await jobs.get_job(job.id, mine)
    assert found is not None
    assert (found.upstream_state, found.result, found.error) == ({"k": "v"}, result, error)
    assert (found.status, found.charged, found.ended, found.updated) == (JobStatus.COMPLETED, 900, T + 9, T + 10)
    assert found.request == job.request


async def test_an_accounts_jobs_are_listed_newest_first_by_kind(store: Store) -> None:
    jobs = job_store(store)
    mine, theirs = await account(store), await account(store)
    made = await created(
        jobs,
        new_job(mine, created=T + 1),
        new_job(mine, kind=JobKind.MUSIC, created=T + 3),
        new_job(mine, created=T + 2),
        new_job(mine, kind=JobKind.THREE_D, created=T + 4),
        new_job(theirs, created=T + 5),
    )
    assert [j.id for j in await jobs.list_jobs(mine)] == [made[i].id for i in (3, 1, 2, 0)]
    assert [j.id for j in await jobs.list_jobs(mine, limit=2)] == [made[3].id, made[1].id]
    assert [j.id for j in await jobs.list_jobs(mine, kind=JobKind.VIDEO)] == [made[2].id, made[0].id]
    assert [j.id for j in await jobs.list_jobs(mine, kind=JobKind.MUSIC)] == [made[1].id]
    assert [j.id for j in await jobs.list_jobs(theirs)] == [made[4].id]
    assert await jobs.list_jobs(await account(store)) == []


async def test_only_due_free_unended_rows_are_claimed_oldest_first(store: Store) -> None:
    jobs = job_store(store)
    mine = await account(store)
    due_late, due_early, due_now = await created(
        jobs,
        new_job(mine, next_at=T - 5),
        new_job(mine, next_at=T - 50),
        new_job(mine, next_at=T),
    )
    await created(
        jobs,
        new_job(mine, next_at=T + 1),  # not yet due
        new_job(mine, next_at=T - 9, lease_owner="other", lease_until=T + 1),  # leased
        new_job(mine, next_at=T - 9, phase="done", status=JobStatus.COMPLETED, expires=T + 99),  # ended
    )
    claimed = await jobs.claim_jobs("poller", now=T, lease_s=30, limit=2)
    assert [j.id for j in claimed] == [due_early.id, due_late.id]
    assert all((j.lease_owner, j.lease_until, j.updated) == ("poller", T + 30, T) for j in claimed)
    stored = await jobs.get_job(due_early.id, mine)
    assert stored is not None
    assert (stored.lease_owner, stored.lease_until) == ("poller", T + 30)
    assert [j.id for j in await jobs.claim_jobs("poller", now=T, lease_s=30, limit=10)] == [due_now.id]
    assert await jobs.claim_jobs("poller", now=T, lease_s=30, limit=10) == []


async def test_an_expired_lease_is_claimed_again_and_fences_its_old_holder(store: Store) -> None:
    jobs = job_store(store)
    mine = await account(store)
    (job,) = await created(jobs, new_job(mine, next_at=T))
    assert [j.id for j in await jobs.claim_jobs("a", now=T, lease_s=10, limit=5)] == [job.id]
    assert await jobs.claim_jobs("b", now=T + 5, lease_s=10, limit=5) == []
    assert await jobs.update_job(job.id, "a", JobChanges(attempts=1), now=T + 5)
    taken = await jobs.claim_jobs("b", now=T + 10, lease_s=10, limit=5)
    assert [(j.id, j.lease_owner, j.attempts) for j in taken] == [(job.id, "b", 1)]
    assert not await jobs.update_job(job.id, "a", JobChanges(attempts=2), now=T + 11)
    assert await jobs.update_job(job.id, "b", JobChanges(attempts=3), now=T + 11)
    found = await jobs.get_job(job.id, mine)
    assert found is not None
    assert (found.attempts, found.lease_owner) == (3, "b")


async def test_update_applies_only_under_a_live_lease_of_its_owner(store: Store) -> None:
    jobs = job_store(store)
    mine = await account(store)
    (job,) = await created(jobs, new_job(mine, lease_owner="a", lease_until=T + 30, next_at=T + 30))
    assert not await jobs.update_job(job.id, "b", JobChanges(status=JobStatus.GENERATING), now=T)
    assert not await jobs.update_job(job.id, "a", JobChanges(status=JobStatus.GENERATING), now=T + 30)
    assert not await jobs.update_job("job-none", "a", JobChanges(status=JobStatus.GENERATING), now=T)
    assert await jobs.get_job(job.id, mine) == job

    changes = JobChanges(status=JobStatus.GENERATING, phase="poll", submitted=True, upstream_id="u1", next_at=T + 5)
    assert await jobs.update_job(job.id, "a", changes, now=T + 1)
    assert await jobs.update_job(job.id, "a", JobChanges(lease_until=T + 90), now=T + 2)
    found = await jobs.get_job(job.id, mine)
    assert found is not None
    assert (found.status, found.phase, found.submitted, found.upstream_id, found.next_at) == (
        JobStatus.GENERATING,
        "poll",
        True,
        "u1",
        T + 5,
    )
    # Fields left None stay as they were.
    assert (found.reserved, found.attempts, found.error, found.lease_until, found.updated) == (
        1_000,
        0,
        None,
        T + 90,
        T + 2,
    )

    # clear_lease frees the row (whatever lease_until says) for a claim at next_at, and ends the
    # old holder's right to write.
    assert await jobs.update_job(job.id, "a", JobChanges(clear_lease=True, lease_until=T + 500), now=T + 3)
    found = await jobs.get_job(job.id, mine)
    assert found is not None
    assert (found.lease_owner, found.lease_until) == (None, 0.0)
    assert not await jobs.update_job(job.id, "a", JobChanges(attempts=1), now=T + 4)
    assert await jobs.claim_jobs("b", now=T + 4, lease_s=10, limit=5) == []
    assert [j.lease_owner for j in await jobs.claim_jobs("b", now=T + 5, lease_s=10, limit=5)] == ["b"]


async def test_ended_rows_are_removed_after_their_expiry(store: Store) -> None:
    jobs = job_store(store)
    mine = await account(store)

    def ended(expires: float) -> Job:
        return new_job(mine, phase="done", status=JobStatus.COMPLETED, ended=T - 100, expires=expires)

    old, older, fresh, running = await created(
        jobs,
        ended(T - 1),
        ended(T - 2),
        ended(T + 1),
        new_job(mine, phase="callback", status=JobStatus.ERROR, expires=T - 5),  # its webhook still due
    )
    assert [j.id for j in await jobs.remove_jobs(now=T, limit=1)] == [older.id]
    removed = await jobs.remove_jobs(now=T)
    assert removed == [old]
    assert await jobs.remove_jobs(now=T) == []
    assert {j.id for j in await jobs.list_jobs(mine)} == {fresh.id, running.id}
    assert [j.id for j in await jobs.remove_jobs(now=T + 1)] == [fresh.id]


async def test_jobs_are_counted_by_status(store: Store) -> None:
    jobs = job_store(store)
    mine = await account(store)
    await created(
        jobs,
        new_job(mine),
        new_job(mine),
        new_job(mine, status=JobStatus.GENERATING),
        new_job(mine, status=JobStatus.ERROR, phase="done"),
    )
    assert await jobs.count_jobs([JobStatus.QUEUED]) == 2
    assert await jobs.count_jobs([JobStatus.QUEUED, JobStatus.GENERATING]) == 3
    assert await jobs.count_jobs([JobStatus.COMPLETED]) == 0
    assert await jobs.count_jobs([]) == 0
    assert await scalar(store, "SELECT COUNT(*) FROM jobs") == 4


@pytest.fixture
async def other(store: Store, request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A second handle on the same jobs: on PostgreSQL another store with its own pool (another
    replica); SQLite's database is one process's, so the same store."""
    if isinstance(store, SqliteStore):
        yield store
        return
    second = PostgresStore(request.getfixturevalue("pg_url"), pool_size=4)
    await second.open()
    yield second
    await second.close()


async def test_concurrent_claimers_never_share_a_row(store: Store, other: Store) -> None:
    jobs, replica = job_store(store), job_store(other)
    mine = await account(store)
    made = await created(jobs, *(new_job(mine, next_at=T - i) for i in range(60)))
    held: dict[str, str] = {}
    for round_ in range(20):
        claims = await asyncio.gather(
            jobs.claim_jobs("a", now=T, lease_s=60, limit=7),
            replica.claim_jobs("b", now=T, lease_s=60, limit=7),
            jobs.claim_jobs("c", now=T, lease_s=60, limit=7),
            replica.claim_jobs("d", now=T, lease_s=60, limit=7),
        )
        for owner, claimed in zip("abcd", claims, strict=True):
            assert len(claimed) <= 7
            for job in claimed:
                assert job.lease_owner == owner
                assert job.id not in held, f"{job.id} claimed by {held.get(job.id)} and {owner} (round {round_})"
                held[job.id] = owner
        if len(held) == len(made):
            break
    assert sorted(held) == sorted(j.id for j in made)
    for job in made:
        stored = await jobs.get_job(job.id, mine)
        assert stored is not None
        assert stored.lease_owner == held[job.id]
    assert len(set(held.values())) > 1


def test_the_accessor_refuses_a_store_without_jobs(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "unigate.db")
    assert job_store(store) is store.jobs
    with pytest.raises(TypeError, match="keeps no generation jobs"):
        job_store(object())  # type: ignore[arg-type]
