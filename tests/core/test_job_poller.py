"""The job flow and its pollers on a clock the test moves: what is reserved, settled and stored
for each way a job can end, deadlines, leases lost and taken over, a submitter that died, and
two pollers on one store never doing one step twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.core.media_doubles import MemoryMediaStore, TableDownloader
from tests.core.memory_jobs import MemoryJobs
from unigate.accounts.store import ApiKey, KeySettings
from unigate.accounts.usage import UsageQuery
from unigate.catalog.catalog import Catalog
from unigate.core.gateway import Gateway
from unigate.core.job_flow import JobGateway
from unigate.core.job_poller import JobPoller
from unigate.core.jobs import GenerationRequest, Job, JobKind, JobStatus, JobStore, Submitted
from unigate.core.media import Blob
from unigate.core.media_flow import MediaGateway
from unigate.core.services import Capabilities, Service, Services
from unigate.errors import InvalidRequest, PermissionDenied, UpstreamError
from unigate.providers.fake_jobs import FAKE_JOB_MODELS, FAKE_VIDEO_URL, FakeJobs, fake_video
from unigate.storage.sqlite.store import SqliteStore

pytestmark = pytest.mark.asyncio


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(self, store: SqliteStore, jobs: JobStore, clock: Clock) -> None:
        self.store, self.jobs, self.clock = store, jobs, clock
        self.video, self.music, self.three_d = (
            FakeJobs(clock=clock),
            FakeJobs(inline=True, clock=clock),
            FakeJobs(clock=clock),
        )
        capabilities = Capabilities(video=self.video, music=self.music, three_d=self.three_d)
        services = Services([Service("fake", capabilities.modalities(), capabilities)])
        self.gateway = Gateway(catalog=Catalog(list(FAKE_JOB_MODELS)), services=services, store=store)
        self.files = MemoryMediaStore()
        downloader = TableDownloader({FAKE_VIDEO_URL: Blob(fake_video(5), "video/mp4", "v.mp4")})
        self.media = MediaGateway(self.gateway, self.files, downloader, max_download_bytes=1 << 20)

    def replica(self, name: str, *, lease_s: float = 60.0) -> JobGateway:
        return JobGateway(self.media, self.jobs, replica=name, lease_s=lease_s, retention_s=3600.0, clock=self.clock)

    async def key(self, credits: int = 1_000_000, scopes: tuple[str, ...] = ()) -> ApiKey:
        account = await self.store.create_account(name="t", credits=credits)
        key, _ = await self.store.create_key(account_id=account, name="t", settings=KeySettings(scopes=scopes))
        return key

    async def balance(self, key: ApiKey) -> int:
        return await self.store.balance(key.account_id)

    async def rows(self, key: ApiKey) -> list[tuple[Any, ...]]:
        rows = await self.store.usage(UsageQuery(account_id=key.account_id))
        return [(r.model, r.credits, r.status) for r in reversed(rows)]

    async def run(self, poller: JobPoller, seconds: float = 1.0, step: float = 0.1) -> None:
        """Move the clock ``seconds`` in ``step``s, letting the poller take what is due each time."""
        for _ in range(round(seconds / step)):
            self.clock.now += step
            await poller.claim_once()
            await poller.drain()


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    store = SqliteStore(tmp_path / "jobs.db")
    await store.open()
    yield Harness(store, MemoryJobs(), Clock())
    await store.close()


def _video(prompt: str = "a wave", **options: Any) -> GenerationRequest:
    return GenerationRequest("fake/video", JobKind.VIDEO, prompt, options, duration_s=5.0)


async def _row(harness: Harness, job: Job) -> Job:
    found = await harness.jobs.get_job(job.id, job.account_id)
    assert found is not None
    return found


async def test_a_job_is_recorded_reserved_and_settled_once(harness: Harness) -> None:
    key = await harness.key()
    flow = harness.replica("a")
    job = await flow.create(_video("WAIT:2"), key)
    assert job.status is JobStatus.QUEUED
    assert job.phase == "poll"
    assert job.lease_owner is None  # given back once the upstream took it
    assert await harness.balance(key) == 1_000_000 - 5_000  # reserved
    poller = JobPoller(flow)
    await harness.run(poller, 1.5)
    assert (await _row(harness, job)).status is JobStatus.GENERATING
    await harness.run(poller, 1.0)
    done = await _row(harness, job)
    assert done.status is JobStatus.COMPLETED
    assert done.phase == "done"
    assert done.charged == 5_000
    assert done.result is not None
    assert set(done.result["files"]) == {"video"}
    assert await harness.balance(key) == 1_000_000 - 5_000
    assert await harness.rows(key) == [("fake/video", 5_000, "ok")]
    assert harness.video.submissions == [job.id]
    await harness.run(poller, 2.0)  # nothing more to do: nothing more is asked or charged
    polls = harness.video.polls
    await harness.run(poller, 2.0)
    assert harness.video.polls == polls
    assert await harness.rows(key) == [("fake/video", 5_000, "ok")]


async def test_the_reservation_outlives_the_sweep_of_dead_requests(harness: Harness) -> None:
    key = await harness.key()
    flow = harness.replica("a")
    job = await flow.create(_video("WAIT:1000"), key)
    assert job.reservation_id not in harness.gateway.held  # the row holds it, not this process
    released = await harness.store.release_expired()  # the sweep, now: the job's reservation is not dead
    assert released == 0
    assert await harness.balance(key) == 1_000_000 - 5_000


async def test_a_job_past_its_deadline_fails_and_is_refunded(harness: Harness) -> None:
    key = await harness.key()
    flow = harness.replica("a")
    job = await flow.create(_video("WAIT:100000"), key)
    poller = JobPoller(flow)
    await harness.run(poller, 2.0)
    harness.clock.now = job.deadline + 1
    await harness.run(poller, 40.0, step=1.0)
    done = await _row(harness, job)
    assert done.status is JobStatus.ERROR
    assert done.error is not None
    assert done.error["name"] == "Timeout"
    assert await harness.balance(key) == 1_000_000
    assert await harness.rows(key) == [("fake/video", 0, "error")]


async def test_a_file_at_an_upstream_url_is_fetched_and_stored(harness: Harness) -> None:
    key = await harness.key()
    flow = harness.replica("a")
    job = await flow.create(_video("URL"), key)
    await harness.run(JobPoller(flow), 1.0)
    done = await _row(harness, job)
    assert done.status is JobStatus.COMPLETED
    assert done.result is not None
    stored = done.result["files"]["video"]
    assert stored["content_type"] == "video/mp4"
    file = await harness.files.stat(stored["file_id"])
    assert file is not None
    assert file.owner == str(key.account_id)


async def test_a_submitter_that_died_leaves_a_refunded_error_not_a_second_job(harness: Harness) -> None:
    key = await harness.key()
    flow = harness.replica("a")
    job = await flow.create(_video("WAIT:1"), key)
    # As if the process had died within the upstream call: the row still says it is being submitted.
    harness.jobs.rows[job.id] = replace(  # type: ignore[attr-defined]
        await _row(harness, job), phase="submit", lease_owner="a", lease_until=harness.clock.now + 60
    )
    other = harness.replica("b")
    poller = JobPoller(other)
    await harness.run(poller, 30.0, step=1.0)
    assert (await _row(harness, job)).phase == "submit"  # the lease still holds
    await harness.run(poller, 40.0, step=1.0)
    done = await _row(harness, job)
    assert done.status is JobStatus.ERROR
    assert done.error is not None
    assert done.error["name"] == "GatewayRestarted"
    assert harness.video.submissions == [job.id]  # never sent again
    assert await harness.balance(key) == 1_000_000


async def test_an_inline_runner_is_marked_submitted_before_its_call(harness: Harness) -> None:
    key = await harness.key()
    flow = harness.replica("a")
    job = await flow.create(GenerationRequest("fake/music", JobKind.MUSIC, "WAIT:0"), key)
    assert job.phase == "submit"
    assert not job.submitted
    assert job.lease_owner is None
    await harness.run(JobPoller(flow), 0.5)
    done = await _row(harness, job)
    assert done.status is JobStatus.COMPLETED
    assert done.charged == 5_000
    assert harness.music.submissions == [job.id]


async def test_a_replica_that_lost_its_lease_changes_nothing(harness: Harness) -> None:
    key = await harness.key()
    a, b = harness.replica("a", lease_s=10), harness.replica("b", lease_s=10)
    job = await a.create(_video("WAIT:0"), key)
    harness.clock.now += 1
    claimed = await harness.jobs.claim_jobs("a", now=harness.clock.now, lease_s=10, limit=10)
    assert [j.id for j in claimed] == [job.id]
    harness.clock.now += 11  # a stalls past its lease; b takes the job and finishes it
    await harness.run(JobPoller(b), 0.5)
    assert (await _row(harness, job)).status is JobStatus.COMPLETED
    # a wakes up and finishes it too: its settlement is the same reservation's (a no-op) and
    # its row update is refused.
    late = await a.conclude(
        claimed[0], await harness.video.poll(_submitted(claimed[0]), FAKE_JOB_MODELS[0]), harness.video
    )
    assert late == claimed[0]  # the row as a had it: nothing of a's was applied
    assert await harness.rows(key) == [("fake/video", 5_000, "ok")]
    assert await harness.balance(key) == 1_000_000 - 5_000


def _submitted(job: Job) -> Submitted:
    return Submitted(job.upstream_id or "", job.upstream_state)


async def test_two_pollers_on_one_store_take_each_step_once(harness: Harness) -> None:
    key = await harness.key(10_000_000)
    a, b = harness.replica("a"), harness.replica("b")
    jobs = [await a.create(_video(f"WAIT:{i % 3}"), key) for i in range(40)]
    pa, pb = JobPoller(a, concurrency=8), JobPoller(b, concurrency=8)
    for _ in range(80):
        harness.clock.now += 0.1
        await asyncio.gather(pa.claim_once(), pb.claim_once())
        await asyncio.gather(pa.drain(), pb.drain())
    rows = [await _row(harness, j) for j in jobs]
    assert all(r.status is JobStatus.COMPLETED for r in rows)
    assert await harness.balance(key) == 10_000_000 - 40 * 5_000
    assert len(await harness.rows(key)) == 40
    assert pa.steps > 0
    assert pb.steps > 0


async def test_refusals_before_anything_is_recorded(harness: Harness) -> None:
    flow = harness.replica("a")
    poor = await harness.key(credits=100)
    with pytest.raises(Exception, match="may cost up to 5000 credits"):
        await flow.create(_video(), poor)
    scoped = await harness.key(scopes=("model:chat",))
    with pytest.raises(PermissionDenied):
        await flow.create(_video(), scoped)
    key = await harness.key()
    with pytest.raises(InvalidRequest):
        await flow.create(_video("REJECT-EARLY"), key)
    with pytest.raises(UpstreamError):
        await flow.create(_video("SUBMIT-FAIL"), key)
    with pytest.raises(InvalidRequest):
        await flow.create(_video("REJECT"), key)
    assert await harness.balance(key) == 1_000_000
    assert all(j.status is JobStatus.ERROR for j in harness.jobs.rows.values())  # type: ignore[attr-defined]
    assert await harness.store.release_expired() == 0  # no reservation left behind


async def test_ended_jobs_are_removed_with_their_files_after_retention(harness: Harness) -> None:
    key = await harness.key()
    flow = harness.replica("a")
    job = await flow.create(_video(), key)
    poller = JobPoller(flow)
    await harness.run(poller, 0.5)
    done = await _row(harness, job)
    assert done.result is not None
    file_id = done.result["files"]["video"]["file_id"]
    harness.clock.now += 3601
    assert await poller.sweep() == 1
    assert await harness.jobs.get_job(job.id, key.account_id) is None
    assert await harness.files.stat(file_id) is None
